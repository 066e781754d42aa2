"""The demo newsroom: fictional local outlets served over HTTP on a loopback port.

It exists so that ``framewatch demo`` and the end-to-end tests exercise the real crawler,
extractor and classifier on realistic pages (navigation, cookie banners, teasers, comments,
related links) without touching the internet. The articles are data files under
``pipeline/demo/articles/``; this module only renders and serves them, with a few deliberate
faults: a malformed feed, a dead link, a page slower than the crawler's timeout and a page in
a legacy encoding.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

from pipeline.records import Source
from pipeline.sources import demo_sources_file, load_sources

ARTICLES_DIR = Path(__file__).parent / "articles"
SLOW_SECONDS = 8.0  # longer than the slow outlet's download_timeout in sources/demo.yaml
LEGACY_OUTLET, LEGACY_ENCODING = "gdansk-glos", "windows-1250"
DEAD_OUTLET, SLOW_OUTLET, BROKEN_FEED = "sisak-kupa", "lisboa-tejo", "extra.xml"


@dataclass(frozen=True)
class DemoArticle:
    """One fictional article as written in the outlet's YAML file."""

    outlet: str
    slug: str
    days_ago: int
    published: datetime
    section: str
    author: str
    title: str
    teaser: str
    body: tuple[str, ...]
    comments: tuple[str, ...]
    migration: bool
    frames: tuple[str, ...]

    @property
    def path(self) -> str:
        """The article's URL path on the newsroom server."""
        # No date in the path: a rerun on another day must find the same URLs.
        return f"/{self.outlet}/news/{self.slug}.html"


@dataclass(frozen=True)
class DemoOutlet:
    """An outlet: its source entry, site furniture texts and articles (newest first)."""

    source: Source
    chrome: dict[str, Any]
    articles: tuple[DemoArticle, ...]

    @property
    def feed_kind(self) -> str:
        """rss, atom or sitemap, from the first URL declared in sources/demo.yaml."""
        first = (self.source.feeds or self.source.sitemaps)[0]
        return "atom" if first.endswith("atom.xml") else "sitemap" if "sitemap" in first else "rss"


def publication_time(outlet: str, slug: str, days_ago: int, today: date) -> datetime:
    """A deterministic time of day (06:00-19:59 UTC) on the article's day."""
    digest = int(hashlib.sha1(f"{outlet}/{slug}".encode()).hexdigest(), 16)
    day = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=days_ago)
    return day + timedelta(hours=6 + digest % 14, minutes=(digest >> 8) % 60)


def load_outlets(today: date | None = None, base_url: str = "") -> list[DemoOutlet]:
    """Read sources/demo.yaml and every article file, dated relative to ``today``."""
    # A fixed day (tests, golden pages) is rendered as seen at its end, so no time moves.
    now = (
        datetime.now(UTC)
        if today is None
        else datetime(today.year, today.month, today.day, 23, 59, tzinfo=UTC)
    )
    today = today or now.date()
    outlets = []
    for source in load_sources(demo_sources_file(), newsroom=base_url):
        path = ARTICLES_DIR / f"{source.id}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
        articles = [_article(source.id, a, today, now) for a in data.get("articles", [])]
        articles.sort(key=lambda a: a.published, reverse=True)
        outlets.append(DemoOutlet(source, data.get("chrome", {}), tuple(articles)))
    return outlets


def _article(outlet: str, raw: dict[str, Any], today: date, now: datetime) -> DemoArticle:
    """Build a DemoArticle; a time later than now is pulled back so nothing is in the future."""
    published = publication_time(outlet, raw["slug"], int(raw["days_ago"]), today)
    if published > now:
        published = (now - timedelta(minutes=5 + int(raw["days_ago"]))).replace(
            second=0, microsecond=0
        )
    return DemoArticle(
        outlet=outlet,
        slug=raw["slug"],
        days_ago=int(raw["days_ago"]),
        published=published,
        section=raw.get("section", ""),
        author=raw.get("author", ""),
        title=raw["title"],
        teaser=raw.get("teaser", ""),
        body=tuple(raw["body"]),
        comments=tuple(raw.get("comments") or ()),
        migration=bool(raw.get("migration")),
        frames=tuple(raw.get("frames") or ()),
    )


class Site:
    """Renders the newsroom's pages and feeds; the HTTP handler only routes to it."""

    def __init__(self, outlets: list[DemoOutlet], base_url: str) -> None:
        self.base_url = base_url
        self.outlets = {o.source.id: o for o in outlets}
        self.env = Environment(
            loader=PackageLoader("pipeline.demo", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.pages = {a.path: (o, a) for o in outlets for a in o.articles}
        self.legacy_path = self._legacy_path()

    def _legacy_path(self) -> str | None:
        """The one page served in a legacy encoding: the legacy outlet's newest migration story."""
        outlet = self.outlets.get(LEGACY_OUTLET)
        stories = [a for a in outlet.articles if a.migration] if outlet else []
        return stories[0].path if stories else None

    def render(self, path: str) -> tuple[int, str, bytes]:
        """Return (status, content type, body) for a request path."""
        path = path.split("?", 1)[0]
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /private/\n"
        if path in ("/", "/index.html"):
            return self._html("index.html", outlets=list(self.outlets.values()))
        parts = path.strip("/").split("/")
        outlet = self.outlets.get(parts[0])
        if outlet is None:
            return self._not_found()
        return self._outlet_page(outlet, path, parts[1:])

    def _outlet_page(
        self, outlet: DemoOutlet, path: str, rest: list[str]
    ) -> tuple[int, str, bytes]:
        """Route a path inside one outlet."""
        if not rest or rest == ["index.html"]:
            return self._html("home.html", outlet=outlet, articles=outlet.articles[:20])
        name = rest[-1]
        if len(rest) == 1 and name in ("rss.xml", "atom.xml", "news-sitemap.xml"):
            return self._feed(outlet, name)
        if name == BROKEN_FEED:
            return 200, "application/rss+xml", _broken_feed(outlet)
        if path in self.pages:
            return self._article_page(*self.pages[path])
        return self._not_found()

    def _feed(self, outlet: DemoOutlet, name: str) -> tuple[int, str, bytes]:
        """An RSS 2.0 / Atom feed or a Google News sitemap with every article plus the traps."""
        links = [
            (a, f"{self.base_url}{a.path}?utm_source=rss&utm_medium=feed") for a in outlet.articles
        ]
        links += self._trap_links(outlet)
        kind = {"rss.xml": "rss", "atom.xml": "atom", "news-sitemap.xml": "sitemap"}[name]
        body = self.env.get_template(f"{kind}.xml").render(
            outlet=outlet, links=links, base=self.base_url, now=datetime.now(UTC)
        )
        ctype = {"rss": "application/rss+xml", "atom": "application/atom+xml"}.get(
            kind, "application/xml"
        )
        return 200, f"{ctype}; charset=utf-8", body.encode("utf-8")

    def _trap_links(self, outlet: DemoOutlet) -> list[tuple[DemoArticle, str]]:
        """Feed entries that point at a dead page or a page slower than the timeout."""
        if not outlet.articles or outlet.source.id not in (DEAD_OUTLET, SLOW_OUTLET):
            return []
        newest = outlet.articles[0]
        slug = "removed-story" if outlet.source.id == DEAD_OUTLET else "slow-story"
        trap = DemoArticle(**{**newest.__dict__, "slug": slug, "title": newest.title + " (2)"})
        return [(trap, f"{self.base_url}{trap.path}")]

    def _article_page(self, outlet: DemoOutlet, article: DemoArticle) -> tuple[int, str, bytes]:
        """A full article page; one page of the legacy outlet is encoded in windows-1250."""
        related = [a for a in outlet.articles if a is not article][:3]
        encoding = LEGACY_ENCODING if article.path == self.legacy_path else "utf-8"
        html = self.env.get_template("article.html").render(
            outlet=outlet, article=article, related=related, base=self.base_url, charset=encoding
        )
        return 200, f"text/html; charset={encoding}", html.encode(encoding, "xmlcharrefreplace")

    def _html(self, template: str, **context: Any) -> tuple[int, str, bytes]:
        """Render an HTML template as UTF-8."""
        html = self.env.get_template(template).render(base=self.base_url, **context)
        return 200, "text/html; charset=utf-8", html.encode("utf-8")

    def _not_found(self) -> tuple[int, str, bytes]:
        """A plain 404 page."""
        return 404, "text/html; charset=utf-8", b"<html><body><h1>404 Not Found</h1></body></html>"


def _broken_feed(outlet: DemoOutlet) -> bytes:
    """An RSS document cut off mid-element, with an undefined entity: not well-formed XML."""
    return (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        b"<title>" + outlet.source.name.encode() + b" &nbsp; Extra</title>"
        b"<item><title>Unclosed item &bogus; <description>"
    )


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    """An HTTP handler class bound to one Site."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "demo-newsroom/1.0"

        def do_GET(self) -> None:
            """Serve a page; the slow trap sleeps first."""
            if "/slow-story" in self.path:
                time.sleep(SLOW_SECONDS)
            status, ctype, body = site.render(self.path)
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the crawler gave up on a slow page: expected

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the demo's console for the summary, not access logs."""

    return Handler


@dataclass
class Newsroom:
    """A running newsroom server."""

    url: str
    server: ThreadingHTTPServer
    thread: threading.Thread
    outlets: list[DemoOutlet]

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_newsroom(host: str = "127.0.0.1", port: int = 0, today: date | None = None) -> Newsroom:
    """Start the newsroom on a free loopback port in a background thread."""
    server = ThreadingHTTPServer((host, port), BaseHTTPRequestHandler)
    server.daemon_threads = True
    url = f"http://{host}:{server.server_address[1]}"
    outlets = load_outlets(today, base_url=url)
    server.RequestHandlerClass = _handler(Site(outlets, url))
    thread = threading.Thread(target=server.serve_forever, name="demo-newsroom", daemon=True)
    thread.start()
    return Newsroom(url, server, thread, outlets)


@contextmanager
def running_newsroom(today: date | None = None, port: int = 0) -> Iterator[Newsroom]:
    """Context manager around start_newsroom/stop."""
    newsroom = start_newsroom(port=port, today=today)
    try:
        yield newsroom
    finally:
        newsroom.stop()
