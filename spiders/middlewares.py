"""Downloader middleware: never fetch private, loopback or link-local addresses.

Redirects pass through downloader middlewares again, so a public URL that redirects to an
internal one is stopped too, and the address a response actually came from is checked as
well (a name that resolves differently the second time, DNS rebinding, is caught there).
The exception is narrow: an outlet with ``allow_private: true`` in its sources entry may
reach the host:port pairs of its own feed and sitemap URLs and nothing else (robots.txt of
those pairs included); the global setting ``FRAMEWATCH_ALLOW_PRIVATE`` lifts the guard.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

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
