"""Scrapy settings for framewatch's crawler: politeness first, then limits."""

from __future__ import annotations

from typing import Any

BOT_NAME = "framewatch"


def crawl_settings(
    out_dir: str,
    user_agent: str,
    download_timeout: float,
    download_maxsize: int,
    allow_private: bool,
    concurrency_per_domain: int,
) -> dict[str, Any]:
    """The settings of one crawl; outputs go to JSONL files in ``out_dir``."""
    return {
        "BOT_NAME": BOT_NAME,
        "USER_AGENT": user_agent,
        "ROBOTSTXT_OBEY": True,
        "ROBOTSTXT_USER_AGENT": BOT_NAME,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency_per_domain,
        "DOWNLOAD_DELAY": 0.0,
        # AutoThrottle adapts the delay to each server's latency; the start delay is short
        # because a slow server raises it within a few responses anyway.
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": 0.25,
        "AUTOTHROTTLE_MAX_DELAY": 10.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(concurrency_per_domain),
        "DOWNLOAD_TIMEOUT": download_timeout,
        "DOWNLOAD_MAXSIZE": download_maxsize,
        "DOWNLOAD_WARNSIZE": download_maxsize // 2,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 2,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "REDIRECT_MAX_TIMES": 5,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "FRAMEWATCH_ALLOW_PRIVATE": allow_private,
        "DOWNLOADER_MIDDLEWARES": {"spiders.middlewares.PrivateAddressGuard": 50},
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
