"""Retries wait: exponential backoff and Retry-After, in one real crawl and as functions.

One outlet (concurrency 1) on a FaultServer: ``flaky`` answers 503 twice, then the page;
``busy`` always answers 503 with ``Retry-After: 2``; ``calm`` is an ordinary page requested
at the same time. Backoff base 0.3 s, two retries: the gaps between ``flaky``'s attempts
grow (0.3 s, then 0.6 s), ``busy`` waits the 2 s it asks for, and ``calm`` is fetched while
they wait (the wait holds no download slot).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from itertools import pairwise

import pytest
from scrapy.http import Response

from pipeline.config import Settings
from spiders.middlewares import backoff_delay, retry_after
from tests.spiders.crawling import Crawled, outlet, run_crawl
from tests.spiders.faultserver import (
    FaultHandler,
    FaultServer,
    Hit,
    Route,
    article,
    rss,
    static,
)

BASE = 0.3
RETRY_AFTER = 2
SLACK = 0.1


def failing(times: int) -> Route:
    """A route that answers 503 ``times`` times, then an article."""
    lock, seen = threading.Lock(), [0]

    def route(h: FaultHandler) -> None:
        with lock:
            seen[0] += 1
            n = seen[0]
        if n <= times:
            h.send(503, b"busy")
        else:
            h.send(200, article("Endlich"))

    return route


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    """The outlet's loopback server."""
    with FaultServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def urls(server: FaultServer) -> dict[str, str]:
    """Every route's URL by name."""
    r = server.route
    found = {
        "flaky": r("/flaky.html", failing(2)),
        "busy": r(
            "/busy.html", static(b"busy", status=503, headers={"Retry-After": str(RETRY_AFTER)})
        ),
        "calm": r("/calm.html", static(article("Ruhig"))),
    }
    found["feed"] = r("/feed.xml", static(rss(list(found.values())), "application/rss+xml"))
    return found


@pytest.fixture(scope="module")
def crawled(
    server: FaultServer, urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Crawled:
    """One crawl, backoff base 0.3 s, two retries."""
    entry = outlet("flaky", feeds=[urls["feed"]], concurrency=1, download_delay=0)
    settings = Settings(download_timeout=5, max_retries=2, retry_backoff=BASE)
    return run_crawl([server], tmp_path_factory.mktemp("backoff"), [entry], settings)


def attempts(crawled: Crawled, url: str) -> list[Hit]:
    """The server's hits for ``url`` in order of arrival."""
    return sorted((h for h in crawled.log if h.url == url), key=lambda h: h.started)


def test_gaps_between_attempts_grow(crawled: Crawled, urls: dict[str, str]) -> None:
    hits = attempts(crawled, urls["flaky"])
    assert len(hits) == 3
    gaps = [b.started - a.ended for a, b in pairwise(hits)]
    assert gaps[0] >= BASE - SLACK, gaps
    assert gaps[1] >= 2 * BASE - SLACK, gaps
    assert gaps[1] > gaps[0], gaps
    found = crawled.outcome(urls["flaky"])
    assert (found.status, found.error) == (200, None)
    assert crawled.page(urls["flaky"]).html


def test_retry_after_is_honoured(crawled: Crawled, urls: dict[str, str]) -> None:
    hits = attempts(crawled, urls["busy"])
    assert len(hits) == 3  # one attempt and two retries, then given up
    gaps = [b.started - a.ended for a, b in pairwise(hits)]
    assert min(gaps) >= RETRY_AFTER - SLACK, gaps
    assert crawled.error(urls["busy"]) == "HTTP 503"


def test_waiting_retries_hold_no_download_slot(crawled: Crawled, urls: dict[str, str]) -> None:
    """With concurrency 1, the calm page is fetched while the busy one waits its 2 s."""
    busy, calm = attempts(crawled, urls["busy"]), attempts(crawled, urls["calm"])
    assert len(calm) == 1
    assert calm[0].started < busy[-1].started


def response(status: int, retry_after_value: str | None) -> Response:
    """An answer with an optional Retry-After header."""
    headers = {"Retry-After": retry_after_value} if retry_after_value is not None else {}
    return Response("https://a.example/x", status=status, headers=headers)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n, 1.0, 60.0) for n in range(6)] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert backoff_delay(10, 1.0, 60.0) == 60.0
    assert backoff_delay(1, 1.0, 60.0, asked=5.0) == 5.0  # Retry-After asks for longer
    assert backoff_delay(3, 1.0, 60.0, asked=1.0) == 4.0  # ... or for less: backoff wins
    assert backoff_delay(1, 1.0, 60.0, asked=3600.0) == 60.0  # capped
    assert backoff_delay(2, 0.0, 60.0) == 0.0


def test_retry_after_reads_seconds_and_dates_of_429_and_503() -> None:
    now = time.time()
    assert retry_after(response(503, "2")) == 2.0
    assert retry_after(response(429, "120")) == 120.0
    later = retry_after(response(503, formatdate(now + 30, usegmt=True)), now=now)
    assert later is not None and 29 <= later <= 31
    assert retry_after(response(503, formatdate(now - 30, usegmt=True)), now=now) == 0.0
    assert retry_after(response(500, "2")) is None  # only 429 and 503 carry it
    assert retry_after(response(503, None)) is None
    assert retry_after(response(503, "soon")) is None
