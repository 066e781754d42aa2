"""Per-outlet concurrency and delay reach scrapy's download slots, in one real crawl.

Scrapy keys download slots by host name, so each outlet gets its own loopback address
(127.0.0.1-3, all local on Linux): ``single`` (concurrency 1, no delay), ``eager``
(concurrency 4, no delay) and ``polite`` (download_delay 0.6 s). ``single`` and ``eager``
serve the same slow pages, so the difference in overlap is the concurrency setting alone;
``polite`` serves fast pages, so the gaps between its requests are the delay alone, and
exactly the declared delay: its slot has no jitter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from itertools import pairwise

import pytest

from tests.spiders.crawling import Crawled, outlet, run_crawl
from tests.spiders.faultserver import FaultServer, Hit, article, rss, slow, static

PAGES = 4
DELAY = 0.6
SLACK = 0.1  # timer and scheduling granularity; scrapy's jitter would allow 0.5 x DELAY


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, FaultServer]]:
    """One loopback address per outlet (skipped where only 127.0.0.1 answers)."""
    with ExitStack() as stack:
        try:
            found = {
                name: stack.enter_context(FaultServer(f"127.0.0.{n}"))
                for n, name in enumerate(("single", "eager", "polite"), start=1)
            }
        except OSError as exc:
            pytest.skip(f"needs 127.0.0.2 and 127.0.0.3 on loopback: {exc}")
        yield found


def site(server: FaultServer, slow_pages: bool) -> str:
    """A feed of PAGES articles, slow (0.4 s) or fast; return the feed URL."""
    links = [
        server.route(f"/a/{i}.html", slow(0.4) if slow_pages else static(article(str(i))))
        for i in range(PAGES)
    ]
    return server.route("/feed.xml", static(rss(links), "application/rss+xml"))


@pytest.fixture(scope="module")
def crawled(servers: dict[str, FaultServer], tmp_path_factory: pytest.TempPathFactory) -> Crawled:
    """One crawl of the three outlets."""
    entries = [
        outlet("single", feeds=[site(servers["single"], True)], concurrency=1, download_delay=0),
        outlet("eager", feeds=[site(servers["eager"], True)], concurrency=4, download_delay=0),
        outlet("polite", feeds=[site(servers["polite"], False)], download_delay=DELAY),
    ]
    return run_crawl(list(servers.values()), tmp_path_factory.mktemp("polite"), entries)


def articles(crawled: Crawled, server: FaultServer) -> list[Hit]:
    """The article requests one server answered, in order of arrival."""
    urls = {f"{server.base}/a/{i}.html" for i in range(PAGES)}
    return sorted((h for h in crawled.log if h.url in urls), key=lambda h: h.started)


def most_in_flight(hits: list[Hit]) -> int:
    """The largest number of requests being answered at the same moment."""
    events = sorted([(h.started, 1) for h in hits] + [(h.ended, -1) for h in hits])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def test_all_articles_are_fetched(crawled: Crawled) -> None:
    assert len(crawled.result.pages) == 3 * PAGES
    assert all(o.error is None for o in crawled.result.outcomes)


def test_concurrency_one_never_overlaps(crawled: Crawled, servers: dict) -> None:
    hits = articles(crawled, servers["single"])
    assert len(hits) == PAGES
    assert most_in_flight(hits) == 1


def test_higher_concurrency_overlaps(crawled: Crawled, servers: dict) -> None:
    """The control: the same slow pages, fetched in parallel when the outlet allows it."""
    hits = articles(crawled, servers["eager"])
    assert len(hits) == PAGES
    assert most_in_flight(hits) >= 2


def test_download_delay_spaces_requests(crawled: Crawled, servers: dict) -> None:
    hits = articles(crawled, servers["polite"])
    assert len(hits) == PAGES
    gaps = [b.started - a.started for a, b in pairwise(hits)]
    assert min(gaps) >= DELAY - SLACK, gaps
