"""Conditional requests: the spider applies the polls it is given, in one real crawl.

The FaultServer has feeds that honour If-None-Match / If-Modified-Since (304) and one that
ignores them (200 every time). Polls say: send an ETag, send a date, send nothing because
the validators are stale, or skip a disabled feed. Deciding the polls is not the spider's
job (pipeline.feeds does it); these tests only check that each poll is applied and that
every answer's validators are recorded for the next one.

Polls also name URLs the outlet does not declare (feeds found on a home page, children of a
sitemap index, in earlier runs): those are polled too, so that a sitemap index answering
304 does not hide its children's new articles.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.records import FeedPoll
from tests.spiders.crawling import Crawled, outlet, run_crawl
from tests.spiders.faultserver import (
    FaultHandler,
    FaultServer,
    article,
    conditional,
    news_sitemap,
    rss,
    sitemap,
    sitemap_index,
    static,
)

RSS = "application/rss+xml"
ETAG = '"v1"'
DATE = "Tue, 17 Nov 2026 08:00:00 GMT"
SKIPPED = "skipped: disabled after 48 failures"
FOREIGN = "http://foreign.invalid/feed.xml"
STALE = "full fetch: validators older than 24 h"


def bare_304(h: FaultHandler) -> None:
    """A 304 that does not repeat the validators (allowed, if unhelpful)."""
    if h.headers.get("If-None-Match"):
        h.send(304, b"", RSS)
    else:
        h.send(200, rss([]), RSS)


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    """The outlet's loopback server with one article per feed."""
    with FaultServer() as srv:
        yield srv


def cond(server: FaultServer, name: str, honour: bool = True, ctype: str = RSS) -> str:
    """A feed (or sitemap) with ETag and Last-Modified announcing ``/c/<name>.html``."""
    link = server.route(f"/c/{name}.html", static(article(name)))
    body = sitemap([link]) if ctype == "application/xml" else rss([link])
    return server.route(f"/c/{name}.xml", conditional(body, ctype, ETAG, DATE, honour=honour))


@pytest.fixture(scope="module")
def urls(server: FaultServer) -> dict[str, str]:
    """Every feed's URL by name."""
    return {
        "etag": cond(server, "etag"),
        "date": cond(server, "date"),
        "ignores": cond(server, "ignores", honour=False),
        "fresh": cond(server, "fresh"),
        "skipped": cond(server, "skipped"),
        "stale": cond(server, "stale"),
        "sitemap": cond(server, "sitemap", ctype="application/xml"),
        "bare": server.route("/c/bare.xml", bare_304),
        "home": server.route("/c/home.html", static("<html><head></head></html>")),
        "home_skipped": server.route("/c/off.html", static("<html><head></head></html>")),
        **found(server),
    }


def found(server: FaultServer) -> dict[str, str]:
    """URLs known from earlier runs (feed_state rows): a sitemap index's child, a feed once
    discovered, a sitemap once listed; plus the index that lists the child, which sends
    validators and would answer 304 to them.
    """
    child_page = server.route("/c/today.html", static(article("today")))
    child = server.route("/c/sitemap-news-today.xml", static(news_sitemap([child_page])))
    index = server.route(
        "/c/sitemap-index.xml",
        conditional(sitemap_index([child]), "application/xml", ETAG, DATE),
    )
    feed_page = server.route("/c/found.html", static(article("found")))
    daily_page = server.route("/c/daily.html", static(article("daily")))
    return {
        "index": index,
        "child": child,
        "found_feed": server.route("/c/found.xml", static(rss([feed_page]), RSS)),
        "daily": server.route("/c/daily.xml", static(sitemap([daily_page]), "application/xml")),
    }


@pytest.fixture(scope="module")
def crawled(
    server: FaultServer, urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Crawled:
    """One crawl with a poll for every feed but ``fresh``."""
    polls = {
        urls["etag"]: FeedPoll(urls["etag"], etag=ETAG),
        urls["date"]: FeedPoll(urls["date"], last_modified=DATE),
        urls["ignores"]: FeedPoll(urls["ignores"], etag=ETAG, last_modified=DATE),
        urls["skipped"]: FeedPoll(urls["skipped"], skip=True, reason=SKIPPED),
        urls["stale"]: FeedPoll(urls["stale"], reason=STALE),
        urls["sitemap"]: FeedPoll(urls["sitemap"], etag=ETAG),
        urls["bare"]: FeedPoll(urls["bare"], etag='"old"', last_modified=DATE),
        urls["home"]: FeedPoll(urls["home"], etag=ETAG),
        urls["home_skipped"]: FeedPoll(urls["home_skipped"], skip=True, reason=SKIPPED),
        urls["index"]: FeedPoll(urls["index"]),  # the store keeps no validators for an index
        # found in earlier runs (feed_state rows), not declared
        urls["child"]: FeedPoll(urls["child"]),
        urls["found_feed"]: FeedPoll(urls["found_feed"]),
        urls["daily"]: FeedPoll(urls["daily"]),
        FOREIGN: FeedPoll(FOREIGN),  # no outlet of this run has its host
    }
    undeclared = ("sitemap", "home", "home_skipped", "index", "child", "found_feed", "daily")
    feeds = [u for k, u in urls.items() if k not in undeclared]
    homes = [urls["home"], urls["home_skipped"]]
    entry = outlet(
        "cond",
        feeds=feeds,
        sitemaps=[urls["sitemap"], urls["index"]],
        homepages=homes,
        download_delay=0,
    )
    return run_crawl([server], tmp_path_factory.mktemp("cond"), [entry], polls=polls)


def sent(crawled: Crawled, url: str, header: str) -> list[str | None]:
    """The value of a request header in each request the server got for ``url``."""
    return [hit.headers.get(header) for hit in crawled.log if hit.url == url]


@pytest.mark.parametrize(
    ("name", "header", "value"),
    [
        ("etag", "If-None-Match", ETAG),
        ("date", "If-Modified-Since", DATE),
        ("sitemap", "If-None-Match", ETAG),
    ],
)
def test_validators_are_sent_and_304_is_not_modified(
    crawled: Crawled,
    server: FaultServer,
    urls: dict[str, str],
    name: str,
    header: str,
    value: str,
) -> None:
    assert sent(crawled, urls[name], header) == [value]
    found = crawled.outcome(urls[name])
    assert (found.status, found.error, found.note) == (304, None, "not modified")
    assert (found.etag, found.last_modified) == (ETAG, DATE)
    assert crawled.hits[f"{server.base}/c/{name}.html"] == 0  # no entries parsed


def test_sitemap_outcome_keeps_its_kind(crawled: Crawled, urls: dict[str, str]) -> None:
    assert crawled.outcome(urls["sitemap"]).kind == "sitemap"


def test_server_that_ignores_validators_gets_a_full_parse(
    crawled: Crawled, server: FaultServer, urls: dict[str, str]
) -> None:
    assert sent(crawled, urls["ignores"], "If-None-Match") == [ETAG]
    assert sent(crawled, urls["ignores"], "If-Modified-Since") == [DATE]
    found = crawled.outcome(urls["ignores"])
    assert (found.status, found.error, found.note) == (200, None, "")
    assert (found.etag, found.last_modified) == (ETAG, DATE)
    assert server.base + "/c/ignores.html" in crawled.urls()


def test_feed_without_poll_is_fetched_in_full_and_its_validators_kept(
    crawled: Crawled, server: FaultServer, urls: dict[str, str]
) -> None:
    assert sent(crawled, urls["fresh"], "If-None-Match") == [None]
    assert sent(crawled, urls["fresh"], "If-Modified-Since") == [None]
    found = crawled.outcome(urls["fresh"])
    assert (found.status, found.note, found.etag, found.last_modified) == (200, "", ETAG, DATE)
    assert server.base + "/c/fresh.html" in crawled.urls()


def test_skipped_feed_is_logged_and_never_requested(crawled: Crawled, urls: dict[str, str]) -> None:
    assert crawled.hits[urls["skipped"]] == 0
    found = crawled.outcome(urls["skipped"])
    assert (found.kind, found.status, found.error, found.note) == ("feed", None, None, SKIPPED)
    assert (found.etag, found.last_modified) == (None, None)


def test_stale_poll_fetches_in_full_and_says_why(
    crawled: Crawled, server: FaultServer, urls: dict[str, str]
) -> None:
    assert sent(crawled, urls["stale"], "If-None-Match") == [None]
    found = crawled.outcome(urls["stale"])
    assert (found.status, found.error, found.note) == (200, None, STALE)
    assert found.etag == ETAG
    assert server.base + "/c/stale.html" in crawled.urls()


def test_304_without_validators_keeps_the_ones_sent(crawled: Crawled, urls: dict[str, str]) -> None:
    found = crawled.outcome(urls["bare"])
    assert (found.status, found.note) == (304, "not modified")
    assert (found.etag, found.last_modified) == ('"old"', DATE)


def test_articles_carry_no_validators(crawled: Crawled) -> None:
    articles = [o for o in crawled.result.outcomes if o.kind == "article"]
    assert articles and all(o.etag is None and o.last_modified is None for o in articles)


def test_home_pages_honour_skip_but_are_never_conditional(
    crawled: Crawled, urls: dict[str, str]
) -> None:
    """A 304 would leave the home page's feeds undiscovered for the whole run."""
    assert sent(crawled, urls["home"], "If-None-Match") == [None]
    assert crawled.outcome(urls["home"]).status == 200
    assert crawled.hits[urls["home_skipped"]] == 0
    skipped = crawled.outcome(urls["home_skipped"])
    assert (skipped.kind, skipped.status, skipped.error, skipped.note) == (
        "homepage",
        None,
        None,
        SKIPPED,
    )


def test_a_sitemap_index_keeps_no_validators_and_its_children_are_read(
    crawled: Crawled, server: FaultServer, urls: dict[str, str]
) -> None:
    index = crawled.outcome(urls["index"])
    assert (index.status, index.etag, index.last_modified) == (200, None, None)
    child = crawled.outcome(urls["child"])
    assert (child.kind, child.status, child.error, child.note) == ("sitemap", 200, None, "")
    assert crawled.hits[urls["child"]] == 1
    today = crawled.page(server.base + "/c/today.html")
    assert today.source_id == "cond" and today.feed_title == "News 0"


def test_urls_found_in_earlier_runs_are_reached_only_through_their_parent(
    crawled: Crawled, urls: dict[str, str]
) -> None:
    for name in ("found_feed", "daily"):  # no parent lists them any more
        assert not crawled.outcomes(urls[name]) and crawled.hits[urls[name]] == 0


def test_polls_of_other_outlets_hosts_are_not_requested(crawled: Crawled) -> None:
    assert not crawled.outcomes(FOREIGN)
