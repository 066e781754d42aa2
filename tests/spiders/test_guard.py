"""The private-address guard as plain functions: the middlewares called directly, no crawl.

``PrivateAddressGuard.process_request`` refuses hosts that resolve (or are written) inside;
``PrivateAnswerGuard.process_response`` refuses an answer that came from inside after all,
which is what catches DNS rebinding and names that could not be checked beforehand. The
crawl-level cases (metadata address, redirect to an undeclared port, allow_private) are in
``test_crawl.py``.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from spiders.middlewares import (
    PrivateAddressBlocked,
    PrivateAddressGuard,
    PrivateAnswerGuard,
    non_global,
)


def guards(allow_all: bool = False) -> tuple[PrivateAddressGuard, PrivateAnswerGuard]:
    """Both guards on a crawler without a spider (so no outlet allowances)."""
    crawler = get_crawler(settings_dict={"FRAMEWATCH_ALLOW_PRIVATE": allow_all})
    return PrivateAddressGuard.from_crawler(crawler), PrivateAnswerGuard.from_crawler(crawler)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://[::1]/feed.xml", "::1"),
        ("http://[::ffff:127.0.0.1]/feed.xml", "::ffff:7f00:1"),
        ("http://0.0.0.0/feed.xml", "0.0.0.0"),
        ("http://2130706433/feed.xml", "127.0.0.1"),  # decimal 127.0.0.1
        ("http://0x7f000001/feed.xml", "127.0.0.1"),  # hexadecimal
        ("http://127.1/feed.xml", "127.0.0.1"),  # short form
        ("http://10.1.2.3/feed.xml", "10.1.2.3"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[fe80::1]/feed.xml", "fe80::1"),
    ],
)
def test_private_literals_are_refused_before_the_request(url: str, address: str) -> None:
    request_guard, _ = guards()
    with pytest.raises(PrivateAddressBlocked) as raised:
        request_guard.process_request(Request(url))
    assert str(raised.value).endswith(f"resolves to private address {address}")


def test_global_switch_lets_private_literals_through() -> None:
    request_guard, answer_guard = guards(allow_all=True)
    request = Request("http://[::1]/feed.xml")
    assert request_guard.process_request(request) is None
    answer = Response(request.url, ip_address=ipaddress.ip_address("::1"))
    assert answer_guard.process_response(request, answer) is answer


def test_unresolvable_name_passes_the_request_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cannot check: scrapy's own DNS lookup fails the download with a clear error."""

    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    request_guard, _ = guards()
    assert request_guard.process_request(Request("http://news.invalid/feed.xml")) is None


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.0.0.7", "::1", "::ffff:192.168.1.1", "0.0.0.0"])
def test_answer_from_a_private_address_is_refused(ip: str) -> None:
    """What a name that passed the request check (rebinding, unresolvable then) ends in."""
    _, answer_guard = guards()
    request = Request("http://news.example/feed.xml")
    answer = Response(request.url, ip_address=ipaddress.ip_address(ip))
    with pytest.raises(PrivateAddressBlocked) as raised:
        answer_guard.process_response(request, answer)
    assert str(raised.value) == f"blocked: {request.url} was answered from {answer.ip_address}"


def test_answer_from_a_public_address_passes() -> None:
    _, answer_guard = guards()
    request = Request("http://news.example/feed.xml")
    for ip in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"):
        answer = Response(request.url, ip_address=ipaddress.ip_address(ip))
        assert answer_guard.process_response(request, answer) is answer


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("0.0.0.0", True),
        ("fe80::1%eth0", True),
        ("224.0.0.1", True),
        ("8.8.8.8", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_non_global(address: str, inside: bool) -> None:
    assert non_global(address) is inside
