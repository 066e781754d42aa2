"""Feed formats, sitemaps, feed autodiscovery and deduplication, in one real crawl.

Outlets on one FaultServer: ``formats`` declares a feed in each format feedparser must read
(RSS 0.91, RSS 1.0/RDF, RSS 2.0, Atom, Atom without published dates); ``maps`` a plain
sitemap, a sitemap index (listing itself too), a Google News sitemap and a gzipped one;
``discover`` and ``homeonly`` have home pages whose ``<link rel="alternate">`` feeds are
discovered; ``nofeed`` and ``jsononly`` home pages advertise nothing readable; ``dups`` has
feeds that repeat articles.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.urls import url_key
from tests.spiders.crawling import Crawled, outlet, run_crawl
from tests.spiders.faultserver import (
    FaultServer,
    article,
    atom,
    homepage,
    news_sitemap,
    rdf,
    rss,
    rss091,
    sitemap,
    sitemap_index,
    static,
)

FAST: dict[str, Any] = {"download_delay": 0, "concurrency": 8}
RSS = "application/rss+xml"
ATOM = "application/atom+xml"


def page(server: FaultServer, path: str) -> str:
    """Serve a small article at ``path``; return its URL."""
    return server.route(path, static(article(path)))


def feed(server: FaultServer, path: str, body: bytes, ctype: str = RSS) -> str:
    """Serve a feed or sitemap at ``path``; return its URL."""
    return server.route(path, static(body, ctype))


def format_feeds(server: FaultServer) -> dict[str, str]:
    """One feed per format, each announcing its own article."""
    makers = {
        "rss091": rss091,
        "rdf": rdf,
        "rss2": rss,
        "atom": atom,
        "atom_updated": lambda links: atom(links, published=False),
    }
    return {
        name: feed(server, f"/formats/{name}.xml", make([page(server, f"/formats/{name}.html")]))
        for name, make in makers.items()
    }


def sitemaps(server: FaultServer) -> dict[str, str]:
    """A urlset, a sitemap index (with a relative child and itself) and a Google News map."""
    child = feed(server, "/maps/child.xml", sitemap([page(server, "/maps/child.html")]))
    index = server.base + "/maps/index.xml"
    feed(server, "/maps/index.xml", sitemap_index([child, index]), "application/xml")
    return {
        "plain": feed(server, "/maps/plain.xml", sitemap([page(server, "/maps/plain.html")])),
        "index": index,
        "child": child,
        "news": feed(server, "/maps/news.xml", news_sitemap([page(server, "/maps/news.html")])),
        # .xml.gz as files are served: gzip data, no Content-Encoding
        "gz": feed(
            server,
            "/maps/daily.xml.gz",
            gzip.compress(news_sitemap([page(server, "/maps/gz.html")])),
            "application/x-gzip",
        ),
    }


def homepages(server: FaultServer) -> dict[str, str]:
    """Home pages advertising feeds (relative, absolute, repeated, declared) or none."""
    rss_feed = feed(server, "/d/rss.xml", rss([page(server, "/d/from-rss.html")]))
    atom_feed = feed(server, "/d/atom.xml", atom([page(server, "/d/from-atom.html")]))
    declared = feed(server, "/d/declared.xml", rss([page(server, "/d/declared.html")]))
    feed(server, "/h2/feed.xml", rss([page(server, "/h2/from-home.html")]))
    advertised = [
        (RSS, "/d/rss.xml"),  # relative to the host
        (ATOM, atom_feed),
        ("application/rss+xml; charset=utf-8", rss_feed),  # the same feed again
        (RSS, declared),  # declared in the sources file already
        ("application/feed+json", "/d/feed.json"),  # JSON Feed: not read
        ("text/css", "/d/style.css"),
    ]
    return {
        "discover": server.route("/d/", static(homepage(advertised))),
        "homeonly": server.route("/h2/", static(homepage([(RSS, "feed.xml")]))),
        "nofeed": server.route("/n/", static(homepage([]))),
        "jsononly": server.route(
            "/j/", static(homepage([("application/feed+json", "/j/feed.json")]))
        ),
        "rss": rss_feed,
        "atom": atom_feed,
        "declared": declared,
        "h2feed": server.base + "/h2/feed.xml",
    }


def duplicates(server: FaultServer) -> dict[str, str]:
    """Feeds that repeat an article, list it with a tracking parameter, or share one."""
    a, b = page(server, "/dup/a.html"), page(server, "/dup/b.html")
    known = page(server, "/dup/known.html")
    return {
        "a": a,
        "b": b,
        "known": known,
        "one": feed(server, "/dup/one.xml", rss([a, a, a + "?utm_source=rss", b, known])),
        "two": feed(server, "/dup/two.xml", rss([b, a + "#top"])),
    }


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    """The outlets' loopback server."""
    with FaultServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def urls(server: FaultServer) -> dict[str, dict[str, str]]:
    """Every fixture's URL, by group and name."""
    return {
        "formats": format_feeds(server),
        "maps": sitemaps(server),
        "home": homepages(server),
        "dup": duplicates(server),
    }


@pytest.fixture(scope="module")
def crawled(
    server: FaultServer, urls: dict[str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Crawled:
    """One crawl of every outlet; one article is known (stored) already."""
    maps, home, dup = urls["maps"], urls["home"], urls["dup"]
    entries = [
        outlet("formats", feeds=list(urls["formats"].values()), **FAST),
        outlet("maps", sitemaps=[maps["plain"], maps["index"], maps["news"], maps["gz"]], **FAST),
        outlet("discover", homepages=[home["discover"]], feeds=[home["declared"]], **FAST),
        outlet("homeonly", homepage=home["homeonly"], **FAST),
        outlet("nofeed", homepage=home["nofeed"], **FAST),
        outlet("jsononly", homepages=[home["jsononly"]], **FAST),
        outlet("dups", feeds=[dup["one"], dup["two"]], **FAST),
    ]
    known = frozenset({url_key(dup["known"])})  # the store hands over keys, not URLs
    folder = tmp_path_factory.mktemp("feeds")
    return run_crawl([server], folder, entries, known=known)


@pytest.mark.parametrize(
    ("name", "title", "dated"),
    [
        ("rss091", "Old 0", False),
        ("rdf", "RDF 0", False),  # dc:date: feedparser files it as updated, not published
        ("rss2", "Artikel 0", True),
        ("atom", "Atom 0", True),  # published, not the later updated
        ("atom_updated", "Atom 0", False),  # updated alone is a modification date
    ],
)
def test_every_feed_format_parses(
    crawled: Crawled,
    server: FaultServer,
    urls: dict[str, dict[str, str]],
    name: str,
    title: str,
    dated: bool,
) -> None:
    found = crawled.outcome(urls["formats"][name])
    assert (found.kind, found.status, found.error, found.note) == ("feed", 200, None, "")
    fetched = crawled.page(f"{server.base}/formats/{name}.html")
    assert fetched.source_id == "formats"
    assert fetched.feed_title == title
    if dated:
        assert fetched.feed_published is not None
        assert fetched.feed_published.isoformat() == "2026-11-17T08:00:00+00:00"
    else:
        assert fetched.feed_published is None  # no date, or only a modification date


def test_plain_sitemap_is_read(crawled: Crawled, server: FaultServer, urls: dict) -> None:
    found = crawled.outcome(urls["maps"]["plain"])
    assert (found.kind, found.status, found.error) == ("sitemap", 200, None)
    fetched = crawled.page(server.base + "/maps/plain.html")
    assert fetched.feed_published is None  # <lastmod> is when it changed, not published


def test_gzipped_sitemap_is_inflated(crawled: Crawled, server: FaultServer, urls: dict) -> None:
    found = crawled.outcome(urls["maps"]["gz"])
    assert (found.kind, found.status, found.error) == ("sitemap", 200, None)
    fetched = crawled.page(server.base + "/maps/gz.html")
    assert fetched.feed_title == "News 0" and fetched.feed_published is not None


def test_sitemap_index_is_followed_once_even_when_it_lists_itself(
    crawled: Crawled, server: FaultServer, urls: dict
) -> None:
    index = crawled.outcome(urls["maps"]["index"])
    assert (index.status, index.error, index.note) == (200, None, "sitemap index of 2")
    assert crawled.hits[urls["maps"]["index"]] == 1
    assert crawled.outcome(urls["maps"]["child"]).kind == "sitemap"
    assert crawled.hits[urls["maps"]["child"]] == 1
    assert server.base + "/maps/child.html" in crawled.urls()


def test_google_news_sitemap_gives_titles_and_dates(
    crawled: Crawled, server: FaultServer, urls: dict
) -> None:
    assert crawled.outcome(urls["maps"]["news"]).error is None
    fetched = crawled.page(server.base + "/maps/news.html")
    assert fetched.feed_title == "News 0"
    assert fetched.feed_published is not None
    assert fetched.feed_published.isoformat() == "2026-11-17T08:00:00+00:00"


def test_home_page_feeds_are_discovered(crawled: Crawled, server: FaultServer, urls: dict) -> None:
    home = urls["home"]
    found = crawled.outcome(home["discover"])
    assert (found.kind, found.status, found.error) == ("homepage", 200, None)
    assert found.note == "3 feeds advertised; 1 already declared"
    for name in ("rss", "atom"):
        discovered = crawled.outcome(home[name])
        assert (discovered.kind, discovered.source_id) == ("feed", "discover")
        assert discovered.note == f"discovered on {home['discover']}"
        assert crawled.hits[home[name]] == 1  # advertised twice, fetched once
    assert {server.base + "/d/from-rss.html", server.base + "/d/from-atom.html"} <= crawled.urls()


def test_a_declared_feed_advertised_again_is_fetched_once(crawled: Crawled, urls: dict) -> None:
    declared = crawled.outcome(urls["home"]["declared"])
    assert declared.note == ""  # fetched as declared, not as discovered
    assert crawled.hits[urls["home"]["declared"]] == 1


def test_home_page_alone_is_enough_and_relative_links_resolve(
    crawled: Crawled, server: FaultServer, urls: dict
) -> None:
    home = urls["home"]
    assert crawled.outcome(home["homeonly"]).note == "1 feed advertised"
    assert crawled.outcome(home["h2feed"]).note == f"discovered on {home['homeonly']}"
    assert crawled.page(server.base + "/h2/from-home.html").source_id == "homeonly"


def test_home_page_without_a_feed_is_an_error(crawled: Crawled, urls: dict) -> None:
    found = crawled.outcome(urls["home"]["nofeed"])
    assert (found.kind, found.status) == ("homepage", 200)
    assert found.error == "no feed advertised on the home page"


def test_home_page_with_only_a_json_feed_says_so(crawled: Crawled, urls: dict) -> None:
    assert crawled.error(urls["home"]["jsononly"]) == (
        "no feed advertised on the home page (only a JSON Feed, which is not read)"
    )


def test_json_feeds_and_stylesheets_are_not_requested(
    crawled: Crawled, server: FaultServer
) -> None:
    for path in ("/d/feed.json", "/j/feed.json", "/d/style.css"):
        assert crawled.hits[server.base + path] == 0


def test_duplicate_entries_and_shared_articles_are_requested_once(
    crawled: Crawled, urls: dict
) -> None:
    dup = urls["dup"]
    assert crawled.hits[dup["a"]] == 1  # thrice in one feed (once with utm_source), once more
    assert crawled.hits[dup["b"]] == 1  # in both feeds
    assert [o.url for o in crawled.result.outcomes if o.url.startswith(dup["a"])] == [dup["a"]]


def test_known_article_is_not_requested(crawled: Crawled, urls: dict) -> None:
    assert crawled.hits[urls["dup"]["known"]] == 0
    assert not crawled.outcomes(urls["dup"]["known"])


def test_every_request_is_logged_once(crawled: Crawled, server: FaultServer) -> None:
    """Each URL the server saw (robots.txt aside) has exactly one fetch-log row."""
    logged = [o.url for o in crawled.result.outcomes]
    assert len(logged) == len(set(logged))
    served = {u for u in crawled.hits if not u.endswith("/robots.txt")}
    assert served == set(logged)
