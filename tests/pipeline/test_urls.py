from hypothesis import given
from hypothesis import strategies as st

from pipeline.urls import canonical_url, private_address


def test_tracking_parameters_and_fragment_are_dropped() -> None:
    url = "http://Example.org/a/b.html?utm_source=rss&id=3&fbclid=x#top"
    assert canonical_url(url) == "http://example.org/a/b.html?id=3"


def test_query_order_does_not_matter() -> None:
    assert canonical_url("http://e.org/?b=2&a=1") == canonical_url("http://e.org/?a=1&b=2")


@given(
    st.lists(st.sampled_from(["a", "b", "utm_source", "ref", "page"]), max_size=5),
    st.text(alphabet="abcdef0123456789", max_size=6),
)
def test_canonical_url_is_idempotent(keys: list[str], value: str) -> None:
    url = "https://news.example.org/x?" + "&".join(f"{k}={value}" for k in keys)
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "utm_source" not in once


def test_loopback_and_private_addresses_are_recognised() -> None:
    assert private_address("127.0.0.1") == "127.0.0.1"
    assert private_address("10.1.2.3") == "10.1.2.3"
    assert private_address("169.254.169.254") == "169.254.169.254"
    assert private_address("localhost") is not None
    assert private_address("8.8.8.8") is None
