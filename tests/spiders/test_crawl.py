"""The real crawler (scrapy in its subprocess) against a loopback server this module starts.

The server serves one outlet with a good feed and article and every fault the crawler must
survive and report: a 500 (retried), a connection dropped without a response, a redirect
loop, HTML served as a feed, an empty feed, a page over ``download_maxsize``, a 404 and a
path that robots.txt disallows. The crawl runs once per module; each test checks one case
in its result and in the server's hit counts.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from pipeline.config import Settings
from pipeline.crawl import CrawlResult, crawl
from pipeline.records import FetchOutcome

RETRY_TIMES = 2  # spiders.settings: RETRY_TIMES
MAXSIZE = 200_000
BIG_PAGE = b"<html><body><p>" + b"x" * 1_000_000 + b"</p></body></html>"

GOOD_ARTICLE = """<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>Neues Radwegenetz beschlossen</title></head>
<body><article><h1>Neues Radwegenetz beschlossen</h1>
<p>Der Stadtrat hat am Dienstag ein neues Radwegenetz für die Innenstadt beschlossen.</p>
<p>Die Arbeiten sollen im Frühjahr beginnen und zwei Jahre dauern.</p>
</article></body></html>"""

ARTICLES = {
    "good": "/news/good.html",
    "error500": "/news/error500.html",
    "reset": "/news/reset.html",
    "loop": "/news/loop-a.html",
    "chain": "/news/chain/1.html",
    "big": "/news/big.html",
    "missing": "/news/missing.html",
    "robots": "/private/secret.html",
}
FEEDS = {
    "main": "/feeds/main.xml",
    "html": "/feeds/html.xml",
    "empty": "/feeds/empty.xml",
}


def rss(base: str, paths: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Artikel {i}</title><link>{base}{p}</link>"
        f"<guid>{base}{p}</guid><pubDate>Tue, 17 Nov 2026 08:00:00 GMT</pubDate></item>"
        for i, p in enumerate(paths)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Testblatt</title><link>{base}/</link><description>Test</description>"
        f"{items}</channel></rss>"
    ).encode()


class Handler(BaseHTTPRequestHandler):
    """Serves the fixtures and counts every hit by path."""

    server: FaultServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        with self.server.lock:
            self.server.hits[path] += 1
        base = self.server.base
        if path == "/robots.txt":
            self._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        elif path == FEEDS["main"]:
            self._send(200, rss(base, list(ARTICLES.values())), "application/rss+xml")
        elif path == "/feeds/robots.xml":
            self._send(
                200, rss(base, [ARTICLES["good"], ARTICLES["robots"]]), "application/rss+xml"
            )
        elif path == FEEDS["html"]:
            self._send(
                200,
                b"<!DOCTYPE html><html><body><h1>Startseite</h1>"
                b"<p>Keine Nachrichten</p><div><span></p></body></html>",
                "application/rss+xml",
            )
        elif path == FEEDS["empty"]:
            self._send(200, rss(base, []), "application/rss+xml")
        elif path in (ARTICLES["good"], ARTICLES["robots"]):
            self._send(200, GOOD_ARTICLE.encode())
        elif path == ARTICLES["error500"]:
            self._send(500, b"<html><body>Internal Server Error</body></html>")
        elif path == ARTICLES["reset"]:
            # Drop the connection without any response (RST instead of FIN).
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif path == ARTICLES["loop"]:
            self._send(302, b"", headers={"Location": "/news/loop-b.html"})
        elif path == "/news/loop-b.html":
            self._send(302, b"", headers={"Location": ARTICLES["loop"]})
        elif path.startswith("/news/chain/"):
            n = int(path.rsplit("/", 1)[1].split(".")[0])
            self._send(302, b"", headers={"Location": f"/news/chain/{n + 1}.html"})
        elif path == ARTICLES["big"]:
            self._send(200, BIG_PAGE)
        else:
            self._send(404, b"<html><body>Not found</body></html>")

    def finish(self) -> None:
        # the reset endpoint closed the socket already
        with contextlib.suppress(OSError, ValueError):
            super().finish()


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.base = f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    srv = FaultServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def write_sources(path: Path, base: str, feeds: list[str], allow_private: bool) -> Path:
    entry: dict[str, object] = {
        "id": "testblatt",
        "name": "Testblatt",
        "city": "Oberhausen",
        "country": "DE",
        "lang": "de",
        "feeds": [base + f for f in feeds],
    }
    if allow_private:
        entry["allow_private"] = True
    path.write_text(yaml.safe_dump({"sources": [entry]}), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Crawled:
    result: CrawlResult
    hits: Counter[str]
    base: str

    def outcomes(self, path: str) -> list[FetchOutcome]:
        return [o for o in self.result.outcomes if o.url == self.base + path]

    def error(self, path: str) -> str:
        """The error of the one outcome for ``path`` (fails when there is none or several)."""
        found = self.outcomes(path)
        assert len(found) == 1, f"{path}: expected one outcome, got {found}"
        assert found[0].error, f"{path}: no error recorded: {found[0]}"
        return found[0].error


@pytest.fixture(scope="module")
def crawled(server: FaultServer, tmp_path_factory: pytest.TempPathFactory) -> Crawled:
    """One crawl with a source that allows loopback, the global switch left off."""
    base = tmp_path_factory.mktemp("crawl")
    sources = write_sources(base / "sources.yaml", server.base, list(FEEDS.values()), True)
    settings = Settings(download_timeout=3, download_maxsize=MAXSIZE)
    result = crawl(sources, base / "out", settings, newsroom=None, timeout=120)
    with server.lock:
        hits = Counter(server.hits)
    server.hits.clear()
    return Crawled(result, hits, server.base)


def test_good_article_is_fetched_from_the_feed(crawled: Crawled) -> None:
    pages = [p for p in crawled.result.pages if p.url == crawled.base + ARTICLES["good"]]
    assert len(pages) == 1
    page = pages[0]
    assert page.source_id == "testblatt"
    assert "Radwegenetz" in page.html
    assert page.feed_title.startswith("Artikel")
    assert page.feed_published is not None and page.feed_published.year == 2026
    feed = crawled.outcomes(FEEDS["main"])
    assert len(feed) == 1 and feed[0].error is None and feed[0].status == 200
    good = crawled.outcomes(ARTICLES["good"])
    assert [(o.kind, o.status, o.error) for o in good] == [("article", 200, None)]


def test_no_faulty_article_becomes_a_page(crawled: Crawled) -> None:
    fetched = {p.url for p in crawled.result.pages}
    faulty = {crawled.base + p for k, p in ARTICLES.items() if k not in ("good", "robots")}
    assert crawled.base + ARTICLES["good"] in fetched
    assert not fetched & faulty
    assert not any("/news/chain/" in u or "loop-b" in u for u in fetched)


def test_server_error_is_retried_then_recorded(crawled: Crawled) -> None:
    assert crawled.hits[ARTICLES["error500"]] == 1 + RETRY_TIMES
    assert crawled.error(ARTICLES["error500"]) == "HTTP 500"
    assert crawled.outcomes(ARTICLES["error500"])[0].status == 500


def test_connection_reset_is_recorded(crawled: Crawled) -> None:
    assert crawled.hits[ARTICLES["reset"]] >= 1
    error = crawled.error(ARTICLES["reset"])
    assert crawled.outcomes(ARTICLES["reset"])[0].status is None
    assert any(word in error for word in ("Connection", "Response", "lost", "reset")), error


def test_redirect_loop_is_recorded(crawled: Crawled) -> None:
    assert crawled.error(ARTICLES["loop"])


def test_endless_redirect_chain_stops_at_the_limit(crawled: Crawled) -> None:
    # The outcome names the URL the feed announced; the reason names the hop it gave up at.
    chain = [o for o in crawled.result.outcomes if o.url.startswith(crawled.base + "/news/chain/")]
    assert len(chain) == 1
    assert chain[0].url == crawled.base + ARTICLES["chain"]
    assert chain[0].error and "redirect" in chain[0].error.lower()
    assert "last " + crawled.base + "/news/chain/" in chain[0].error
    hops = [p for p in crawled.hits if p.startswith("/news/chain/")]
    assert 2 <= len(hops) <= 7  # REDIRECT_MAX_TIMES 5: the crawler gives up, no endless loop


def test_html_served_as_feed_is_recorded(crawled: Crawled) -> None:
    found = crawled.outcomes(FEEDS["html"])
    assert len(found) == 1 and found[0].kind == "feed"
    assert found[0].error and "feed" in found[0].error


def test_empty_feed_is_recorded(crawled: Crawled) -> None:
    assert crawled.error(FEEDS["empty"]) == "feed has no entries with links"


def test_page_over_maxsize_is_refused(crawled: Crawled) -> None:
    error = crawled.error(ARTICLES["big"])
    assert crawled.outcomes(ARTICLES["big"])[0].kind == "article"
    assert "size" in error.lower() or "cancel" in error.lower(), error


def test_404_is_recorded_without_retry(crawled: Crawled) -> None:
    assert crawled.error(ARTICLES["missing"]) == "HTTP 404"
    assert crawled.hits[ARTICLES["missing"]] == 1


def check_robots(run: Crawled) -> None:
    assert run.hits["/robots.txt"] >= 1
    assert run.hits[ARTICLES["robots"]] == 0
    assert "robots" in run.error(ARTICLES["robots"]).lower()
    assert run.base + ARTICLES["robots"] not in {p.url for p in run.result.pages}


def test_robots_disallowed_article_is_not_fetched_per_outlet_allow(crawled: Crawled) -> None:
    check_robots(crawled)


def test_robots_disallowed_article_is_not_fetched_global_allow(
    server: FaultServer, tmp_path: Path
) -> None:
    sources = write_sources(tmp_path / "sources.yaml", server.base, ["/feeds/robots.xml"], True)
    settings = Settings(download_timeout=3, download_maxsize=MAXSIZE, allow_private=True)
    with server.lock:
        server.hits.clear()
    result = crawl(sources, tmp_path / "out", settings, newsroom=None, timeout=60)
    with server.lock:
        hits = Counter(server.hits)
    run = Crawled(result, hits, server.base)
    check_robots(run)
    assert [p.url for p in result.pages] == [server.base + ARTICLES["good"]]


def test_every_outcome_has_a_kind_and_a_source(crawled: Crawled) -> None:
    assert crawled.result.outcomes
    for outcome in crawled.result.outcomes:
        assert outcome.kind in ("feed", "sitemap", "article")
        assert outcome.source_id == "testblatt"
        if outcome.error is None:
            assert outcome.status == 200, outcome
        else:
            assert outcome.error.strip(), outcome


def test_private_address_is_refused_without_allow_private(
    server: FaultServer, tmp_path: Path
) -> None:
    sources = write_sources(tmp_path / "sources.yaml", server.base, [FEEDS["main"]], False)
    settings = Settings(download_timeout=3, download_maxsize=MAXSIZE, allow_private=False)
    before = sum(server.hits.values())
    result = crawl(sources, tmp_path / "out", settings, newsroom=None, timeout=60)
    assert sum(server.hits.values()) == before  # not even robots.txt was requested
    assert result.pages == ()
    feed = [o for o in result.outcomes if o.url == server.base + FEEDS["main"]]
    assert len(feed) == 1
    assert feed[0].error is not None and "private address" in feed[0].error
    assert feed[0].status is None


def test_non_http_links_in_a_sitemap_are_refused(tmp_path: Path) -> None:
    """A sitemap must not make the crawler read local files (file://, data:)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret", encoding="utf-8")
    body = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>file://{secret}</loc></url>"
        "<url><loc>data:text/html,hello</loc></url></urlset>"
    ).encode()

    class Sitemap(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/sitemap.xml" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.end_headers()
            self.wfile.write(body if status == 200 else b"")

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Sitemap)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        entry = {
            "id": "t",
            "name": "T",
            "city": "X",
            "country": "DE",
            "lang": "de",
            "allow_private": True,
            "sitemaps": [base + "/sitemap.xml"],
        }
        sources = tmp_path / "s.yaml"
        sources.write_text(yaml.safe_dump({"sources": [entry]}), encoding="utf-8")
        result = crawl(sources, tmp_path / "out", Settings(download_timeout=3))
    finally:
        srv.shutdown()
        srv.server_close()
    assert not result.pages
    refused = [o for o in result.outcomes if o.kind == "article"]
    assert len(refused) == 2 and all(o.error == "not an http(s) URL" for o in refused)
