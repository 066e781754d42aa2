"""Golden pages written for framewatch (tests/fixtures/pages): fictional news in realistic CMS
markup, saved in the encodings the crawler meets (ISO-8859-2, windows-1252 in gzip, UTF-8
with a BOM and no declared charset).

Each ``<name>.json`` was written by hand from what the page's author put in the page (title,
paragraphs, date, author), never from framewatch's output. The pages go through
``extract_file`` exactly as ``framewatch extract FILE`` would run them: raw bytes, no URL and
no declared language, so the URL, the language and the encoding all come from the page.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.extract import extract_file

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"
CASES = sorted(p.stem for p in PAGES.glob("*.json"))


def expected(name: str) -> dict[str, object]:
    """The hand-written expectations of one page."""
    return json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_there_are_golden_pages_in_several_encodings() -> None:
    assert len(CASES) >= 5
    raw = {name: (PAGES / str(expected(name)["file"])).read_bytes() for name in CASES}
    assert raw["en-harbour-gazette"].startswith(b"\xef\xbb\xbf")  # BOM, nothing declared
    assert raw["fr-courrier-du-lac"].startswith(b"\x1f\x8b")  # gzip
    assert "č".encode("iso-8859-2") in raw["hr-posavski-glasnik"]  # not UTF-8 bytes


@pytest.mark.parametrize("name", CASES)
def test_golden_page(name: str) -> None:
    want = expected(name)
    got = extract_file(PAGES / str(want["file"]), url=None, declared_lang=None)
    assert got.error is None
    assert got.url == want["url"]  # the page's canonical link (or og:url)
    assert got.title == want["title"]  # no " | Site name" left
    for paragraph in want["paragraphs"]:  # type: ignore[attr-defined]
        assert paragraph in got.text
    for clutter in want["clutter"]:  # type: ignore[attr-defined]
        assert clutter not in got.text
    assert not got.text.startswith(str(want["title"]))  # the headline is not repeated
    assert got.published_at is not None
    assert datetime.fromisoformat(got.published_at) == datetime.fromisoformat(
        str(want["published"])
    )
    assert got.date_source == want["date_source"]
    assert got.author == want["author"]
    assert got.lang == want["lang"]


@pytest.mark.parametrize("name", CASES)
def test_the_pages_canonical_wins_over_a_given_url_with_tracking(name: str) -> None:
    want = expected(name)
    got = extract_file(PAGES / str(want["file"]), url=f"{want['url']}?utm_source=rss")
    assert got.url == want["url"]  # tracking parameter gone, same canonical
