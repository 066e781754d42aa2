"""Downloader middlewares: the private-address guard and fixed per-outlet delays.

Never fetch private, loopback or link-local addresses.

Redirects pass through downloader middlewares again, so a public URL that redirects to an
internal one is stopped too, and the address a response actually came from is checked as
well (a name that resolves differently the second time, DNS rebinding, is caught there).
The exception is narrow: an outlet with ``allow_private: true`` in its sources entry may
reach the host:port pairs of its own feed, sitemap and home page URLs and nothing else
(robots.txt of those pairs included); the global setting ``FRAMEWATCH_ALLOW_PRIVATE`` lifts
the guard. The check runs in ``process_request``, before any connection is opened: a blocked
address is never contacted, not even for robots.txt.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.httpobj import urlparse_cached

from pipeline.urls import host_of, netloc_of, private_address


class PrivateAddressBlocked(IgnoreRequest):
    """Raised for a request to a private address; the errback records the reason."""


class PrivateAddressGuard:
    """Refuse requests whose host resolves to a non-global address unless allowed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.allow_all = crawler.settings.getbool("FRAMEWATCH_ALLOW_PRIVATE")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressGuard:
        """Keep the crawler: the spider (and its allowances) exists only once it runs."""
        return cls(crawler)

    def _allowed(self, request: Request) -> bool:
        """Whether this request may reach a private address."""
        if self.allow_all:
            return True
        allowances: dict[str, frozenset[str]] = getattr(self.crawler.spider, "private_netlocs", {})
        netloc = netloc_of(request.url)
        source = request.meta.get("source")
        if source is not None:
            return netloc in allowances.get(source.id, frozenset())
        # scrapy's own robots.txt requests carry no source: allow them for allowed pairs
        is_robots = request.url.split("?", 1)[0].endswith("/robots.txt")
        return is_robots and any(netloc in pairs for pairs in allowances.values())

    def process_request(self, request: Request, spider: Spider | None = None) -> Any:
        """Block the request, or let it through (return None)."""
        if self._allowed(request):
            return None
        address = private_address(host_of(request.url))
        if address is not None:
            raise PrivateAddressBlocked(
                f"blocked: {host_of(request.url)} resolves to private address {address}"
            )
        return None

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        """Refuse a response that came from a private address after all."""
        ip = getattr(response, "ip_address", None)
        if ip is None or self._allowed(request):
            return response
        if not ipaddress.ip_address(str(ip)).is_global:
            raise PrivateAddressBlocked(f"blocked: {request.url} was answered from {ip}")
        return response


class FixedSlotDelay:
    """Keep AutoThrottle off the download slots whose outlet declared its own delay.

    AutoThrottle rewrites every slot's delay from latency, down to the global DOWNLOAD_DELAY,
    which would undo an outlet's ``download_delay`` after its first fast answer. Scrapy's
    ``autothrottle_dont_adjust_delay`` meta exempts a request; setting it here, for every
    request to such a host (robots.txt, retries and redirects included), keeps the declared
    delay exactly as written.
    """

    def __init__(self, settings: BaseSettings) -> None:
        slots: dict[str, dict[str, Any]] = settings.getdict("DOWNLOAD_SLOTS")
        self.fixed = frozenset(host for host, slot in slots.items() if "delay" in slot)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FixedSlotDelay:
        """Read the slots from the crawl's settings."""
        return cls(crawler.settings)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Mark the request when its host's slot has a declared delay."""
        if urlparse_cached(request).hostname in self.fixed:
            request.meta.setdefault("autothrottle_dont_adjust_delay", True)
