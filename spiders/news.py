"""The news spider: feeds and sitemaps in, article pages and a fetch log out.

Politeness (robots.txt, per-domain concurrency, AutoThrottle, retries, size and time limits)
is scrapy's, configured in ``spiders.settings``; this module only decides what to request
and records what happened to every request.
"""

from __future__ import annotations

import calendar
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import scrapy
from lxml import etree
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from pipeline.records import Source
from pipeline.urls import canonical_url, netloc_of
from spiders.items import LogItem, PageItem

SITEMAP_NS = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}


def _now() -> str:
    """UTC now as ISO text."""
    return datetime.now(UTC).isoformat()


def failure_reason(failure: Failure) -> tuple[int | None, str]:
    """An HTTP status (when a response came) and a human-readable reason."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return exc.response.status, f"HTTP {exc.response.status}"
    name = type(exc).__name__
    inner = getattr(exc, "reasons", None)  # twisted wraps connection errors in a list
    if inner:
        return None, "connection failed: " + "; ".join(
            f"{type(r.value).__name__}: {r.value}".strip() for r in inner
        )
    text = str(exc).strip() or name
    if "Timeout" in name or "timed out" in text.lower():
        return None, f"timeout: {text}"
    return None, f"{name}: {text}"


class NewsSpider(scrapy.Spider):
    """Crawl every feed and sitemap of the given sources, then their new article pages."""

    name = "news"

    def __init__(
        self, sources: list[Source], known: frozenset[str] = frozenset(), **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.sources = sources
        self.known = known  # canonical URLs already stored: not fetched again
        self.requested: set[str] = set()  # canonical URLs asked for in this crawl
        # host:port pairs each outlet with allow_private may reach (its own feeds/sitemaps).
        self.private_netlocs = {
            s.id: frozenset(netloc_of(u) for u in (*s.feeds, *s.sitemaps))
            for s in sources
            if s.allow_private
        }

    async def start(self) -> AsyncIterator[Any]:
        """One request per feed and sitemap; an unusable URL is logged, not fatal."""
        for source in self.sources:
            for kind, urls, callback in (
                ("feed", source.feeds, self.parse_feed),
                ("sitemap", source.sitemaps, self.parse_sitemap),
            ):
                for url in urls:
                    yield self._request_or_log(url, source, kind, callback)

    def _request_or_log(
        self, url: str, source: Source, kind: str, callback: Any, **meta: Any
    ) -> scrapy.Request | LogItem:
        """A request, or a fetch-log item saying why the URL cannot be requested."""
        if urlsplit(url).scheme not in ("http", "https"):
            return LogItem(source.id, url, kind, None, "not an http(s) URL", "", _now())
        try:
            return self._request(url, source, kind, callback, **meta)
        except ValueError as exc:
            return LogItem(source.id, url, kind, None, f"bad URL: {exc}", "", _now())

    def _request(
        self, url: str, source: Source, kind: str, callback: Any, **meta: Any
    ) -> scrapy.Request:
        """A request carrying its source's policy in meta."""
        meta.update(source_id=source.id, kind=kind, source=source)
        if source.download_timeout:
            meta["download_timeout"] = source.download_timeout
        # Deduplication is ours (canonical URLs, in _article): scrapy's filter would also drop
        # the repeated hop of a redirect loop silently, leaving no fetch-log row.
        return scrapy.Request(
            url, callback=callback, errback=self.on_error, meta=meta, dont_filter=True
        )

    def _log(self, response: Response, error: str | None = None, note: str = "") -> LogItem:
        """A fetch-log item for a response."""
        meta = response.meta
        return LogItem(
            meta["source_id"], response.url, meta["kind"], response.status, error, note, _now()
        )

    def parse_feed(self, response: Response) -> Iterator[Any]:
        """Parse RSS/Atom; a parser crash is logged like any other bad feed."""
        try:
            yield from self._parse_feed(response)
        except Exception as exc:
            yield self._log(response, error=f"feed could not be parsed: {exc!r}")

    def _parse_feed(self, response: Response) -> Iterator[Any]:
        """Parse RSS/Atom with feedparser; request each entry's article."""
        ctype = (response.headers.get("Content-Type") or b"").decode("latin-1")
        parsed = feedparser.parse(response.body, response_headers={"content-type": ctype})
        entries = [e for e in parsed.get("entries", []) if e.get("link")]
        if not entries:
            why = (
                f"malformed feed ({parsed.get('bozo_exception')})"
                if parsed.get("bozo")
                else "feed has no entries with links"
            )
            yield self._log(response, error=why)
            return
        note = (
            f"not well-formed ({parsed.get('bozo_exception')}); entries recovered"
            if parsed.get("bozo")
            else ""
        )
        yield self._log(response, note=note)
        for entry in entries:
            yield from self._article(
                response, entry["link"], entry.get("title", ""), _entry_time(entry)
            )

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        """Parse a sitemap; a parser crash is logged like any other bad sitemap."""
        try:
            yield from self._parse_sitemap(response)
        except Exception as exc:
            yield self._log(response, error=f"sitemap could not be parsed: {exc!r}")

    def _parse_sitemap(self, response: Response) -> Iterator[Any]:
        """An XML / Google News sitemap or a sitemap index (entities off, no network)."""
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, recover=False, huge_tree=False
        )
        try:
            root = etree.fromstring(response.body, parser=parser)
        except etree.XMLSyntaxError as exc:
            yield self._log(response, error=f"unusable sitemap: {exc}")
            return
        children = [
            c.strip() for c in root.xpath("sm:sitemap/sm:loc/text()", namespaces=SITEMAP_NS)
        ]
        urls = root.findall("sm:url", SITEMAP_NS)
        if not children and not urls:
            yield self._log(response, error="sitemap lists no URLs")
            return
        yield self._log(response, note=f"sitemap index of {len(children)}" if children else "")
        for child in children:
            yield self._request_or_log(
                child, response.meta["source"], "sitemap", self.parse_sitemap
            )
        for url in urls:
            loc = url.findtext("sm:loc", namespaces=SITEMAP_NS)
            date = url.findtext(
                "news:news/news:publication_date", namespaces=SITEMAP_NS
            ) or url.findtext("sm:lastmod", namespaces=SITEMAP_NS)
            title = url.findtext("news:news/news:title", namespaces=SITEMAP_NS) or ""
            if loc:
                yield from self._article(response, loc.strip(), title, _parse_iso(date))

    def _article(
        self, response: Response, link: str, title: str, published: str | None
    ) -> Iterator[Any]:
        """Request an article page unless it is already stored or requested."""
        url = response.urljoin(link)
        canonical = canonical_url(url)
        if canonical in self.known or canonical in self.requested:
            return
        self.requested.add(canonical)
        yield self._request_or_log(
            url,
            response.meta["source"],
            "article",
            self.parse_article,
            feed_title=title,
            feed_published=published,
        )

    def parse_article(self, response: Response) -> Iterator[Any]:
        """Keep the decoded page for extraction; extraction runs outside the reactor."""
        meta = response.meta
        if not isinstance(response, scrapy.http.TextResponse):
            yield self._log(response, error="not a text page")
            return
        encoding = response.encoding
        note = f"decoded from {encoding}" if encoding.lower() not in ("utf-8", "utf8") else ""
        hops = meta.get("redirect_urls") or [response.url]
        yield PageItem(
            meta["source_id"],
            response.url,
            hops[0],  # the URL the feed announced, before any redirect
            response.text,
            encoding,
            _now(),
            meta.get("feed_title", ""),
            meta.get("feed_published"),
        )
        yield self._log(response, note=note)

    def on_error(self, failure: Failure) -> Iterator[LogItem]:
        """Record a failed request with its reason; the crawl goes on."""
        request = failure.request  # type: ignore[attr-defined]
        status, reason = failure_reason(failure)
        # Name the URL the feed announced; a redirect's last hop goes into the reason.
        hops = request.meta.get("redirect_urls") or []
        url = hops[0] if hops else request.url
        if hops:
            reason += f" (after {len(hops)} redirects, last {request.url})"
        yield LogItem(
            request.meta["source_id"], url, request.meta["kind"], status, reason, "", _now()
        )


def _entry_time(entry: Any) -> str | None:
    """The entry's published (or updated) time as ISO text; feedparser gives UTC tuples."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat()


def _parse_iso(value: str | None) -> str | None:
    """Normalise an ISO 8601 sitemap date to UTC ISO text (None if unparsable)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()
