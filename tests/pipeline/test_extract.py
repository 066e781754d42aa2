"""Golden pages: demo newsroom pages (one in windows-1250) against their authored content."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from w3lib.encoding import html_to_unicode

from pipeline.extract import ExtractionError, content_hash, extract_article, plausible
from pipeline.records import FetchedPage

GOLDEN = Path(__file__).parents[1] / "fixtures" / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))


def page(name: str) -> tuple[FetchedPage, dict[str, object]]:
    """Decode a golden page as the crawler would (scrapy uses w3lib) and load expectations."""
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    raw = (GOLDEN / f"{name}.html").read_bytes()
    encoding, html = html_to_unicode(str(expected["content_type"]), raw)
    fetched = FetchedPage(
        name,
        str(expected["url"]) + "?utm_source=rss",
        str(expected["url"]),
        html,
        encoding,
        datetime(2026, 11, 22, tzinfo=UTC),
    )
    return fetched, expected


@pytest.mark.parametrize("name", CASES)
def test_golden_page(name: str) -> None:
    fetched, expected = page(name)
    article = extract_article(fetched, str(expected["lang"]))
    assert article.title == expected["title"]
    for paragraph in expected["paragraphs"]:  # type: ignore[attr-defined]
        assert paragraph in article.text
    for clutter in [*expected["comments"], *expected["chrome"]]:  # type: ignore[misc]
        assert clutter not in article.text
    assert article.published_at is not None
    assert article.published_at.isoformat() == expected["published"]
    # no feed date given: found in the page itself, in the newsroom's JSON-LD
    assert article.date_source == "page:jsonld"
    assert article.lang == expected["lang"]
    assert article.canonical_url == expected["url"]  # tracking parameter gone


def test_legacy_encoding_is_decoded() -> None:
    fetched, _ = page("gdansk-glos")
    assert fetched.encoding == "cp1250"
    assert any(c in extract_article(fetched, "pl").text for c in "ąęłśżź")


def test_feed_date_wins_over_page_date() -> None:
    fetched, _ = page("brescia-sera")
    feed_time = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    moved = FetchedPage(**{**fetched.__dict__, "feed_published": feed_time})
    article = extract_article(moved, "it")
    assert (article.published_at, article.date_source) == (feed_time, "feed")


def test_page_without_article_text_is_refused_with_a_reason() -> None:
    empty = FetchedPage(
        "s",
        "http://x/",
        "http://x/",
        "<html><body><nav>Home</nav></body></html>",
        "utf-8",
        datetime.now(UTC),
    )
    with pytest.raises(ExtractionError, match="no article text"):
        extract_article(empty, "de")


def test_dates_in_the_future_or_far_past_are_not_plausible() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    assert plausible(datetime(2026, 11, 21, tzinfo=UTC), now)
    assert not plausible(datetime(2027, 1, 1, tzinfo=UTC), now)
    assert not plausible(datetime(1970, 1, 1, tzinfo=UTC), now)


def test_content_hash_ignores_case_and_spacing() -> None:
    assert content_hash("Ein  Text\nhier") == content_hash("ein text hier")


def test_a_canonical_pointing_at_the_home_page_is_ignored() -> None:
    fetched, expected = page("brescia-sera")
    html = fetched.html.replace(
        f'<link rel="canonical" href="{expected["url"]}">',
        '<link rel="canonical" href="http://127.0.0.1:8765/">',
    )
    assert html != fetched.html
    moved = FetchedPage(**{**fetched.__dict__, "html": html})
    assert extract_article(moved, "it").canonical_url == expected["url"]


def test_unsupported_detected_language_falls_back_to_the_outlet() -> None:
    from pipeline.language import SUPPORTED, resolve_language

    text = "Ovo je kratka vijest o gradu i njegovim stanovnicima, napisana za lokalne novine."
    assert resolve_language(text, "hr") in SUPPORTED
    assert resolve_language("??? 123 !!!", "pl") == "pl"  # nothing to detect: declared
