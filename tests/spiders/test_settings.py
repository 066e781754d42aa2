"""The hand-over between pipeline.crawl and the crawler process, without crawling.

The JSON config is the only channel into the subprocess: a setting that ``crawl_config`` drops
or ``crawl_settings`` does not accept would silently fall back to scrapy's default.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, cast

from pipeline.config import Settings
from pipeline.crawl import crawl_config, read_outcomes
from pipeline.records import FeedPoll, Source
from spiders.crawl import read_polls
from spiders.settings import crawl_settings, download_slots


def source(source_id: str, *urls: str, **policy: Any) -> Source:
    """A Source whose feeds are ``urls``."""
    return Source(source_id, source_id, "C", "DE", "de", feeds=urls, **policy)


def test_config_settings_are_exactly_what_crawl_settings_takes(tmp_path: Path) -> None:
    settings = Settings(download_delay=1.5, max_retries=4, max_redirects=7)
    config = crawl_config(tmp_path / "s.yaml", tmp_path, settings, None, frozenset())
    passed = cast(dict[str, Any], config["settings"])
    params = set(inspect.signature(crawl_settings).parameters) - {"sources"}
    assert set(passed) == params
    scrapy = crawl_settings(**passed)
    assert (scrapy["DOWNLOAD_DELAY"], scrapy["RETRY_TIMES"], scrapy["REDIRECT_MAX_TIMES"]) == (
        1.5,
        4,
        7,
    )
    assert scrapy["AUTOTHROTTLE_START_DELAY"] >= 1.5  # never faster than the global delay


def test_politeness_defaults_are_on() -> None:
    scrapy = crawl_settings(str(Path("/tmp")), "fw/1 (+https://x)", 10, 1000, False, 4)
    assert scrapy["ROBOTSTXT_OBEY"] and scrapy["AUTOTHROTTLE_ENABLED"]
    assert scrapy["USER_AGENT"] == "fw/1 (+https://x)"
    assert scrapy["DOWNLOAD_WARNSIZE"] == 500
    assert scrapy["DOWNLOAD_SLOTS"] == {}
    assert scrapy["FRAMEWATCH_RETRY_BACKOFF"] == 1.0 == Settings().retry_backoff
    assert scrapy["FRAMEWATCH_RETRY_BACKOFF_MAX"] == 60.0


def test_retry_backoff_reaches_the_crawler_settings() -> None:
    scrapy = crawl_settings("/tmp", "fw/1", 10, 1000, False, 4, retry_backoff=0.25)
    assert scrapy["FRAMEWATCH_RETRY_BACKOFF"] == 0.25
    middlewares = scrapy["DOWNLOADER_MIDDLEWARES"]
    assert middlewares["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert middlewares["spiders.middlewares.RetryAfterMiddleware"] == 550
    # the wait comes before the address check; the answer's address is checked first
    assert middlewares["spiders.middlewares.RetryBackoff"] < 50
    assert middlewares["spiders.middlewares.PrivateAnswerGuard"] > 900


def test_polls_survive_the_json_config(tmp_path: Path) -> None:
    polls = {
        "https://a.example/rss": FeedPoll("https://a.example/rss", etag='"x"', reason="r"),
        "https://a.example/map": FeedPoll("https://a.example/map", skip=True, reason="off"),
    }
    config = crawl_config(tmp_path / "s.yaml", tmp_path, Settings(), None, frozenset(), polls)
    back = json.loads(json.dumps(config))
    assert read_polls(back["polls"]) == polls


def test_download_slots_take_the_politer_value_per_host() -> None:
    slots = download_slots(
        [
            source("a", "https://news.example/a.xml", concurrency=4, download_delay=0.5),
            source("b", "https://news.example/b.xml", "https://b.example/", concurrency=2),
            source("c", "https://news.example/c.xml", download_delay=2.0),
            source("d", "https://d.example/rss"),  # no policy of its own: no slot entry
        ]
    )
    assert slots == {
        "news.example": {"concurrency": 2, "delay": 2.0, "jitter": 0},
        "b.example": {"concurrency": 2},
    }


def test_home_page_hosts_get_the_outlet_slot() -> None:
    outlet = Source(
        "h", "h", "C", "DE", "de", homepages=("https://www.h.example/",), download_delay=3.0
    )
    assert download_slots([outlet]) == {"www.h.example": {"delay": 3.0, "jitter": 0}}


def test_read_outcomes_keeps_validators(tmp_path: Path) -> None:
    log = tmp_path / "fetch_log.jsonl"
    rows = [
        {
            "source_id": "a",
            "url": "https://a.example/rss",
            "kind": "feed",
            "status": 304,
            "error": None,
            "note": "not modified",
            "fetched_at": "2026-11-17T08:00:00+00:00",
            "etag": '"v1"',
            "last_modified": "Tue, 17 Nov 2026 08:00:00 GMT",
        },
        {
            "source_id": "a",
            "url": "https://a.example/x.html",
            "kind": "article",
            "status": 200,
            "error": None,
            "note": "",
            "fetched_at": "2026-11-17T08:00:00+00:00",
        },
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    feed, page = read_outcomes(log)
    assert (feed.etag, feed.last_modified) == ('"v1"', "Tue, 17 Nov 2026 08:00:00 GMT")
    assert (page.etag, page.last_modified) == (None, None)
