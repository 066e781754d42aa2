"""The real crawler (scrapy in its subprocess) against a loopback server full of faults.

One crawl per module covers two outlets on the same FaultServer: ``testblatt`` (global
limits: timeout 5 s, 200 kB, one retry, three redirects) whose feeds lead to every fault a
crawler must survive and report, and ``hasty`` (its own timeout of 1.5 s, 100 kB, no retries)
whose pages would be fine under the global limits: each per-outlet limit is proven by the
same fault succeeding for ``testblatt`` and failing for ``hasty``. Each test checks one case
in the crawl's outcomes and in the server's hit counts.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Settings
from tests.spiders.crawling import TEST_BACKOFF, Crawled, outlet, run_crawl
from tests.spiders.faultserver import (
    FaultServer,
    article,
    gzip_bomb,
    gzipped,
    redirect,
    reset,
    rss,
    sitemap,
    slow,
    static,
    stream,
)

MAXSIZE = 200_000
HASTY_MAXSIZE = 100_000
HASTY_TIMEOUT = 1.5  # leaves room for a loaded CI machine to serve hasty's feed in time
MAX_RETRIES = 1  # global; scrapy's own default is 2, so a pass-through bug shows
MAX_REDIRECTS = 3
SETTINGS = Settings(
    download_timeout=5,
    download_maxsize=MAXSIZE,
    max_retries=MAX_RETRIES,
    max_redirects=MAX_REDIRECTS,
    retry_backoff=TEST_BACKOFF,
)
FAST: dict[str, Any] = {"download_delay": 0, "concurrency": 8}  # no AutoThrottle pauses in tests
METADATA = "http://169.254.169.254/latest/meta-data/"

HR = "Gradsko vijeće raspravljalo je o smještaju; đaci, žitelji i Ćiro traže šatore."
# Charset detection (scrapy's fallback without any declaration) needs a real paragraph.
HR_LONG = (
    "Gradsko vijeće Siska raspravljalo je u četvrtak o smještaju tražitelja azila. Načelnik"
    " je rekao da će se đaci iz susjedne škole uključiti u pomoć, a žitelji ulice Ćire"
    " Truhelke poručili su da žele više informacija o šatorima."
)
PL = "Rada miasta przyjęła uchwałę: żłobki, szkoły i mieszkańcy dostaną pomoc, cześć."


def charset_page(text: str, head: str = "") -> str:
    """An article page in a non-ASCII language; ``head`` adds a meta charset."""
    return f"<html><head>{head}<title>T</title></head><body><p>{text}</p></body></html>"


def routes(server: FaultServer, other: FaultServer) -> dict[str, str]:
    """Register every fixture; return their URLs by name."""
    r = server.route
    urls = {
        "good": r("/news/good.html", static(article("Neues Radwegenetz beschlossen"))),
        "gzipped": r("/news/gzipped.html", gzipped(article("Komprimiert"))),
        "no_text": r("/news/no-text.html", static("<html><body><nav>Menü</nav></body></html>")),
        "error500": r("/news/error500.html", static(b"oops", status=500)),
        "error503": r("/news/error503.html", static(b"busy", status=503)),
        "gone": r("/news/gone.html", static(b"gone", status=410)),
        "missing": server.base + "/news/missing.html",  # no route: 404
        "reset": r("/news/reset.html", reset()),
        "loop": r("/news/loop-a.html", redirect("/news/loop-b.html")),
        "chain": server.base + "/news/chain/1.html",
        "big": r("/news/big.html", static(b"<html><body><p>" + b"x" * 1_000_000 + b"</p>")),
        "huge_stream": r("/news/huge-stream.html", stream(50_000_000, content_length=False)),
        "huge_declared": r("/news/huge-declared.html", stream(50_000_000, content_length=True)),
        "bomb": r("/news/bomb.html", gzip_bomb(150_000_000)),
        "robots": r("/private/secret.html", static(article("Geheim"))),
        "elsewhere": r("/news/elsewhere.html", redirect(other.base + "/internal.html")),
        "slow": r("/slow/testblatt.html", slow(3.0)),
        "sized": r("/sized/testblatt.html", static(b"<html><body>" + b"y" * 150_000)),
        "win1250_latin1": r(
            "/charset/win1250-header-latin1.html",
            static(
                charset_page(PL, '<meta charset="windows-1250">').encode("cp1250"),
                "text/html; charset=ISO-8859-1",
            ),
        ),
        "latin2_meta": r(
            "/charset/latin2-meta.html",
            static(
                charset_page(
                    HR,
                    '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2">',
                ).encode("iso-8859-2"),
                "text/html",
            ),
        ),
        "utf8_bom": r(
            "/charset/utf8-bom.html",
            static(b"\xef\xbb\xbf" + charset_page(PL + " " + HR).encode(), "text/html"),
        ),
        "utf8_bare": r("/charset/utf8-bare.html", static(charset_page(HR).encode(), "text/html")),
        "win1250_bare": r(
            "/charset/win1250-bare.html",
            static(charset_page(HR_LONG).encode("cp1250"), "text/html"),
        ),
        # hasty's copies of the slow and the sized page, and its own server error
        "hasty_slow": r("/slow/hasty.html", slow(3.0)),
        "hasty_sized": r("/sized/hasty.html", static(b"<html><body>" + b"y" * 150_000)),
        "hasty_error500": r("/news/error500-hasty.html", static(b"oops", status=500)),
    }
    r("/news/loop-b.html", redirect("/news/loop-a.html"))
    for n in range(1, 20):
        r(f"/news/chain/{n}.html", redirect(f"/news/chain/{n + 1}.html"))
    r("/robots.txt", static(b"User-agent: *\nDisallow: /private/\n", "text/plain"))
    other.route("/internal.html", static(article("Intern")))
    return urls


def feeds(server: FaultServer, urls: dict[str, str]) -> dict[str, str]:
    """Register the feeds; return their URLs by name."""
    r = server.route
    main = [u for k, u in urls.items() if not k.startswith("hasty")] + [METADATA]
    good = rss([urls["good"]]).decode()
    return {
        "main": r("/feeds/main.xml", static(rss(main), "application/rss+xml")),
        "hasty": r(
            "/feeds/hasty.xml",
            static(
                rss([urls["hasty_slow"], urls["hasty_sized"], urls["hasty_error500"]]),
                "application/rss+xml",
            ),
        ),
        "html": r(
            "/feeds/html.xml",
            static(
                b"<!DOCTYPE html><html><body><h1>Startseite</h1><div><span></p></body></html>",
                "application/rss+xml",
            ),
        ),
        "empty": r("/feeds/empty.xml", static(rss([]), "application/rss+xml")),
        # an unescaped & makes it not well-formed; feedparser's loose parser recovers the item
        "partial": r(
            "/feeds/partial.xml",
            static(good.replace("<title>Testblatt", "<title>Kultur & Sport"), "application/xml"),
        ),
        "broken": r("/feeds/broken.xml", static(b"<rss><channel><item><<<\x00>>>", "text/xml")),
        "gone": r("/feeds/gone.xml", static(b"", status=410)),
        "sitemap_broken": r("/sitemaps/broken.xml", static(sitemap([urls["good"]])[:60])),
        # a .xml.gz (no Content-Encoding) that inflates past download_maxsize
        "sitemap_gz_large": r(
            "/sitemaps/large.xml.gz",
            static(gzip.compress(sitemap([urls["good"]]) + b" " * 2 * MAXSIZE), "application/gzip"),
        ),
    }


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FaultServer, FaultServer]]:
    """The outlets' server and another loopback port no outlet declares."""
    with FaultServer() as server, FaultServer() as other:
        yield server, other


@pytest.fixture(scope="module")
def fixtures(servers: tuple[FaultServer, FaultServer]) -> dict[str, str]:
    """Every route's URL by name (articles and feeds)."""
    server, other = servers
    urls = routes(server, other)
    return {**urls, **{f"feed_{k}": u for k, u in feeds(server, urls).items()}}


@pytest.fixture(scope="module")
def crawled(
    servers: tuple[FaultServer, FaultServer],
    fixtures: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Crawled:
    """One crawl of both outlets, loopback allowed per outlet, the global switch left off."""
    testblatt = outlet(
        "testblatt",
        feeds=[fixtures[f"feed_{k}"] for k in ("main", "html", "empty", "partial", "broken")]
        + [fixtures["feed_gone"]],
        sitemaps=[fixtures["feed_sitemap_broken"], fixtures["feed_sitemap_gz_large"]],
        **FAST,
    )
    hasty = outlet(
        "hasty",
        feeds=[fixtures["feed_hasty"]],
        download_timeout=HASTY_TIMEOUT,
        download_maxsize=HASTY_MAXSIZE,
        max_retries=0,
        **FAST,
    )
    folder = tmp_path_factory.mktemp("crawl")
    started = time.monotonic()
    run = run_crawl(list(servers), folder, [testblatt, hasty], SETTINGS)
    # Nothing may wait for 169.254.169.254 or for the endless bodies: the faults cost seconds.
    assert time.monotonic() - started < 30
    return run


def test_good_article_is_fetched_from_the_feed(crawled: Crawled, fixtures: dict[str, str]) -> None:
    page = crawled.page(fixtures["good"])
    assert page.source_id == "testblatt"
    assert "Radwegenetz" in page.html
    assert page.feed_title.startswith("Artikel")
    assert page.feed_published is not None and page.feed_published.year == 2026
    feed = crawled.outcome(fixtures["feed_main"])
    assert (feed.kind, feed.status, feed.error) == ("feed", 200, None)
    good = crawled.outcome(fixtures["good"])
    assert (good.kind, good.status, good.error, good.note) == ("article", 200, None, "")


def test_gzip_encoded_page_is_decompressed(crawled: Crawled, fixtures: dict[str, str]) -> None:
    assert "Komprimiert" in crawled.page(fixtures["gzipped"]).html


def test_page_without_article_text_still_arrives(
    crawled: Crawled, fixtures: dict[str, str]
) -> None:
    """Extraction rejects it later, with its own reason; the crawler only fetches."""
    assert "Menü" in crawled.page(fixtures["no_text"]).html
    assert crawled.outcome(fixtures["no_text"]).error is None


FAULTY = [
    *("error500", "error503", "gone", "missing", "reset", "loop", "chain", "big"),
    *("huge_stream", "huge_declared", "bomb", "robots", "elsewhere"),
    *("hasty_slow", "hasty_sized", "hasty_error500"),
]


def test_no_faulty_article_becomes_a_page(crawled: Crawled, fixtures: dict[str, str]) -> None:
    assert fixtures["good"] in crawled.urls()
    assert not crawled.urls() & {fixtures[name] for name in FAULTY}
    assert not any("/news/chain/" in u or "loop-b" in u for u in crawled.urls())
    assert METADATA not in crawled.urls()


@pytest.mark.parametrize(
    ("name", "status", "hits"),
    [
        ("error500", 500, 1 + MAX_RETRIES),
        ("error503", 503, 1 + MAX_RETRIES),
        ("gone", 410, 1),
        ("missing", 404, 1),
        ("hasty_error500", 500, 1),  # hasty's max_retries: 0 beats the global 1
    ],
)
def test_http_errors_are_retried_as_configured_then_recorded(
    crawled: Crawled, fixtures: dict[str, str], name: str, status: int, hits: int
) -> None:
    url = fixtures[name]
    assert crawled.hits[url] == hits
    assert crawled.error(url) == f"HTTP {status}"
    assert crawled.outcome(url).status == status


def test_connection_reset_is_recorded(crawled: Crawled, fixtures: dict[str, str]) -> None:
    url = fixtures["reset"]
    assert crawled.hits[url] == 1 + MAX_RETRIES  # a lost connection is worth a retry
    error = crawled.error(url)
    assert crawled.outcome(url).status is None
    assert error.startswith("connection failed: ConnectionLost: "), error


def test_redirect_loop_is_recorded(crawled: Crawled, fixtures: dict[str, str]) -> None:
    error = crawled.error(fixtures["loop"])
    assert error.startswith("max redirections reached"), error
    assert crawled.hits[fixtures["loop"]] == 2  # a, b, a, b: stopped at REDIRECT_MAX_TIMES 3


def test_endless_redirect_chain_stops_at_the_limit(
    crawled: Crawled, fixtures: dict[str, str]
) -> None:
    # The outcome names the URL the feed announced; the reason names the hop it gave up at.
    base = fixtures["chain"].rsplit("/", 1)[0]
    chain = [o for o in crawled.result.outcomes if o.url.startswith(base)]
    assert [o.url for o in chain] == [fixtures["chain"]]
    assert chain[0].error == (
        f"max redirections reached (after {MAX_REDIRECTS} redirects, last {base}/4.html)"
    )
    hops = [u for u in crawled.hits if u.startswith(base)]
    assert len(hops) == 1 + MAX_REDIRECTS


def test_per_outlet_timeout_makes_a_slow_page_time_out(
    crawled: Crawled, fixtures: dict[str, str]
) -> None:
    """3 s is fine under the global 5 s (testblatt) and too slow for hasty's own 1.5 s."""
    assert "<p>slow</p>" in crawled.page(fixtures["slow"]).html
    url = fixtures["hasty_slow"]
    assert crawled.error(url) == f"timeout: no complete answer within {HASTY_TIMEOUT} s"
    assert crawled.outcome(url).status is None
    assert crawled.hits[url] == 1  # hasty's max_retries: 0 (a timeout is retried otherwise)


def test_per_outlet_maxsize_refuses_a_page_the_global_limit_accepts(
    crawled: Crawled, fixtures: dict[str, str]
) -> None:
    assert len(crawled.page(fixtures["sized"]).html) > 150_000
    error = crawled.error(fixtures["hasty_sized"])
    assert error == f"too large: over download_maxsize ({HASTY_MAXSIZE} bytes)"


@pytest.mark.parametrize("name", ["big", "huge_declared", "huge_stream"])
def test_page_over_maxsize_is_refused(
    crawled: Crawled, servers: tuple[FaultServer, FaultServer], fixtures: dict[str, str], name: str
) -> None:
    url = fixtures[name]
    assert crawled.outcome(url).kind == "article"
    assert crawled.error(url) == f"too large: over download_maxsize ({MAXSIZE} bytes)"
    assert crawled.hits[url] == 1  # a size limit is not worth a retry


def test_endless_body_without_length_is_cut_during_the_download(
    crawled: Crawled, servers: tuple[FaultServer, FaultServer], fixtures: dict[str, str]
) -> None:
    """No Content-Length: the limit trips mid-download and the client hangs up."""
    written = servers[0].sent["/news/huge-stream.html"]
    assert MAXSIZE < written < 20_000_000, written  # far less than the 50 MB on offer


def test_gzip_bomb_is_refused_while_inflating(crawled: Crawled, fixtures: dict[str, str]) -> None:
    url = fixtures["bomb"]
    assert crawled.error(url) == (
        f"too large: over download_maxsize ({MAXSIZE} bytes) once decompressed"
    )
    assert crawled.hits[url] == 1


@pytest.mark.parametrize(
    ("name", "text", "encoding", "note"),
    [
        (
            "win1250_latin1",
            PL,
            "cp1250",
            "decoded from cp1250 (declared in the page; the header said cp1252)",
        ),
        ("latin2_meta", HR, "iso8859-2", "decoded from iso8859-2"),
        ("utf8_bom", PL + " " + HR, "utf-8", ""),
        ("utf8_bare", HR, "utf-8", ""),
        ("win1250_bare", HR_LONG, "cp1250", "decoded from cp1250"),
    ],
)
def test_wrong_or_missing_charsets_decode_to_the_right_letters(
    crawled: Crawled, fixtures: dict[str, str], name: str, text: str, encoding: str, note: str
) -> None:
    page = crawled.page(fixtures[name])
    assert text in page.html
    assert page.encoding == encoding
    assert crawled.outcome(fixtures[name]).note == note


def test_html_served_as_feed_is_recorded(crawled: Crawled, fixtures: dict[str, str]) -> None:
    found = crawled.outcome(fixtures["feed_html"])
    assert (found.kind, found.status) == ("feed", 200)
    assert found.error == "not a feed: the URL serves an HTML page"


def test_empty_feed_is_recorded(crawled: Crawled, fixtures: dict[str, str]) -> None:
    assert crawled.error(fixtures["feed_empty"]) == "feed has no entries with links"


def test_malformed_feed_with_recoverable_entries_is_noted(
    crawled: Crawled, fixtures: dict[str, str]
) -> None:
    found = crawled.outcome(fixtures["feed_partial"])
    assert (found.status, found.error) == (200, None)
    assert found.note.startswith("not well-formed (") and "entries recovered" in found.note
    # its one entry (the good article) is requested once, though main lists it too
    assert crawled.hits[fixtures["good"]] == 1


def test_unrecoverable_feed_is_an_error(crawled: Crawled, fixtures: dict[str, str]) -> None:
    found = crawled.outcome(fixtures["feed_broken"])
    assert found.status == 200
    assert found.error is not None and found.error.startswith("malformed feed ("), found


def test_gone_feed_and_broken_sitemap_are_recorded(
    crawled: Crawled, fixtures: dict[str, str]
) -> None:
    assert crawled.error(fixtures["feed_gone"]) == "HTTP 410"
    assert crawled.outcome(fixtures["feed_gone"]).kind == "feed"
    sitemap = crawled.outcome(fixtures["feed_sitemap_broken"])
    assert sitemap.kind == "sitemap" and sitemap.error, sitemap
    assert sitemap.error.startswith("unusable sitemap: ")


def test_gzipped_sitemap_is_inflated_only_up_to_maxsize(
    crawled: Crawled, fixtures: dict[str, str]
) -> None:
    assert crawled.error(fixtures["feed_sitemap_gz_large"]) == (
        f"too large: over download_maxsize ({MAXSIZE} bytes) once gunzipped"
    )


def test_link_local_metadata_address_is_blocked_before_connecting(crawled: Crawled) -> None:
    """The outlet may reach its own loopback port, not the cloud metadata service."""
    found = crawled.outcome(METADATA)
    assert (found.kind, found.status) == ("article", None)
    assert found.error == "blocked: 169.254.169.254 resolves to private address 169.254.169.254"


def test_redirect_to_an_undeclared_loopback_port_is_blocked(
    crawled: Crawled, servers: tuple[FaultServer, FaultServer], fixtures: dict[str, str]
) -> None:
    other = servers[1]
    url = fixtures["elsewhere"]
    assert crawled.hits[url] == 1
    assert not [u for u in crawled.hits if u.startswith(other.base)]  # never reached
    assert crawled.error(url) == (
        "blocked: 127.0.0.1 resolves to private address 127.0.0.1"
        f" (after 1 redirects, last {other.base}/internal.html)"
    )


def check_robots(run: Crawled, base: str) -> None:
    assert run.hits[base + "/robots.txt"] >= 1
    assert run.hits[base + "/private/secret.html"] == 0
    assert run.error(base + "/private/secret.html") == "Forbidden by robots.txt"
    assert base + "/private/secret.html" not in run.urls()


def test_robots_disallowed_article_is_not_fetched_per_outlet_allow(
    crawled: Crawled, servers: tuple[FaultServer, FaultServer]
) -> None:
    check_robots(crawled, servers[0].base)


def test_every_failure_has_url_status_and_a_clear_error(crawled: Crawled) -> None:
    assert len(crawled.result.outcomes) > 30
    for outcome in crawled.result.outcomes:
        assert outcome.kind in ("feed", "sitemap", "article"), outcome
        assert outcome.source_id in ("testblatt", "hasty"), outcome
        assert outcome.url.startswith("http"), outcome
        if outcome.error is None:
            assert outcome.status == 200, outcome
        else:
            assert outcome.error.strip() and "Error: \n" not in outcome.error, outcome
            assert outcome.status is None or outcome.status >= 200, outcome


def test_robots_disallowed_article_is_not_fetched_global_allow(
    servers: tuple[FaultServer, FaultServer], fixtures: dict[str, str], tmp_path: Path
) -> None:
    server = servers[0]
    feed = server.route(
        "/feeds/robots.xml",
        static(rss([fixtures["good"], fixtures["robots"]]), "application/rss+xml"),
    )
    entry = outlet("robots", feeds=[feed], allow_private=False)
    settings = Settings(
        download_timeout=3, download_maxsize=MAXSIZE, allow_private=True, retry_backoff=TEST_BACKOFF
    )
    run = run_crawl([server], tmp_path, [entry], settings)
    check_robots(run, server.base)
    assert [p.url for p in run.result.pages] == [fixtures["good"]]


def test_private_address_is_refused_without_allow_private(
    servers: tuple[FaultServer, FaultServer], fixtures: dict[str, str], tmp_path: Path
) -> None:
    server = servers[0]
    entry = outlet("closed", feeds=[fixtures["feed_main"]], allow_private=False)
    run = run_crawl(
        [server], tmp_path, [entry], Settings(download_timeout=3, retry_backoff=TEST_BACKOFF)
    )
    assert not run.hits  # not even robots.txt was requested
    assert run.result.pages == ()
    feed = run.outcome(fixtures["feed_main"])
    assert feed.error == "blocked: 127.0.0.1 resolves to private address 127.0.0.1"
    assert feed.status is None


def test_non_http_links_in_a_sitemap_are_refused(tmp_path: Path) -> None:
    """A sitemap must not make the crawler read local files (file://, data:)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret", encoding="utf-8")
    body = sitemap([f"file://{secret}", "data:text/html,hello"])
    with FaultServer() as server:
        url = server.route("/sitemap.xml", static(body, "application/xml"))
        run = run_crawl([server], tmp_path, [outlet("t", sitemaps=[url])])
    assert not run.result.pages
    refused = [o for o in run.result.outcomes if o.kind == "article"]
    assert len(refused) == 2 and all(o.error == "not an http(s) URL" for o in refused)
