"""URL normalisation and the guard against fetching private addresses.

Both the crawler (in its own process) and the extractor use these functions, so that "the
same article" means the same thing everywhere.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from urllib.parse import urlsplit

from w3lib.url import canonicalize_url, url_query_cleaner

# Parameters that identify a campaign or a click, never the article.
TRACKING_PARAMS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "utm_id",
    "fbclid",
    "gclid",
    "dclid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "ref",
    "ref_src",
    "cmpid",
    "ito",
    "wt_mc",
    "at_medium",
    "at_campaign",
    "xtor",
)


def canonical_url(url: str) -> str:
    """Strip tracking parameters and fragments, sort the query, lower-case the host."""
    cleaned = url_query_cleaner(url, TRACKING_PARAMS, remove=True, keep_fragments=False)
    return canonicalize_url(cleaned, keep_fragments=False)


def url_key(url: str) -> str:
    """A short stable key of a URL's canonical form (16 hex digits of its sha1).

    The same hash as an article id of that canonical URL, so "known" URLs can be handed to
    the crawler as keys: a tenth of the size of the URLs, and canonicalised once, at insert.
    """
    return hashlib.sha1(canonical_url(url).encode("utf-8")).hexdigest()[:16]


def private_address(host: str) -> str | None:
    """Return the private/loopback/link-local address ``host`` resolves to, else None.

    Every address the name resolves to is checked, so a DNS name that points inside the
    network is caught as well as a literal IP.
    """
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return None  # unresolvable: the download itself will fail with a clear DNS error
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not addr.is_global or addr.is_multicast:
            return str(addr)
    return None


def host_of(url: str) -> str:
    """The host part of a URL ('' when it has none)."""
    return urlsplit(url).hostname or ""


def netloc_of(url: str) -> str:
    """host:port of a URL, the port made explicit ('' when there is no host)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return ""
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.hostname}:{port}"


def is_web_url(url: str | None) -> bool:
    """Whether a URL may become a link in a page or message: http(s), no spaces or controls.

    Scraped URLs are untrusted: ``javascript:`` or ``data:`` must never reach an href.
    """
    if not url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
