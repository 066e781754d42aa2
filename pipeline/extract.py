"""Extraction: a fetched page becomes an Article (clean text, title, date, language).

trafilatura extracts the body (it leaves navigation, cookie banners, teaser lists and
comments behind) and htmldate the page's date; the feed's own date wins when it has one,
because feeds state the publication time, pages often only the day.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import trafilatura

from pipeline.language import resolve_language
from pipeline.records import Article, FetchedPage
from pipeline.urls import canonical_url, host_of

MIN_TEXT_CHARS = 200
DATE_PARAMS = {
    "original_date": True,
    "extensive_search": False,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)


class ExtractionError(ValueError):
    """A page that yields no usable article; the message is the reason for fetch_log."""


def article_id(canonical: str) -> str:
    """The article id: a stable hash of the canonical URL."""
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]


def content_hash(text: str) -> str:
    """Hash of the text with case and whitespace normalised, to spot identical copies."""
    normalised = re.sub(r"\s+", " ", text).strip().lower()
    return hashlib.sha1(normalised.encode("utf-8")).hexdigest()


def extract_article(page: FetchedPage, declared_lang: str) -> Article:
    """Extract one page; raise ExtractionError with a reason when it holds no article."""
    doc = trafilatura.bare_extraction(
        page.html,
        url=page.url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        deduplicate=False,
        # trafilatura runs htmldate itself; ask it for the time of day too, so the page's
        # date is found once (and not by a second htmldate pass over the same HTML)
        date_extraction_params=DATE_PARAMS,
    )
    text = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractionError(f"no article text ({len(text)} characters extracted)")
    canonical = _canonical(page.url, getattr(doc, "url", None))
    published, date_source = publication_date(page, getattr(doc, "date", None))
    title = (getattr(doc, "title", None) or page.feed_title or "").strip()
    return Article(
        id=article_id(canonical),
        url=page.url,
        requested_url=page.requested_url,
        canonical_url=canonical,
        source_id=page.source_id,
        lang=resolve_language(f"{title}\n{text}", declared_lang),
        declared_lang=declared_lang,
        title=title,
        text=text,
        author=(getattr(doc, "author", None) or "").strip(),
        published_at=published,
        date_source=date_source,
        fetched_at=page.fetched_at,
        content_hash=content_hash(text),
    )


def _canonical(page_url: str, declared: str | None) -> str:
    """The page's declared canonical URL when it is usable, else the page URL.

    Usable means on the same host and not the site's root: some CMSs declare the home page
    as the canonical of every article, which would make all articles one.
    """
    if declared and host_of(declared) == host_of(page_url) and urlsplit(declared).path.strip("/"):
        return canonical_url(declared)
    return canonical_url(page_url)


def plausible(value: datetime | None, now: datetime | None = None) -> bool:
    """A publication date is plausible if not in the future (1 day slack) nor before 1995."""
    now = now or datetime.now(UTC)
    return value is not None and EARLIEST <= value <= now + timedelta(days=1)


def publication_date(page: FetchedPage, page_date: str | None) -> tuple[datetime | None, str]:
    """The publication time and where it came from: feed, page (htmldate's find, as
    ``page_date``) or none."""
    feed = page.feed_published
    if feed is not None and feed.tzinfo is None:
        feed = feed.replace(tzinfo=UTC)
    if plausible(feed):
        return feed, "feed"
    parsed = _parse(page_date)
    if plausible(parsed):
        return parsed, "page"
    return None, "none"


def _parse(value: str | None) -> datetime | None:
    """Parse htmldate's output (with or without an offset) as an aware datetime."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
