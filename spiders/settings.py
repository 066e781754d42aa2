"""Scrapy settings for framewatch's crawler: politeness first, then limits.

Global values come from ``pipeline.config.Settings``; an outlet's own values (its sources
entry) travel with each of its requests as meta (timeout, size, retries) or, for what scrapy
only configures per download slot (concurrency, delay), as ``DOWNLOAD_SLOTS`` entries keyed
by the host names of the outlet's feeds, sitemaps and home pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.records import Source
from pipeline.urls import host_of

BOT_NAME = "framewatch"
RETRY_BACKOFF_MAX = 60.0  # seconds: the longest wait before a retry, Retry-After included


def crawl_settings(
    out_dir: str,
    user_agent: str,
    download_timeout: float,
    download_maxsize: int,
    allow_private: bool,
    concurrency_per_domain: int,
    download_delay: float = 0.0,
    max_retries: int = 2,
    max_redirects: int = 5,
    sources: Iterable[Source] = (),
    retry_backoff: float = 1.0,
) -> dict[str, Any]:
    """The settings of one crawl; outputs go to JSONL files in ``out_dir``.

    ``retry_backoff`` is the wait before a first retry in seconds, doubled for each further
    one and capped at RETRY_BACKOFF_MAX (a 429/503's Retry-After may ask for longer).
    """
    return {
        "BOT_NAME": BOT_NAME,
        # Twisted's own default reactor, not scrapy's asyncio one: with asyncio, scrapy 2.19
        # starts each download as a task that only marks the slot busy on the next loop turn,
        # so requests queued in the same turn all pass a slot's concurrency limit (per-outlet
        # concurrency 1 gave 4 parallel requests in tests/spiders/test_politeness.py).
        "TWISTED_REACTOR": None,
        "USER_AGENT": user_agent,
        "ROBOTSTXT_OBEY": True,
        "ROBOTSTXT_USER_AGENT": BOT_NAME,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency_per_domain,
        "DOWNLOAD_DELAY": download_delay,
        "DOWNLOAD_SLOTS": download_slots(sources),
        # AutoThrottle adapts the delay to each server's latency, never below DOWNLOAD_DELAY;
        # the start delay is short because a slow server raises it within a few responses.
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": max(0.25, download_delay),
        "AUTOTHROTTLE_MAX_DELAY": max(10.0, download_delay),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(concurrency_per_domain),
        "DOWNLOAD_TIMEOUT": download_timeout,
        "DOWNLOAD_MAXSIZE": download_maxsize,
        "DOWNLOAD_WARNSIZE": download_maxsize // 2,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": max_retries,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        # Scrapy retries at once; spiders.middlewares.RetryBackoff spaces the attempts.
        "FRAMEWATCH_RETRY_BACKOFF": retry_backoff,
        "FRAMEWATCH_RETRY_BACKOFF_MAX": RETRY_BACKOFF_MAX,
        "REDIRECT_MAX_TIMES": max_redirects,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "FRAMEWATCH_ALLOW_PRIVATE": allow_private,
        "DOWNLOADER_MIDDLEWARES": {
            # Requests run through these in ascending order, responses in descending order.
            "spiders.middlewares.RetryBackoff": 40,  # wait first, then check the address
            "spiders.middlewares.PrivateAddressGuard": 50,  # before robots.txt is fetched
            "spiders.middlewares.FixedSlotDelay": 60,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "spiders.middlewares.RetryAfterMiddleware": 550,
            # The answer's address is checked before retry or redirect act on it.
            "spiders.middlewares.PrivateAnswerGuard": 990,
        },
        # Only http(s): a feed must not make the crawler read local files or other schemes.
        "DOWNLOAD_HANDLERS": {"file": None, "data": None, "s3": None, "ftp": None},
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "FEED_EXPORT_ENCODING": "utf-8",
        "FEEDS": {
            f"{out_dir}/pages.jsonl": {
                "format": "jsonlines",
                "item_classes": ["spiders.items.PageItem"],
            },
            f"{out_dir}/fetch_log.jsonl": {
                "format": "jsonlines",
                "item_classes": ["spiders.items.LogItem"],
            },
        },
    }


def download_slots(sources: Iterable[Source]) -> dict[str, dict[str, Any]]:
    """``DOWNLOAD_SLOTS`` for the outlets that set their own concurrency or delay.

    A declared delay is kept exact: its slot gets ``jitter: 0`` (scrapy 2.19's per-slot key;
    the global DOWNLOAD_DELAY_JITTER of 0.5 would make a declared 10 s anything from 5 s).

    Scrapy keys download slots by host name, so the entry of a host shared by several
    outlets (a media group's CDN, the demo's 127.0.0.1) takes the most polite of their values:
    the smallest concurrency and the longest delay. Hosts of article links that differ from
    the feed hosts keep the global defaults, since they are only known mid-crawl.
    """
    slots: dict[str, dict[str, Any]] = {}
    for source in sources:
        for host in outlet_hosts(source):
            _merge_slot(slots.setdefault(host, {}), source)
    return {host: slot for host, slot in slots.items() if slot}


def outlet_hosts(source: Source) -> set[str]:
    """Host names of the outlet's feeds, sitemaps and home pages."""
    return {host_of(u) for u in (*source.feeds, *source.sitemaps, *source.homepages)} - {""}


def _merge_slot(slot: dict[str, Any], source: Source) -> None:
    """Fold one outlet's concurrency and delay into a host's slot, the politer value winning."""
    if source.concurrency is not None:
        slot["concurrency"] = min(slot.get("concurrency", source.concurrency), source.concurrency)
    if source.download_delay is not None:
        slot["delay"] = max(slot.get("delay", source.download_delay), source.download_delay)
        slot["jitter"] = 0  # exact: scrapy would otherwise wait 0.5-1.5 x the delay
