"""Downloader middleware: never fetch private, loopback or link-local addresses.

Redirects pass through downloader middlewares again, so a public URL that redirects to an
internal one is stopped too. The exception is per host: an outlet with
``allow_private: true`` in its sources entry allows the hosts of its own feed and sitemap
URLs (every request to them, robots.txt included, and nothing else); the global setting
``FRAMEWATCH_ALLOW_PRIVATE`` lifts the guard entirely.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from pipeline.urls import host_of, private_address


class PrivateAddressBlocked(IgnoreRequest):
    """Raised for a request to a private address; the errback records the reason."""


class PrivateAddressGuard:
    """Refuse requests whose host resolves to a non-global address unless allowed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.allow_all = crawler.settings.getbool("FRAMEWATCH_ALLOW_PRIVATE")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressGuard:
        """Keep the crawler: the spider (and its allowed hosts) exists only once it runs."""
        return cls(crawler)

    def _allowed_hosts(self) -> frozenset[str]:
        """Hosts of outlets that declared allow_private."""
        return frozenset(getattr(self.crawler.spider, "private_hosts", frozenset()))

    def process_request(self, request: Request, spider: Spider | None = None) -> Any:
        """Block the request, or let it through (return None)."""
        host = host_of(request.url)
        if self.allow_all or host in self._allowed_hosts():
            return None
        address = private_address(host)
        if address is not None:
            raise PrivateAddressBlocked(f"blocked: {host} resolves to private address {address}")
        return None
