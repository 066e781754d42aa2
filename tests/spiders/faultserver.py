"""A loopback HTTP server for crawler tests: routes by path, hit counts and every fault.

Tests register a route per path (``server.route("/feed.xml", static(...))``) and read back
what the crawler did: hits per path, the request headers of each hit, when each answer
started and ended (to check concurrency and delays) and how many body bytes streaming
routes managed to write before the client went away. Route factories cover the faults a
crawler meets on the web: resets, slow answers, endless bodies, gzip bombs, redirects and
conditional requests. Feed and sitemap builders make the XML those routes serve.

Reusable outside ``tests/spiders``: ``with FaultServer() as server: ...``.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from xml.sax.saxutils import escape

HTML = "text/html; charset=utf-8"
CHUNK = 64 * 1024

Route = Callable[["FaultHandler"], None]


@dataclass(frozen=True)
class Hit:
    """One request as the server saw it."""

    url: str  # the server's base URL and the path, without the query
    path: str
    headers: Message
    started: float  # time.monotonic() when the request arrived
    ended: float  # when the route returned


class FaultHandler(BaseHTTPRequestHandler):
    """Dispatch to the server's route for the path (404 without one) and record the hit."""

    server: FaultServer

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Run the route and record when it started and ended."""
        path = self.path.split("?", 1)[0]
        started = time.monotonic()
        self.server.count(path)
        try:
            self.server.routes.get(path, not_found)(self)
        finally:
            hit = Hit(self.server.base + path, path, self.headers, started, time.monotonic())
            self.server.record(hit)

    def send(
        self,
        status: int,
        body: bytes = b"",
        ctype: str = HTML,
        headers: dict[str, str] | None = None,
    ) -> None:
        """A complete answer with Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.write(body)

    def write(self, body: bytes) -> bool:
        """Write body bytes; False once the client has gone away."""
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return False
        return True

    def finish(self) -> None:
        """A reset route closed the socket already."""
        with contextlib.suppress(OSError, ValueError):
            super().finish()


class FaultServer(ThreadingHTTPServer):
    """A threaded loopback server: one host (address:port) with registered routes."""

    daemon_threads = True
    # socketserver's default backlog of 5 drops connections when a crawler opens a dozen at
    # once, and a dropped SYN is retried after 1 s: a spurious timeout in a fast test.
    request_queue_size = 128

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), FaultHandler)
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.log: list[Hit] = []
        self.sent: Counter[str] = Counter()  # body bytes written by streaming routes
        self.lock = threading.Lock()
        self.base = f"http://{host}:{self.server_address[1]}"

    def route(self, path: str, handler: Route) -> str:
        """Serve ``path`` with ``handler``; return its absolute URL."""
        self.routes[path] = handler
        return self.base + path

    def count(self, path: str) -> None:
        """Count a hit as soon as the request arrives (before a slow route answers)."""
        with self.lock:
            self.hits[path] += 1

    def record(self, hit: Hit) -> None:
        """Keep a finished request."""
        with self.lock:
            self.log.append(hit)

    def wrote(self, path: str, size: int) -> None:
        """Add to the bytes a streaming route wrote."""
        with self.lock:
            self.sent[path] += size

    def snapshot(self) -> tuple[Counter[str], list[Hit]]:
        """Hit counts and finished requests so far, then start counting afresh."""
        with self.lock:
            hits, log = Counter(self.hits), list(self.log)
            self.hits.clear()
            self.log.clear()
        return hits, log

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up are part of the tests, not errors."""

    def __enter__(self) -> FaultServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
        self.server_close()


def not_found(handler: FaultHandler) -> None:
    """404 for any path without a route."""
    handler.send(404, b"<html><body>Not found</body></html>")


def static(
    body: bytes | str, ctype: str = HTML, status: int = 200, headers: dict[str, str] | None = None
) -> Route:
    """Always the same answer."""
    data = body.encode() if isinstance(body, str) else body
    return lambda h: h.send(status, data, ctype, headers)


def redirect(location: str, status: int = 302) -> Route:
    """A redirect to ``location`` (absolute or relative)."""
    return lambda h: h.send(status, b"", headers={"Location": location})


def reset() -> Route:
    """Drop the connection without any answer (RST instead of FIN)."""

    def route(h: FaultHandler) -> None:
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    return route


def slow(seconds: float, body: bytes | str = b"<html><body><p>slow</p></body></html>") -> Route:
    """Answer after ``seconds`` (the thread sleeps; other requests are served meanwhile)."""
    answer = static(body)

    def route(h: FaultHandler) -> None:
        time.sleep(seconds)
        answer(h)

    return route


def stream(size: int, content_length: bool) -> Route:
    """A ``size``-byte HTML page written lazily in chunks, stopping when the client goes.

    Without Content-Length the client cannot refuse it up front: its limit must trip during
    the download. ``server.sent[path]`` tells how much was written before it hung up.
    """

    def route(h: FaultHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", HTML)
        if content_length:
            h.send_header("Content-Length", str(size))
        h.end_headers()
        path = h.path.split("?", 1)[0]
        chunk = b"<p>" + b"x" * (CHUNK - 7) + b"</p>\n"
        for _ in range(size // len(chunk)):
            if not h.write(chunk):
                return
            h.server.wrote(path, len(chunk))
        h.close_connection = True

    return route


@cache
def _bomb(inflated: int) -> bytes:
    """Gzip of ``inflated`` zero bytes (about 1/1000 of that, compressed once per size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(inflated // len(block))]
    return b"".join(parts) + packer.flush()


def gzip_bomb(inflated: int) -> Route:
    """A small ``Content-Encoding: gzip`` body that inflates to ``inflated`` bytes.

    Compressed here, not per request: zlib holds the GIL and would stall the server.
    """
    body = _bomb(inflated)
    return lambda h: h.send(200, body, HTML, {"Content-Encoding": "gzip"})


def gzipped(body: bytes | str, ctype: str = HTML) -> Route:
    """An ordinary gzip-encoded answer (what most servers send)."""
    data = body.encode() if isinstance(body, str) else body
    return lambda h: h.send(200, gzip.compress(data), ctype, {"Content-Encoding": "gzip"})


def conditional(
    body: bytes | str,
    ctype: str,
    etag: str,
    last_modified: str,
    honour: bool = True,
) -> Route:
    """A feed with validators; 304 for a matching If-None-Match/If-Modified-Since if ``honour``."""
    data = body.encode() if isinstance(body, str) else body
    validators = {"ETag": etag, "Last-Modified": last_modified}

    def route(h: FaultHandler) -> None:
        match = (
            h.headers.get("If-None-Match") == etag
            or h.headers.get("If-Modified-Since") == last_modified
        )
        if honour and match:
            h.send(304, b"", ctype, validators)
        else:
            h.send(200, data, ctype, validators)

    return route


# --- feeds and sitemaps -------------------------------------------------------------------

RSS_DATE = "Tue, 17 Nov 2026 08:00:00 GMT"
ISO_DATE = "2026-11-17T08:00:00Z"
UPDATED_DATE = "2026-11-20T12:00:00Z"  # a modification date: never a publication date


def rss(links: list[str], title: str = "Testblatt") -> bytes:
    """RSS 2.0 with one item per link (titles ``Artikel 0``, ``Artikel 1``...)."""
    items = "".join(
        f"<item><title>Artikel {i}</title><link>{escape(u)}</link>"
        f"<guid>{escape(u)}</guid><pubDate>{RSS_DATE}</pubDate></item>"
        for i, u in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.invalid/</link>"
        f"<description>Test</description>{items}</channel></rss>"
    ).encode()


def rss091(links: list[str]) -> bytes:
    """RSS 0.91 (Netscape): no dates, no guids."""
    items = "".join(
        f"<item><title>Old {i}</title><link>{escape(u)}</link></item>" for i, u in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="0.91"><channel>'
        "<title>Old</title><link>http://example.invalid/</link><description>Old</description>"
        f"<language>en</language>{items}</channel></rss>"
    ).encode("iso-8859-1")


def rdf(links: list[str]) -> bytes:
    """RSS 1.0 (RDF) with Dublin Core dates."""
    seq = "".join(f'<rdf:li rdf:resource="{escape(u)}"/>' for u in links)
    items = "".join(
        f'<item rdf:about="{escape(u)}"><title>RDF {i}</title><link>{escape(u)}</link>'
        f"<dc:date>{ISO_DATE}</dc:date></item>"
        for i, u in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="http://example.invalid/"><title>RDF</title>'
        "<link>http://example.invalid/</link><description>RDF</description>"
        f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>{items}</rdf:RDF>"
    ).encode()


def atom(links: list[str], published: bool = True) -> bytes:
    """Atom 1.0: entries published at ISO_DATE and updated later (or only updated)."""
    dates = f"<published>{ISO_DATE}</published>" if published else ""
    entries = "".join(
        f'<entry><title>Atom {i}</title><link rel="alternate" href="{escape(u)}"/>'
        f"<id>{escape(u)}</id>{dates}<updated>{UPDATED_DATE}</updated></entry>"
        for i, u in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Atom</title><id>urn:test</id><updated>{ISO_DATE}</updated>{entries}</feed>"
    ).encode()


SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def sitemap(links: list[str]) -> bytes:
    """An XML sitemap (urlset) with lastmod dates (modification dates, not publication)."""
    urls = "".join(f"<url><loc>{escape(u)}</loc><lastmod>{ISO_DATE}</lastmod></url>" for u in links)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {SITEMAP_NS}>{urls}</urlset>'.encode()


def sitemap_index(children: list[str]) -> bytes:
    """A sitemap index pointing at other sitemaps."""
    maps = "".join(f"<sitemap><loc>{escape(u)}</loc></sitemap>" for u in children)
    body = f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex {SITEMAP_NS}>{maps}'
    return (body + "</sitemapindex>").encode()


def news_sitemap(links: list[str]) -> bytes:
    """A Google News sitemap: titles and publication dates in the news: namespace."""
    urls = "".join(
        f"<url><loc>{escape(u)}</loc><news:news><news:publication><news:name>T</news:name>"
        f"<news:language>de</news:language></news:publication>"
        f"<news:publication_date>{ISO_DATE}</news:publication_date>"
        f"<news:title>News {i}</news:title></news:news></url>"
        for i, u in enumerate(links)
    )
    body = f'<?xml version="1.0" encoding="UTF-8"?><urlset {SITEMAP_NS} {NEWS_NS}>{urls}'
    return (body + "</urlset>").encode()


def article(title: str, text: str = "", lang: str = "de") -> bytes:
    """A small, well-formed UTF-8 article page."""
    paragraph = text or f"{title}: Der Stadtrat hat am Dienstag darüber beraten."
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><article><h1>{title}</h1><p>{paragraph}</p></article></body></html>"
    ).encode()


def homepage(links: list[tuple[str, str]]) -> bytes:
    """A home page advertising feeds: ``(type, href)`` pairs as ``<link rel="alternate">``."""
    heads = "".join(
        f'<link rel="alternate" type="{t}" href="{escape(h)}" title="Feed">' for t, h in links
    )
    return (
        f"<!DOCTYPE html><html><head><title>Start</title>{heads}</head>"
        "<body><h1>Startseite</h1></body></html>"
    ).encode()


@contextlib.contextmanager
def serving(host: str = "127.0.0.1") -> Iterator[FaultServer]:
    """A started FaultServer, shut down afterwards."""
    with FaultServer(host) as server:
        yield server
