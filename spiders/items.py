"""Scrapy items: what the crawler process hands to ``pipeline.crawl`` through JSONL files."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PageItem:
    """An article page fetched with status 200."""

    source_id: str
    url: str
    requested_url: str
    html: str
    encoding: str
    fetched_at: str
    feed_title: str
    feed_published: str | None


@dataclass
class LogItem:
    """The outcome of one request (success or failure with its reason), or of a skipped poll.

    ``kind`` is feed, sitemap, homepage or article. ``etag`` and ``last_modified`` are the
    validators a feed or sitemap answered with, kept for the next conditional request.
    """

    source_id: str
    url: str
    kind: str
    status: int | None
    error: str | None
    note: str
    fetched_at: str
    etag: str | None = None
    last_modified: str | None = None
