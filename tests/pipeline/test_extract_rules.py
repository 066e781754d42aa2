"""framewatch's own extraction rules on tiny inputs: title cleaning, the repeated headline,
the page's metadata, and how they come together in extract_article."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.extract import (
    clean_text,
    clean_title,
    drop_leading_headline,
    extract_article,
    host_names,
    parse_html,
    read_meta,
)
from pipeline.records import FetchedPage

FETCHED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BODY = [
    "Der Stadtrat hat am Dienstagabend über die Zukunft des alten Hallenbads beraten und "
    "dabei drei Vorschläge der Verwaltung ausführlich diskutiert.",
    "Eine Mehrheit sprach sich dafür aus, das Gebäude zu sanieren und künftig auch für "
    "Schulklassen und Vereine aus den Nachbarorten zu öffnen.",
    "Die Kosten schätzt die Verwaltung auf rund vier Millionen Euro; ein Teil soll aus "
    "Fördermitteln des Landes kommen, über die im Frühjahr entschieden wird.",
]


def article_page(head: str = "", headline: str = "Hallenbad wird saniert") -> str:
    """A small but complete article page with ``head`` added to its <head>."""
    paragraphs = "".join(f"<p>{p}</p>" for p in BODY)
    return (
        f"<html lang='de-DE'><head><title>{headline}</title>{head}</head><body>"
        "<nav><a href='/'>Start</a></nav>"
        f"<article><h1>{headline}</h1>{paragraphs}</article></body></html>"
    )


def fetched(
    html: str, url: str = "https://www.kurier.example/lokales/hallenbad-1.html"
) -> FetchedPage:
    """The page as the crawler hands it over, fetched at FETCHED, without a feed date."""
    return FetchedPage("kurier", url, url, html, "utf-8", FETCHED)


# --- title ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "names", "expected"),
    [
        ("Das harte Geschäft mit dem Tod | MDR.DE", ["mdr.de"], "Das harte Geschäft mit dem Tod"),
        (
            "BIP: Grafiken zur Wirtschaft - WELT",
            ["DIE WELT", "welt.de", "welt"],
            "BIP: Grafiken zur Wirtschaft",
        ),
        ("Sanktionen – ZEIT ONLINE", ["ZEIT ONLINE"], "Sanktionen"),
        ("tagesschau.de | Zwei Rücktritte", ["tagesschau.de"], "Zwei Rücktritte"),
        ("Meteorit | NDR.de - Nachrichten - Schleswig-Holstein", ["ndr.de"], "Meteorit"),
        # the headline's own dash and colon stay; so does an affix that is not the site
        (
            "Zwei Rücktritte - und viele offene Fragen",
            ["tagesschau.de"],
            "Zwei Rücktritte - und viele offene Fragen",
        ),
        (
            "Landkreis - Fahrradklima - SZ.de",
            ["Süddeutsche.de"],
            "Landkreis - Fahrradklima - SZ.de",
        ),
        ("WELT: Die Lage am Abend", ["welt"], "WELT: Die Lage am Abend"),
        ("Nur ein Titel", [], "Nur ein Titel"),
        ("WELT", ["welt"], "WELT"),  # only the site name: kept, some title beats none
        ("WELT | WELT", ["welt"], "WELT"),
        ("  Hallen\u00adbad   wird\u200b saniert ", [], "Hallenbad wird saniert"),
    ],
)
def test_clean_title(title: str, names: list[str], expected: str) -> None:
    assert clean_title(title, names) == expected


SEPARATORS = st.sampled_from([" | ", " - ", " – ", " — ", " · ", " :: ", ": ", "-"])
TITLE_PARTS = st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=4)


@given(
    parts=TITLE_PARTS,
    seps=st.lists(SEPARATORS, min_size=3, max_size=3),
    names=st.lists(st.text(max_size=12), max_size=3),
)
def test_clean_title_never_empties_a_title(
    parts: list[str], seps: list[str], names: list[str]
) -> None:
    title = parts[0] + "".join(sep + part for sep, part in zip(seps, parts[1:], strict=False))
    cleaned = clean_title(title, [*names, *parts])  # any part may be the site's name
    if clean_text(" ".join(title.split())):
        assert cleaned.strip()
    assert len(cleaned) <= len(" ".join(title.split()))  # it only ever cuts


def test_host_names() -> None:
    assert host_names("https://www.welt.de/politik/article1.html") == ["welt.de", "welt"]
    assert host_names("https://roma.repubblica.it/x") == [
        "roma.repubblica.it",
        "roma",
        "repubblica",
    ]
    assert host_names("file:///tmp/page.html") == []


# --- the headline repeated in the text ---------------------------------------------------------


TEXT = "\n".join(BODY)


@pytest.mark.parametrize(
    "head",
    [
        "Hallenbad wird saniert",  # the headline line itself
        "Hallenbad wird saniert!",  # punctuation does not matter
        "Lokales\nHallenbad wird saniert",  # with its kicker on the line above
        "Bäderstreit: Hallenbad wird saniert",  # with an inline kicker
    ],
)
def test_the_leading_headline_is_dropped(head: str) -> None:
    assert drop_leading_headline(f"{head}\n{TEXT}", ["Hallenbad wird saniert"]) == TEXT


def test_a_paragraph_above_the_headline_stays() -> None:
    text = f"{BODY[0]}\nHallenbad wird saniert\n{BODY[1]}"
    assert drop_leading_headline(text, ["Hallenbad wird saniert"]) == f"{BODY[0]}\n{BODY[1]}"


def test_text_without_its_headline_is_unchanged() -> None:
    assert drop_leading_headline(TEXT, ["Hallenbad wird saniert", ""]) == TEXT
    late = "\n".join([*BODY, "x", "y", "Hallenbad wird saniert"])  # not among the first lines
    assert drop_leading_headline(late, ["Hallenbad wird saniert"]) == late


def test_a_sentence_ending_like_a_short_headline_is_not_one() -> None:
    text = f"Die Bürger fragen: Was nun?\n{TEXT}"
    assert drop_leading_headline(text, ["Was nun?"]) == text


# --- the page's own metadata -----------------------------------------------------------------


def test_read_meta() -> None:
    head = (
        '<meta property="og:site_name" content="Kurier">'
        '<meta property="og:title" content="Hallenbad wird saniert | Kurier">'
        '<meta property="article:published_time" content="2026-11-20T18:00:00+01:00">'
        '<link rel="canonical" href="https://www.kurier.example/lokales/hallenbad-1.html">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Bad saniert",'
        ' "datePublished": "2026-11-20T17:59:00+01:00", "publisher": {"name": "Kurier GmbH"}}'
        "</script>"
    )
    meta = read_meta(parse_html(article_page(head)))
    assert meta.site_names == ("Kurier", "Kurier GmbH")
    assert meta.headlines == (
        "Hallenbad wird saniert | Kurier",
        "Bad saniert",
        "Hallenbad wird saniert",
    )
    assert (meta.jsonld_date, meta.meta_date) == (
        "2026-11-20T17:59:00+01:00",
        "2026-11-20T18:00:00+01:00",
    )
    assert meta.canonical == "https://www.kurier.example/lokales/hallenbad-1.html"
    assert meta.lang == "de"


def test_a_relative_canonical_is_no_url() -> None:
    meta = read_meta(parse_html(article_page('<link rel="canonical" href="/lokales/x.html">')))
    assert meta.canonical is None


# --- together in extract_article ---------------------------------------------------------------


def test_jsonld_date_and_site_suffix() -> None:
    head = (
        '<meta property="og:title" content="Hallenbad wird saniert | Kurier">'
        '<meta property="og:site_name" content="Kurier">'
        '<script type="application/ld+json">{"@type": "NewsArticle",'
        ' "datePublished": "2026-11-20T17:59:00+01:00"}</script>'
    )
    article = extract_article(fetched(article_page(head)), "de")
    assert article.title == "Hallenbad wird saniert"
    assert article.text.startswith(BODY[0])  # the <h1> is not repeated in the text
    assert article.date_source == "page:jsonld"
    assert article.published_at == datetime(2026, 11, 20, 16, 59, tzinfo=UTC)
    assert article.published_at is not None and article.published_at.utcoffset() is not None


def test_a_jsonld_date_after_the_fetch_falls_back_to_the_meta_tag() -> None:
    head = (
        '<meta property="article:published_time" content="2026-11-20T18:00:00+01:00">'
        '<script type="application/ld+json">{"@type": "NewsArticle",'
        ' "datePublished": "2026-12-24T18:00:00+01:00"}</script>'
    )
    article = extract_article(fetched(article_page(head)), "de")
    assert (article.published_at, article.date_source) == (
        datetime(2026, 11, 20, 17, 0, tzinfo=UTC),
        "page:meta",
    )


def test_without_structured_dates_htmldate_finds_the_visible_one() -> None:
    html = article_page().replace("<h1>", "<p class='date'>Veröffentlicht am 19.11.2026</p><h1>")
    article = extract_article(fetched(html), "de")
    assert article.date_source == "page:htmldate"
    assert (
        article.published_at is not None and article.published_at.date().isoformat() == "2026-11-19"
    )


def test_a_page_without_any_date_says_none() -> None:
    article = extract_article(fetched(article_page()), "de")
    assert (article.published_at, article.date_source) == (None, "none")


def test_invisible_characters_leave_title_and_text() -> None:
    html = article_page(headline="Hallen\u00adbad wird saniert").replace(
        "Stadtrat", "Stadt\u00adrat"
    )
    article = extract_article(fetched(html), "de")
    assert article.title == "Hallenbad wird saniert"
    assert "Stadtrat" in article.text and "\u00ad" not in article.text
