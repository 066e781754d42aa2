"""Downloader middleware: never fetch private, loopback or link-local addresses.

Redirects pass through downloader middlewares again, so a public URL that redirects to an
internal one is stopped too. An outlet (``allow_private: true`` in its sources entry, which
the request carries in ``meta``) or the global setting ``FRAMEWATCH_ALLOW_PRIVATE`` lifts it.
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

    def __init__(self, allow_all: bool) -> None:
        self.allow_all = allow_all

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressGuard:
        """Read the global switch from the crawler settings."""
        return cls(crawler.settings.getbool("FRAMEWATCH_ALLOW_PRIVATE"))

    def process_request(self, request: Request, spider: Spider | None = None) -> Any:
        """Block the request, or let it through (return None)."""
        if self.allow_all or request.meta.get("allow_private"):
            return None
        address = private_address(host_of(request.url))
        if address is not None:
            raise PrivateAddressBlocked(
                f"blocked: {host_of(request.url)} resolves to private address {address}"
            )
        return None
