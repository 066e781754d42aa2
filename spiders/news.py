"""The news spider: home pages, feeds and sitemaps in, article pages and a fetch log out.

Politeness (robots.txt, per-host concurrency and delay, AutoThrottle, retries, redirects,
size and time limits) is scrapy's, configured in ``spiders.settings`` and, per outlet, in
each request's meta; this module only decides what to request and records what happened to
every request, in one ``LogItem`` each (and one per feed whose poll says to skip it).
"""

from __future__ import annotations

import calendar
import codecs
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import feedparser
import scrapy
from lxml import etree
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding

from pipeline.dates import parse_date
from pipeline.records import FeedPoll, Source
from pipeline.timeutil import as_utc
from pipeline.urls import canonical_url, netloc_of, url_key
from spiders.items import LogItem, PageItem
from spiders.middlewares import PrivateAddressBlocked

SITEMAP_NS = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}
# <link rel="alternate"> types that feedparser reads. JSON Feed is advertised by some sites
# but feedparser 6 cannot parse it, so it is only named in the error when it is all there is.
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
JSON_FEED_TYPES = frozenset({"application/feed+json", "application/json"})
NOT_MODIFIED = 304
GZIP_MAGIC = b"\x1f\x8b"
NO_FEED = "no feed advertised on the home page"
# What servers send when nobody configured a charset: a page's own declaration wins over it.
SERVER_DEFAULT_CHARSETS = frozenset({"cp1252"})  # w3lib's name for ISO-8859-1 and US-ASCII
NO_POLLS: Mapping[str, FeedPoll] = MappingProxyType({})
# Scrapy's wrappers of what twisted raises when a connection fails or breaks off.
CONNECTION_ERRORS = (
    DownloadFailedError,
    DownloadConnectionRefusedError,
    CannotResolveHostError,
    ResponseDataLossError,
    ConnectError,
    ConnectionLost,
    ConnectionDone,
)


def _now() -> str:
    """UTC now as ISO text."""
    return datetime.now(UTC).isoformat()


def failure_reason(failure: Failure) -> tuple[int | None, str]:
    """An HTTP status (when a response came) and a reason a person can act on.

    The prefixes are stable (``HTTP``, ``timeout:``, ``too large:``, ``blocked:``,
    ``connection failed:``) so that health checks can group failures.
    """
    exc = failure.value or Exception("no detail")
    meta = failure.request.meta  # type: ignore[attr-defined]
    if isinstance(exc, HttpError):
        return exc.response.status, f"HTTP {exc.response.status}"
    return None, _exception_reason(exc, meta)


def _exception_reason(exc: BaseException, meta: Mapping[str, Any]) -> str:
    """The reason for a download that produced no usable response."""
    if isinstance(exc, PrivateAddressBlocked):
        return str(exc)
    maxsize = meta.get("download_maxsize")
    if hasattr(exc.__cause__, "max_size"):  # HttpCompressionMiddleware's inflate limit
        return f"too large: over download_maxsize ({maxsize} bytes) once decompressed"
    # The handler refuses a larger Content-Length and cancels a body that grows past the
    # limit; scrapy reports both as DownloadCancelledError, and nothing else cancels here.
    if isinstance(exc, DownloadCancelledError):
        return f"too large: over download_maxsize ({maxsize} bytes)"
    if isinstance(exc, DownloadTimeoutError | TwistedTimeoutError):
        return f"timeout: no complete answer within {meta.get('download_timeout')} s"
    if isinstance(exc, IgnoreRequest):
        return str(exc) or type(exc).__name__  # robots.txt, too many redirects
    if isinstance(exc, CONNECTION_ERRORS):
        return f"connection failed: {_detail(exc)}"
    return _detail(exc)


def _detail(exc: BaseException) -> str:
    """What went wrong beneath scrapy's wrapper: twisted's own reasons when it lists them."""
    cause = exc.__cause__ or exc
    reasons = getattr(cause, "reasons", None)  # ResponseFailed carries a list of failures
    if reasons:
        return "; ".join(f"{type(r.value).__name__}: {r.value}".strip() for r in reasons)
    return f"{type(cause).__name__}: {str(cause).strip() or 'no detail'}"


class NewsSpider(scrapy.Spider):
    """Crawl every home page, feed and sitemap of the given sources, then new article pages."""

    name = "news"

    def __init__(
        self,
        sources: list[Source],
        known: frozenset[str] = frozenset(),
        polls: Mapping[str, FeedPoll] = NO_POLLS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sources = sources
        self.known = known  # url_key()s of the URLs already stored: not fetched again
        self.polls = polls  # how to poll each feed/sitemap URL (validators, skip)
        self.requested: set[str] = set()  # canonical article URLs asked for in this crawl
        self.polled: set[str] = set()  # canonical feed/sitemap URLs asked for in this crawl
        self.declared = {_key(u) for s in sources for u in (*s.feeds, *s.sitemaps)}
        # host:port pairs each outlet with allow_private may reach: its own declared URLs.
        self.private_netlocs = {
            s.id: frozenset(netloc_of(u) for u in (*s.feeds, *s.sitemaps, *s.homepages))
            for s in sources
            if s.allow_private
        }

    async def start(self) -> AsyncIterator[Any]:
        """One request per declared home page, feed and sitemap; an unusable URL is logged.

        Feeds found on a home page and children of a sitemap index are reached through
        their parent, each run: home pages are never asked conditionally, and a sitemap
        index keeps no validators (see ``parse_sitemap``), so a parent's 304 never hides
        them, and a URL its parent no longer lists (or an outlet removed from the sources
        file) is not polled any more.
        """
        for source in self.sources:
            for url in source.homepages:
                yield self._homepage(url, source)
            for url in source.feeds:
                for item in self._poll(url, source, "feed"):
                    yield item
            for url in source.sitemaps:
                for item in self._poll(url, source, "sitemap"):
                    yield item

    def _homepage(self, url: str, source: Source) -> scrapy.Request | LogItem:
        """A home page request, or a skip record when its poll says so.

        Never conditional: a 304 would leave its feeds undiscovered for the run.
        """
        poll = self.polls.get(url)
        if poll is not None and poll.skip:
            return LogItem(source.id, url, "homepage", None, None, poll.reason, _now())
        return self._request_or_log(url, source, "homepage", self.parse_homepage)

    def _poll(
        self, url: str, source: Source, kind: str, note: str = ""
    ) -> Iterator[scrapy.Request | LogItem]:
        """Request a feed or sitemap once per crawl, conditionally if its poll has validators.

        A sitemap index that lists itself, or a feed found on two home pages, is thus
        fetched once; a poll with ``skip`` gives a log row and no request at all.
        """
        if _key(url) in self.polled:
            return
        self.polled.add(_key(url))
        poll = self.polls.get(url) or FeedPoll(url)
        if poll.skip:
            yield LogItem(source.id, url, kind, None, None, poll.reason, _now())
            return
        callback = self.parse_feed if kind == "feed" else self.parse_sitemap
        headers = _conditional_headers(poll)
        # A full fetch despite stored validators says why (the health code reads it).
        notes = [note, "" if headers else poll.reason]
        meta: dict[str, Any] = {"poll": poll, "notes": [n for n in notes if n]}
        if headers:
            meta["handle_httpstatus_list"] = [NOT_MODIFIED]
        yield self._request_or_log(url, source, kind, callback, headers, **meta)

    def _request_or_log(
        self,
        url: str,
        source: Source,
        kind: str,
        callback: Any,
        headers: dict[str, str] | None = None,
        **meta: Any,
    ) -> scrapy.Request | LogItem:
        """A request, or a fetch-log item saying why the URL cannot be requested."""
        if urlsplit(url).scheme not in ("http", "https"):
            return LogItem(source.id, url, kind, None, "not an http(s) URL", "", _now())
        try:
            return self._request(url, source, kind, callback, headers, meta)
        except ValueError as exc:
            return LogItem(source.id, url, kind, None, f"bad URL: {exc}", "", _now())

    def _request(
        self,
        url: str,
        source: Source,
        kind: str,
        callback: Any,
        headers: dict[str, str] | None,
        meta: dict[str, Any],
    ) -> scrapy.Request:
        """A request carrying its source's policy in meta."""
        meta.update(source_id=source.id, kind=kind, source=source, **self._limits(source))
        # Deduplication is ours (canonical URLs, in _article and _poll): scrapy's filter would
        # also drop the repeated hop of a redirect loop silently, leaving no fetch-log row.
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            headers=headers,
            meta=meta,
            dont_filter=True,
        )

    def _limits(self, source: Source) -> dict[str, Any]:
        """Scrapy's per-request limits: the outlet's own values, else the crawl's settings.

        Set on every request, not only overrides, so that a failure can name its limit.
        """
        settings = self.settings
        maxsize = source.download_maxsize or settings.getint("DOWNLOAD_MAXSIZE")
        retries = source.max_retries
        return {
            "download_timeout": source.download_timeout or settings.getfloat("DOWNLOAD_TIMEOUT"),
            "download_maxsize": maxsize,
            "download_warnsize": maxsize // 2,
            "max_retry_times": settings.getint("RETRY_TIMES") if retries is None else retries,
        }

    def _log(
        self,
        response: Response,
        error: str | None = None,
        note: str = "",
        validators: bool = True,
    ) -> LogItem:
        """A fetch-log item for a response.

        Home pages, feeds and sitemaps are logged under the URL that was asked for (declared,
        discovered or listed in an index), so that their fetch history and polls stay keyed
        by one URL when the server redirects; an article under the URL it was fetched from.
        """
        meta = response.meta
        kind = meta["kind"]
        notes = list(meta.get("notes", ()))
        url = response.url
        if kind != "article":
            url = _first_hop(response)
            if url != response.url:
                notes.append(f"redirected to {response.url}")
        polled = validators and kind in ("feed", "sitemap")
        etag, modified = _validators(response) if polled else (None, None)
        text = "; ".join(n for n in (*notes, note) if n)
        return LogItem(
            meta["source_id"], url, kind, response.status, error, text, _now(), etag, modified
        )

    def parse_homepage(self, response: Response) -> Iterator[Any]:
        """Discover feeds; a parser crash is logged like any other unusable home page."""
        try:
            yield from self._parse_homepage(response)
        except Exception as exc:
            yield self._log(response, error=f"home page could not be parsed: {exc!r}")

    def _parse_homepage(self, response: Response) -> Iterator[Any]:
        """Find the feeds a home page advertises and poll the undeclared ones."""
        if not isinstance(response, TextResponse):
            yield self._log(response, error="home page is not HTML")
            return
        feeds = _advertised(response, FEED_TYPES)
        if not feeds:
            json_only = " (only a JSON Feed, which is not read)"
            yield self._log(
                response,
                error=NO_FEED + (json_only if _advertised(response, JSON_FEED_TYPES) else ""),
            )
            return
        new = [u for u in feeds if _key(u) not in self.declared]
        declared = f"; {len(feeds) - len(new)} already declared" if len(new) < len(feeds) else ""
        plural = "s" if len(feeds) > 1 else ""
        yield self._log(response, note=f"{len(feeds)} feed{plural} advertised{declared}")
        for url in new:
            yield from self._poll(
                url, response.meta["source"], "feed", f"discovered on {_first_hop(response)}"
            )

    def parse_feed(self, response: Response) -> Iterator[Any]:
        """Parse RSS/Atom; a parser crash is logged like any other bad feed."""
        if response.status == NOT_MODIFIED:
            yield self._log(response, note="not modified")
            return
        try:
            yield from self._parse_feed(response)
        except Exception as exc:
            yield self._log(response, error=f"feed could not be parsed: {exc!r}")

    def _parse_feed(self, response: Response) -> Iterator[Any]:
        """Parse RSS 0.9x/1.0/2.0 or Atom with feedparser; request each entry's article."""
        ctype = (response.headers.get("Content-Type") or b"").decode("latin-1")
        parsed = feedparser.parse(
            response.body,
            response_headers={"content-type": ctype, "content-location": response.url},
        )
        entries = [e for e in parsed.get("entries", []) if e.get("link")]
        if not entries:
            yield self._log(response, error=_feed_problem(parsed, response.body))
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
        if response.status == NOT_MODIFIED:
            yield self._log(response, note="not modified")
            return
        try:
            yield from self._parse_sitemap(response)
        except Exception as exc:
            yield self._log(response, error=f"sitemap could not be parsed: {exc!r}")

    def _parse_sitemap(self, response: Response) -> Iterator[Any]:
        """An XML / Google News sitemap or a sitemap index (entities off, no network).

        A gzipped sitemap (``.xml.gz`` served without Content-Encoding) is inflated here, up
        to the request's download_maxsize.
        """
        try:
            body = _sitemap_body(response)
        except (OSError, EOFError, ValueError) as exc:
            maxsize = response.meta.get("download_maxsize")
            too_large = f"too large: over download_maxsize ({maxsize} bytes) once gunzipped"
            # scrapy's size error is a ValueError carrying max_size
            error = too_large if hasattr(exc, "max_size") else f"unusable sitemap: {exc!r}"
            yield self._log(response, error=error)
            return
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, recover=False, huge_tree=False
        )
        try:
            root = etree.fromstring(body, parser=parser)
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
        # An index keeps no validators, so it is fetched in full every run: a 304 for an
        # index whose child sitemaps change daily would leave their news unread.
        note = f"sitemap index of {len(children)}" if children else ""
        yield self._log(response, note=note, validators=not children)
        for child in children:
            yield from self._poll(response.urljoin(child), response.meta["source"], "sitemap")
        for url in urls:
            yield from self._sitemap_url(response, url)

    def _sitemap_url(self, response: Response, url: Any) -> Iterator[Any]:
        """The article of one ``<url>`` of a sitemap, dated by Google News only.

        ``<lastmod>`` is when the page last changed, not when it was published: it would
        outrank the page's own datePublished downstream, so it is not read.
        """
        loc = url.findtext("sm:loc", namespaces=SITEMAP_NS)
        date = url.findtext("news:news/news:publication_date", namespaces=SITEMAP_NS)
        title = url.findtext("news:news/news:title", namespaces=SITEMAP_NS) or ""
        if loc:
            yield from self._article(response, loc.strip(), title, _parse_iso(date))

    def _article(
        self, response: Response, link: str, title: str, published: str | None
    ) -> Iterator[Any]:
        """Request an article page unless it is already stored or requested in this crawl."""
        url = response.urljoin(link)
        canonical = _key(url)
        if canonical in self.requested or _stored_key(url) in self.known:
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
        if not isinstance(response, TextResponse):
            yield self._log(response, error="not a text page")
            return
        response, note = _decoded(response)
        hops = meta.get("redirect_urls") or [response.url]
        yield PageItem(
            meta["source_id"],
            response.url,
            hops[0],  # the URL the feed announced, before any redirect
            response.text,
            response.encoding,
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
        notes = "; ".join(request.meta.get("notes", ()))
        yield LogItem(
            request.meta["source_id"], url, request.meta["kind"], status, reason, notes, _now()
        )


def _key(url: str) -> str:
    """The canonical form of a URL for deduplication (the URL itself if it cannot be)."""
    try:
        return canonical_url(url)
    except ValueError:
        return url


def _stored_key(url: str) -> str:
    """The key the store knows an article URL by (``url_key``; '' if it cannot have one)."""
    try:
        return url_key(url)
    except ValueError:
        return ""


def _sitemap_body(response: Response) -> bytes:
    """The body, gunzipped when it is gzip data without Content-Encoding (``.xml.gz``).

    Raises scrapy's size error (a ValueError with ``max_size``) past the request's
    download_maxsize, OSError or EOFError for broken gzip data.
    """
    body = response.body
    if not body.startswith(GZIP_MAGIC):
        return body
    return gunzip(body, max_size=int(response.meta.get("download_maxsize") or 0))


def _first_hop(response: Response) -> str:
    """The URL that was requested, before any redirect."""
    hops = response.meta.get("redirect_urls") or [response.url]
    return str(hops[0])


def _conditional_headers(poll: FeedPoll) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the validators a feed answered with last time."""
    headers = {}
    if poll.etag:
        headers["If-None-Match"] = poll.etag
    if poll.last_modified:
        headers["If-Modified-Since"] = poll.last_modified
    return headers


def _validators(response: Response) -> tuple[str | None, str | None]:
    """ETag and Last-Modified of a feed or sitemap answer.

    A 304 should repeat them but need not; then the ones that were sent are still valid.
    """
    etag = _header(response, "ETag")
    modified = _header(response, "Last-Modified")
    poll = response.meta.get("poll")
    if response.status == NOT_MODIFIED and poll is not None:
        return etag or poll.etag, modified or poll.last_modified
    return etag, modified


def _header(response: Response, name: str) -> str | None:
    """A response header as text (None when absent or empty)."""
    value = (response.headers.get(name) or b"").decode("latin-1").strip()
    return value or None


def _advertised(response: TextResponse, types: Iterable[str]) -> list[str]:
    """Absolute URLs of ``<link rel="alternate">`` of the given types, in page order, once."""
    wanted = frozenset(types)
    found: list[str] = []
    for link in response.css("link[rel][href]"):
        rel = link.attrib.get("rel", "").lower().split()
        ctype = link.attrib.get("type", "").split(";", 1)[0].strip().lower()
        url = response.urljoin(link.attrib["href"].strip())
        if "alternate" in rel and ctype in wanted and url not in found:
            found.append(url)
    return found


def _feed_problem(parsed: Any, body: bytes) -> str:
    """Why a feed gave no usable entry: an HTML page, broken XML, or simply none."""
    if not parsed.get("version") and b"<html" in body[:2048].lower():
        return "not a feed: the URL serves an HTML page"
    if parsed.get("bozo"):
        return f"malformed feed ({parsed.get('bozo_exception')})"
    return "feed has no entries with links"


def _decoded(response: TextResponse) -> tuple[TextResponse, str]:
    """The page decoded with the best-supported charset, and a note when it is not UTF-8.

    Scrapy decides by BOM, then HTTP header, then the page's own declaration, then detection;
    the one correction here is a header carrying a server's default charset (see
    ``_page_charset``), which would turn every ą and č into mojibake.
    """
    header = http_content_type_encoding(
        (response.headers.get("Content-Type") or b"").decode("latin-1")
    )
    page = _page_charset(response, header)
    if page is not None:
        response = response.replace(encoding=page)
    encoding = response.encoding
    if codecs.lookup(encoding).name in ("utf-8", "ascii"):
        return response, ""
    if page is not None:
        return response, f"decoded from {encoding} (declared in the page; the header said {header})"
    return response, f"decoded from {encoding}"


def _page_charset(response: TextResponse, header: str | None) -> str | None:
    """The page's declared charset when the header only carries ISO-8859-1, the server default.

    Browsers trust the header, but Apache-style ``AddDefaultCharset`` labels every page
    ISO-8859-1 whoever wrote it, while the meta tag comes with the bytes; the page's charset
    wins when the bytes decode under it and no BOM settles the question first.
    """
    if header not in SERVER_DEFAULT_CHARSETS or response.body.startswith(codecs.BOM_UTF8):
        return None
    page = html_body_declared_encoding(response.body)
    if not page or page == header:
        return None
    try:
        response.body.decode(page)
    except (UnicodeDecodeError, LookupError):
        return None
    return page


def _entry_time(entry: Any) -> str | None:
    """The entry's publication time as ISO text; feedparser gives UTC tuples.

    Only ``published_parsed`` (RSS pubDate, Atom published): an Atom ``<updated>`` (and
    ``dc:date``, which feedparser files as updated) is a modification date, which would
    outrank the page's own datePublished downstream.
    """
    parsed = entry.get("published_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat()


def _parse_iso(value: str | None) -> str | None:
    """Normalise an ISO 8601 sitemap date to UTC ISO text (None if unparsable)."""
    parsed = as_utc(parse_date(value))
    return parsed.isoformat() if parsed else None
