"""The publication date of an article: evidence from the feed and the page, in a fixed order.

Where a date comes from is recorded in ``Article.date_source``, one of ``DATE_SOURCES``:

* ``feed``: the feed or sitemap entry's date. Preferred whenever plausible: feeds state the
  publication time with an offset, pages often only the day.
* ``page:jsonld``: ``datePublished`` of the page's schema.org Article (or subtype) in JSON-LD,
  the CMS's own structured field; it nearly always carries the time and offset.
* ``page:meta``: ``<meta property="article:published_time">`` (Open Graph) or an
  ``itemprop="datePublished"`` meta tag.
* ``page:htmldate``: htmldate's find (run by trafilatura), the fallback. htmldate returns
  local wall-clock times without their offset (it drops it), so it comes last: on pages that
  also have JSON-LD its times are hours off.
* ``none``: no plausible date at all.

A date is plausible when it is not before 1995 (before news sites) and not more than a day
after the page was fetched (a page cannot be published after we read it; the day of slack
absorbs time-zone slips). An implausible find is skipped and the next source is tried.
A value without an offset is taken as UTC: its wall-clock day is kept, its instant may be off
by the site's offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.timeutil import as_utc

EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)
SLACK = timedelta(days=1)
DATE_SOURCES = ("feed", "page:jsonld", "page:meta", "page:htmldate", "none")
# schema.org types whose datePublished is the article's; most Article subtypes end in
# "Article" (NewsArticle, ReportageNewsArticle, OpinionNewsArticle, ...), these do not.
ARTICLE_TYPES = frozenset({"BlogPosting", "LiveBlogPosting", "Report"})
META_DATE_KEYS = frozenset({"article:published_time", "og:article:published_time"})


def plausible(value: datetime | None, now: datetime | None = None) -> bool:
    """A publication date is plausible if not in the future (1 day slack) nor before 1995."""
    now = now or datetime.now(UTC)
    return value is not None and EARLIEST <= value <= now + SLACK


def parse_date(value: object) -> datetime | None:
    """An ISO 8601 date or date-time as an aware datetime (UTC when it has no offset)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def choose_date(
    feed: datetime | None, page: Iterable[tuple[str, str | None]], now: datetime
) -> tuple[datetime | None, str]:
    """The first plausible date: the feed's, then the page's ``(source, value)`` in order."""
    feed = as_utc(feed)
    if plausible(feed, now):
        return feed, "feed"
    for source, value in page:
        parsed = parse_date(value)
        if plausible(parsed, now):
            return parsed, source
    return None, "none"


def jsonld_objects(script_texts: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The top-level objects (and ``@graph`` members) of JSON-LD scripts; bad JSON is skipped.

    Nested objects (an ItemList of related articles, say) are not walked into: their dates
    and headlines are other articles'.
    """
    for text in script_texts:
        try:
            data = json.loads(text, strict=False)  # CMSs leave raw newlines inside strings
        except ValueError:
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict):
                graph = item.get("@graph")
                members = graph if isinstance(graph, list) else [item]
                yield from (m for m in members if isinstance(m, dict))


def is_article(obj: dict[str, Any]) -> bool:
    """Whether a JSON-LD object is a schema.org Article (or subtype)."""
    types = obj.get("@type")
    names = types if isinstance(types, list) else [types]
    return any(isinstance(n, str) and (n.endswith("Article") or n in ARTICLE_TYPES) for n in names)


def jsonld_article(objects: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The page's own article object: the first Article-typed one."""
    return next((obj for obj in objects if is_article(obj)), None)


def meta_date(meta: Iterable[tuple[str, str]]) -> str | None:
    """The first publication date stated in ``(property or itemprop, content)`` meta pairs."""
    for key, content in meta:
        if key in META_DATE_KEYS or key == "datePublished":
            return content
    return None
