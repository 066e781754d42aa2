"""Downloader middlewares: the private-address guard, retry backoff and fixed per-outlet delays.

Never fetch private, loopback or link-local addresses, as far as the checks below can tell.

Two checks. ``PrivateAddressGuard.process_request`` resolves the host before the request is
handed to the downloader and refuses it when any address is not global: a URL whose name or
literal (``::1``, ``::ffff:127.0.0.1``, ``0.0.0.0``, ``2130706433``) points inside is never
requested, not even its robots.txt. Redirects pass through downloader middlewares again, so
a public URL that redirects to an internal one is stopped there too. A name that cannot be
resolved cannot be checked: it passes, and scrapy's own DNS lookup then fails with a clear
error (or, if it resolves by then, the second check applies).

``PrivateAnswerGuard.process_response`` checks the address an answer actually came from, and
runs first among the response middlewares, so retry and redirect never act on such an answer.
It is the only defence against DNS rebinding (a name that resolves to a public address for
the first check and to a private one when scrapy connects): the request has then been sent,
and only its answer is refused. Scrapy resolves names itself, so the address checked and the
address connected to are not guaranteed to be the same.

The exception is narrow: an outlet with ``allow_private: true`` in its sources entry may
reach the host:port pairs of its own feed, sitemap and home page URLs and nothing else
(robots.txt of those pairs included); the global setting ``FRAMEWATCH_ALLOW_PRIVATE`` lifts
the guard.
"""

from __future__ import annotations

import ipaddress
import time
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached

from pipeline.urls import host_of, netloc_of, private_address

RETRY_AFTER_STATUSES = frozenset({429, 503})
DEFAULT_BACKOFF_MAX = 60.0


class PrivateAddressBlocked(IgnoreRequest):
    """Raised for a request to a private address; the errback records the reason."""


def non_global(address: str) -> bool:
    """Whether an IP address (text, IPv6 scope allowed) is private, loopback, reserved..."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return not ip.is_global or ip.is_multicast


class _PrivateAllowances:
    """Which requests may reach a private address: the outlets' own declared host:port pairs."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.allow_all = crawler.settings.getbool("FRAMEWATCH_ALLOW_PRIVATE")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
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


class PrivateAddressGuard(_PrivateAllowances):
    """Refuse requests whose host resolves to a non-global address unless allowed."""

    def process_request(self, request: Request, spider: Spider | None = None) -> Any:
        """Block the request, or let it through (return None).

        An unresolvable name passes (``private_address`` gives None): scrapy's download then
        fails with its DNS error, or ``PrivateAnswerGuard`` checks the address it reached.
        """
        if self._allowed(request):
            return None
        address = private_address(host_of(request.url))
        if address is not None:
            raise PrivateAddressBlocked(
                f"blocked: {host_of(request.url)} resolves to private address {address}"
            )
        return None


class PrivateAnswerGuard(_PrivateAllowances):
    """Refuse an answer that came from a non-global address (DNS rebinding, failed check)."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        """Refuse a response that came from a private address after all."""
        ip = getattr(response, "ip_address", None)
        if ip is None or self._allowed(request):
            return response
        if non_global(str(ip)):
            raise PrivateAddressBlocked(f"blocked: {request.url} was answered from {ip}")
        return response


def retry_after(response: Response, now: float | None = None) -> float | None:
    """Seconds a 429/503 answer asks to wait (``Retry-After``: seconds or an HTTP date)."""
    if response.status not in RETRY_AFTER_STATUSES:
        return None
    value = (response.headers.get("Retry-After") or b"").decode("latin-1").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(retry_times: int, base: float, cap: float, asked: float | None = None) -> float:
    """Seconds to wait before retry number ``retry_times`` (1 for the first retry).

    Exponential (``base``, ``2 * base``, ``4 * base``...), at least what the server asked
    for in Retry-After, never more than ``cap``.
    """
    if retry_times <= 0:
        return 0.0
    wait = base * 2 ** (retry_times - 1)
    if asked is not None:
        wait = max(wait, asked)
    return max(0.0, min(cap, wait))


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware that hands a 429/503 answer's Retry-After to the retry."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        """Retry as scrapy does; the new request carries ``retry_after`` (or none) in meta."""
        result = super().process_response(request, response)
        if isinstance(result, Request):
            _set_retry_after(result, retry_after(response))
        return result

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        """Retry as scrapy does; a failure without an answer asks for no particular wait."""
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            _set_retry_after(result, None)
        return result


def _set_retry_after(request: Request, seconds: float | None) -> None:
    """Replace the Retry-After the request copied from its previous attempt."""
    if seconds is None:
        request.meta.pop("retry_after", None)
    else:
        request.meta["retry_after"] = seconds


class RetryBackoff:
    """Wait before each retry: exponential backoff, or longer when Retry-After says so.

    The wait happens in ``process_request``, before the request reaches its download slot,
    so other requests to the same host go on meanwhile (it does count against scrapy's
    global CONCURRENT_REQUESTS while it waits). A retried request waits once per attempt:
    the redirects that follow it (which copy its meta) do not wait again.
    """

    def __init__(self, base: float, cap: float) -> None:
        self.base, self.cap = base, cap

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryBackoff:
        """Read FRAMEWATCH_RETRY_BACKOFF and FRAMEWATCH_RETRY_BACKOFF_MAX."""
        settings = crawler.settings
        return cls(
            settings.getfloat("FRAMEWATCH_RETRY_BACKOFF", 1.0),
            settings.getfloat("FRAMEWATCH_RETRY_BACKOFF_MAX", DEFAULT_BACKOFF_MAX),
        )

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Sleep before a retried request's attempt; let every request through."""
        tries = int(request.meta.get("retry_times", 0))
        if tries <= 0 or request.meta.get("backoff_waited") == tries:
            return
        request.meta["backoff_waited"] = tries
        wait = backoff_delay(tries, self.base, self.cap, request.meta.get("retry_after"))
        if wait > 0:
            await sleep(wait)


class FixedSlotDelay:
    """Keep AutoThrottle off the download slots whose outlet declared its own delay.

    AutoThrottle rewrites every slot's delay from latency, down to the global DOWNLOAD_DELAY,
    which would undo an outlet's ``download_delay`` after its first fast answer. Scrapy's
    ``autothrottle_dont_adjust_delay`` meta exempts a request; setting it here, for every
    request to such a host (robots.txt, retries and redirects included), keeps the declared
    delay exactly as written (its slot also has no jitter, see ``spiders.settings``).
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
