"""The publication-date rules (pipeline.dates) on tiny inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.dates import (
    DATE_SOURCES,
    choose_date,
    is_article,
    jsonld_article,
    jsonld_objects,
    meta_date,
    parse_date,
    plausible,
)
from pipeline.extract import page_dates, parse_html, read_meta

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-09-29T15:27:29Z", datetime(2024, 9, 29, 15, 27, 29, tzinfo=UTC)),
        ("2023-04-28T19:50:30+0200", datetime(2023, 4, 28, 19, 50, 30, tzinfo=CEST)),
        ("2023-04-28T17:23:42.981+02:00", datetime(2023, 4, 28, 17, 23, 42, 981000, tzinfo=CEST)),
        ("2023-04-28T18:41:00", datetime(2023, 4, 28, 18, 41, tzinfo=UTC)),  # naive: UTC
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),  # a bare day: its midnight
        (" 2024-05-01 ", datetime(2024, 5, 1, tzinfo=UTC)),
    ],
)
def test_iso_dates_are_parsed_as_aware_datetimes(value: str, expected: datetime) -> None:
    assert parse_date(value) == expected
    assert parse_date(value).utcoffset() == expected.utcoffset()  # type: ignore[union-attr]


@pytest.mark.parametrize("value", [None, "", "gestern", "28.04.2023", 20230428, ["2023-04-28"]])
def test_what_is_not_an_iso_date_is_none(value: object) -> None:
    assert parse_date(value) is None


def test_the_future_is_measured_from_the_fetch_with_a_day_of_slack() -> None:
    assert plausible(NOW + timedelta(hours=23), NOW)
    assert not plausible(NOW + timedelta(days=1, minutes=1), NOW)
    assert plausible(datetime(1995, 1, 1, tzinfo=UTC), NOW)
    assert not plausible(datetime(1994, 12, 31, tzinfo=UTC), NOW)


def test_a_plausible_feed_date_wins() -> None:
    feed = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    page = [("page:jsonld", "2026-11-19T08:00:00+01:00")]
    assert choose_date(feed, page, NOW) == (feed, "feed")


def test_a_naive_feed_date_is_utc() -> None:
    assert choose_date(datetime(2026, 11, 20, 9, 30), [], NOW) == (
        datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        "feed",
    )


def test_implausible_evidence_is_skipped_in_order() -> None:
    future_feed = NOW + timedelta(days=30)
    page = [
        ("page:jsonld", "2027-01-01T00:00:00+00:00"),  # after the fetch
        ("page:meta", "1970-01-01T00:00:00Z"),  # before news sites
        ("page:htmldate", "2026-11-21T10:00:00"),
    ]
    assert choose_date(future_feed, page, NOW) == (
        datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
        "page:htmldate",
    )


def test_the_first_plausible_page_source_wins() -> None:
    page = [
        ("page:jsonld", None),
        ("page:meta", "2026-11-20T10:00:00+02:00"),
        ("page:htmldate", "2026-11-19"),
    ]
    assert choose_date(None, page, NOW) == (datetime(2026, 11, 20, 10, 0, tzinfo=CEST), "page:meta")


def test_no_date_at_all_is_none() -> None:
    assert choose_date(None, [("page:jsonld", None), ("page:htmldate", "bald")], NOW) == (
        None,
        "none",
    )


def test_every_source_the_extractor_names_is_documented() -> None:
    meta = read_meta(parse_html("<html><body><p>x</p></body></html>"))
    assert {source for source, _ in page_dates(meta, None)} | {"feed", "none"} == set(DATE_SOURCES)


def test_jsonld_objects_flattens_lists_and_graphs_and_skips_bad_json() -> None:
    scripts = [
        '[{"@type": "BreadcrumbList"}, {"@type": "NewsArticle", "headline": "A"}]',
        '{"@context": "https://schema.org",'
        ' "@graph": [{"@type": "WebPage"}, 3, {"@type": "Person"}]}',
        '{"@type": "NewsArticle", "headline": "broken",}',  # trailing comma: not JSON
        '{"@type": "Article", "headline": "line\nbreak"}',  # raw newline inside a string
    ]
    types = [obj["@type"] for obj in jsonld_objects(scripts)]
    assert types == ["BreadcrumbList", "NewsArticle", "WebPage", "Person", "Article"]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"@type": "NewsArticle"}, True),
        ({"@type": "ReportageNewsArticle"}, True),
        ({"@type": ["WebPage", "Article"]}, True),
        ({"@type": "BlogPosting"}, True),
        ({"@type": "WebPage"}, False),
        ({"@type": "VideoObject"}, False),
        ({"headline": "no type"}, False),
        ({"@type": 7}, False),
    ],
)
def test_article_types(obj: dict[str, object], expected: bool) -> None:
    assert is_article(obj) is expected


def test_the_pages_article_is_the_first_article_typed_object() -> None:
    objects = [
        {"@type": "WebPage", "datePublished": "2026-11-01T00:00:00Z"},
        {
            "@type": "ItemList",  # related stories: other articles' dates, not walked into
            "itemListElement": [{"@type": "NewsArticle", "datePublished": "2020-01-01"}],
        },
        {"@type": "NewsArticle", "datePublished": "2026-11-05T09:30:00+01:00"},
        {"@type": "NewsArticle", "datePublished": "2026-11-06T09:30:00+01:00"},
    ]
    article = jsonld_article(objects)
    assert article is not None and article["datePublished"] == "2026-11-05T09:30:00+01:00"
    assert jsonld_article([{"@type": "WebSite"}]) is None


def test_meta_dates_come_from_open_graph_or_microdata() -> None:
    og = [("og:title", "T"), ("article:published_time", "2026-11-20T10:00:00Z")]
    microdata = [("description", "d"), ("datePublished", "2026-11-19")]
    assert meta_date(og) == "2026-11-20T10:00:00Z"
    assert meta_date(microdata) == "2026-11-19"
    assert meta_date([("article:modified_time", "2026-11-21")]) is None  # not publication
