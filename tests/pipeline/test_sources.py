from pathlib import Path

import pytest

from pipeline.sources import SOURCES_DIR, SourcesError, load_sources


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(body, encoding="utf-8")
    return path


ENTRY = "sources:\n  - {id: a, name: A, city: C, country: de, lang: DE, "


def test_bundled_sources_load() -> None:
    demo = load_sources(SOURCES_DIR / "demo.yaml", newsroom="http://127.0.0.1:9")
    assert len(demo) >= 6 and all(s.feeds or s.sitemaps for s in demo)
    assert all(u.startswith("http://127.0.0.1:9/") for s in demo for u in s.feeds)
    real = load_sources(SOURCES_DIR / "epic-cities.yaml")
    assert {s.city for s in real} >= {"Oberhausen", "Brescia", "Lisbon", "Gdańsk", "Sisak"}
    assert not any(s.verified for s in real)


def test_codes_are_normalised(tmp_path: Path) -> None:
    (source,) = load_sources(write(tmp_path, ENTRY + "feeds: ['https://a.example/rss']}\n"))
    assert (source.country, source.lang) == ("DE", "de")


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ("feeds: 'https://a.example/rss'", "must be a list"),
        ("feeds: ['www.a.example/rss']", "not http"),
        ("feeds: ['file:///etc/passwd']", "not http"),
        ("feeds: []", "no feeds, sitemaps or homepages"),
    ],
)
def test_bad_entries_are_refused_with_the_reason(tmp_path: Path, feeds: str, message: str) -> None:
    with pytest.raises(SourcesError, match=message):
        load_sources(write(tmp_path, ENTRY + feeds + "}\n"))


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    line = "  - {id: a, name: A, city: C, country: DE, lang: de, feeds: ['https://a.example/']}\n"
    with pytest.raises(SourcesError, match="duplicate"):
        load_sources(write(tmp_path, "sources:\n" + line + line))


def test_politeness_fields_are_read(tmp_path: Path) -> None:
    body = ENTRY + (
        "feeds: ['https://a.example/rss'], download_timeout: 4, download_maxsize: 500000,"
        " download_delay: 1.5, concurrency: 2, max_retries: 0, allow_private: true}\n"
    )
    (source,) = load_sources(write(tmp_path, body))
    assert source.download_timeout == 4.0 and isinstance(source.download_timeout, float)
    assert source.download_maxsize == 500_000
    assert source.download_delay == 1.5
    assert source.concurrency == 2
    assert source.max_retries == 0  # zero is a value, not "unset"
    assert source.allow_private is True


def test_unset_politeness_fields_mean_the_global_default(tmp_path: Path) -> None:
    (source,) = load_sources(write(tmp_path, ENTRY + "feeds: ['https://a.example/rss']}\n"))
    assert (
        source.download_timeout,
        source.download_maxsize,
        source.download_delay,
        source.concurrency,
        source.max_retries,
    ) == (None, None, None, None, None)
    assert source.allow_private is False and source.homepages == ()


def test_homepages_alone_are_enough(tmp_path: Path) -> None:
    (source,) = load_sources(
        write(tmp_path, ENTRY + "homepages: ['https://a.example/', 'https://b.example/']}\n")
    )
    assert source.homepages == ("https://a.example/", "https://b.example/")
    assert source.feeds == () and source.sitemaps == ()


def test_homepage_shorthand_is_a_one_item_list(tmp_path: Path) -> None:
    (source,) = load_sources(write(tmp_path, ENTRY + "homepage: 'https://a.example/'}\n"))
    assert source.homepages == ("https://a.example/",)


def test_newsroom_template_fills_homepages(tmp_path: Path) -> None:
    body = ENTRY + "homepage: '{newsroom}/a/'}\n"
    (source,) = load_sources(write(tmp_path, body), newsroom="http://127.0.0.1:9")
    assert source.homepages == ("http://127.0.0.1:9/a/",)


FEED = "feeds: ['https://a.example/rss'], "


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (FEED + "download_timeout: 0", "download_timeout must be greater than 0, got 0"),
        (FEED + "download_timeout: -1", "download_timeout must be greater than 0"),
        (FEED + "download_timeout: 'ten'", "download_timeout must be a number, got 'ten'"),
        (FEED + "download_maxsize: 1.5", "download_maxsize must be a whole number, got 1.5"),
        (FEED + "download_maxsize: 0", "download_maxsize must be at least 1, got 0"),
        (FEED + "download_delay: -0.5", "download_delay must be at least 0, got -0.5"),
        (FEED + "concurrency: 0", "concurrency must be at least 1, got 0"),
        (FEED + "concurrency: yes", "concurrency must be a whole number, got True"),
        (FEED + "max_retries: -1", "max_retries must be at least 0, got -1"),
        (FEED + "max_retries: '2'", "max_retries must be a whole number, got '2'"),
        (FEED + "allow_private: 'false'", "allow_private must be true or false, got 'false'"),
        (FEED + "verified: 1", "verified must be true or false, got 1"),
        ("homepages: 'https://a.example/'", "homepages must be a list of URLs"),
        ("homepages: ['a.example']", "homepages has URLs that are not http"),
        ("homepage: 'ftp://a.example/'", "homepages has URLs that are not http"),
        ("homepage: 'https://a.example/', homepages: []", "either homepage or homepages"),
        (FEED + "download_timout: 3", r"unknown fields \['download_timout'\]"),
        ("sitemaps: []", "no feeds, sitemaps or homepages"),
    ],
)
def test_bad_policy_fields_name_entry_and_field(tmp_path: Path, fields: str, message: str) -> None:
    with pytest.raises(SourcesError, match=message) as raised:
        load_sources(write(tmp_path, ENTRY + fields + "}\n"))
    assert "entry 'a'" in str(raised.value)


def test_an_entry_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="must be a mapping"):
        load_sources(write(tmp_path, "sources:\n  - https://a.example/rss\n"))
