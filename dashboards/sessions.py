"""Who may use the dashboard: the login rule, signed session cookies, CSRF and login throttling.

Two ways to run it. Without ``FRAMEWATCH_DASHBOARD_TOKEN`` there is no login, so the app only
answers browsers on this machine: it refuses any request from another address or one that
came through a proxy (``Forwarded`` / ``X-Forwarded-*`` / ``X-Real-IP`` headers), because a
reverse proxy on the same machine connects from 127.0.0.1 and would otherwise make the
dashboard public. With a token, every page asks for it, wherever the app binds.

Session cookies are signed with a random secret kept in a file beside the database (never
derived from the token: a cookie with known content signed by a token-derived key would let
anyone who holds one guess the token offline). A logged-in session carries a fingerprint of
the token (an HMAC under the secret), its issue time and a random id: changing the token logs
everyone out, a session ends after ``SESSION_HOURS``, and logging out revokes its id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import time
from collections import deque
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request

from pipeline.config import Settings

SESSION_HOURS = 12
SESSION_SECONDS = SESSION_HOURS * 3600
MIN_TOKEN = 16  # characters: a token people can type, too long to guess online
LOGIN_FAILURE_DELAY = 1.0  # seconds, awaited: slows guessing without holding a worker thread
MAX_FAILURES = 10  # wrong tokens from one client address ...
FAILURE_WINDOW = 600.0  # ... within these seconds, and its logins are refused (429)
SECRET_BYTES = 32
# Headers a reverse proxy adds; their presence means the browser is not on this machine.
PROXY_HEADERS = ("forwarded", "x-real-ip", "via")
PROXY_PREFIX = "x-forwarded-"


class DashboardConfigError(ValueError):
    """The dashboard may not start with these settings (exposed without a token, or a
    token too short to resist guessing)."""


def is_loopback(host: str) -> bool:
    """Whether an address only this machine can reach ('localhost' counts)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def token_of(settings: Settings) -> str | None:
    """The configured login token, or None when none is set."""
    token = settings.dashboard_token
    return token.get_secret_value() if token is not None and token.get_secret_value() else None


def login_required(settings: Settings) -> bool:
    """Whether pages ask for the token: whenever one is set, wherever the app binds.

    Raises DashboardConfigError for a non-loopback bind without a token (anyone could read
    the database and write annotations) and for a token shorter than MIN_TOKEN characters.
    """
    token = token_of(settings)
    if token is None and not is_loopback(settings.dashboard_host):
        raise DashboardConfigError(
            f"the dashboard binds {settings.dashboard_host}, beyond this machine: set "
            "FRAMEWATCH_DASHBOARD_TOKEN to a long random string (reviewers log in with it), "
            "or bind 127.0.0.1"
        )
    if token is not None and len(token) < MIN_TOKEN:
        raise DashboardConfigError(
            f"FRAMEWATCH_DASHBOARD_TOKEN is too short: use at least {MIN_TOKEN} characters, "
            "e.g. the output of `openssl rand -hex 24`"
        )
    return token is not None


# --- the signing secret ----------------------------------------------------------------


def secret_path(db: Path) -> Path:
    """Where the session secret lives: beside the database, ``<db>.dashboard-secret``."""
    return db.with_name(db.name + ".dashboard-secret")


def load_secret(db: Path) -> bytes:
    """The session secret for this database, created on first use (random, mode 0600).

    A file rather than a per-process value so that sessions survive a restart of the app.
    """
    path = secret_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(SECRET_BYTES) + "\n")
    return _read_secret(path)


def random_secret() -> bytes:
    """A secret for this process only: without a login, sessions carry just a CSRF token."""
    return secrets.token_bytes(SECRET_BYTES)


def _read_secret(path: Path) -> bytes:
    """The secret in a secret file; DashboardConfigError when it is not one."""
    try:
        secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (UnicodeDecodeError, ValueError):
        secret = b""
    if len(secret) < SECRET_BYTES:
        raise DashboardConfigError(f"{path} is not a session secret: delete it to make a new one")
    return secret


def fingerprint(secret: bytes, token: str | None) -> str | None:
    """The token's HMAC under the secret: ties a session to the token it logged in with."""
    if token is None:
        return None
    return hmac.new(secret, b"token\0" + token.encode(), hashlib.sha256).hexdigest()


# --- signed cookie values ----------------------------------------------------------------


def sign(secret: bytes, data: dict[str, Any]) -> str:
    """A cookie value: the JSON payload, base64 without padding (no '=' that would make the
    cookie quoted), and its HMAC."""
    text = json.dumps(data, separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(text).rstrip(b"=")
    mac = hmac.new(secret, payload, hashlib.sha256).hexdigest()
    return f"{payload.decode()}.{mac}"


def same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings of any characters (compared as UTF-8 bytes:
    compare_digest refuses non-ASCII str)."""
    try:
        return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: not a value we ever issue
        return False


def unsign(secret: bytes, value: str | None) -> dict[str, Any] | None:
    """The payload of a cookie signed with ``secret``; None when absent, tampered with or
    not decodable (any characters a client sends are handled, never raised on)."""
    if not value or "." not in value:
        return None
    payload, mac = value.rsplit(".", 1)
    try:
        expected = hmac.new(secret, payload.encode("ascii"), hashlib.sha256).hexdigest()
    except UnicodeEncodeError:
        return None
    if not same(mac, expected):
        return None
    try:
        padded = payload + "=" * (-len(payload) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class Sessions:
    """Issues and checks session payloads: fresh, signed, and tied to the current token."""

    def __init__(self, secret: bytes, token: str | None) -> None:
        self.secret = secret
        self.fingerprint = fingerprint(secret, token)
        self._token = token
        self._revoked: dict[str, float] = {}  # session id -> when its cookie expires anyway

    def new(self, auth: bool = False, now: float | None = None) -> dict[str, Any]:
        """A fresh session: its id, issue time, a CSRF token; logged in or not."""
        data: dict[str, Any] = {
            "sid": secrets.token_urlsafe(12),
            "iat": int(time.time() if now is None else now),
            "csrf": secrets.token_urlsafe(24),
            "auth": auth,
        }
        if auth:
            data["fp"] = self.fingerprint
        return data

    def load(self, value: str | None, now: float | None = None) -> dict[str, Any]:
        """The session in a cookie value when it is valid, else a fresh anonymous one."""
        data = unsign(self.secret, value)
        if data is None or not self.valid(data, time.time() if now is None else now):
            return self.new(now=now)
        return data

    def valid(self, data: dict[str, Any], now: float) -> bool:
        """Issued less than SESSION_HOURS ago; a login also for the current token and not
        logged out."""
        issued = data.get("iat")
        if not isinstance(issued, int) or not now - SESSION_SECONDS < issued <= now + 60:
            return False
        if not data.get("auth"):
            return True
        fp = data.get("fp")
        return (
            isinstance(fp, str)
            and self.fingerprint is not None
            and same(fp, self.fingerprint)
            and data.get("sid") not in self._revoked
        )

    def revoke(self, data: dict[str, Any], now: float | None = None) -> None:
        """Log a session out for good (kept in memory until it would have expired anyway)."""
        moment = time.time() if now is None else now
        self._revoked = {s: t for s, t in self._revoked.items() if t > moment}
        issued = data.get("iat")
        expires = (issued if isinstance(issued, int) else int(moment)) + SESSION_SECONDS
        self._revoked[str(data.get("sid"))] = float(expires)

    def token_ok(self, token: str) -> bool:
        """Whether a login token is the configured one (constant-time comparison)."""
        return self._token is not None and same(token, self._token)


def check_csrf(request: Request, token: str) -> None:
    """Refuse a POST whose form token is not the session's (403)."""
    expected = str(request.state.session.get("csrf", ""))
    if not (token and expected and same(token, expected)):
        raise HTTPException(403, "csrf")


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (no //host, no scheme)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# --- requests without login: this machine only --------------------------------------------


def client_address(request: Request) -> str:
    """The address the request came from ('' when the server does not say)."""
    return request.client.host if request.client else ""


def from_elsewhere(request: Request) -> bool:
    """Whether a request did not come straight from a browser on this machine: another
    client address, or a proxy's forwarding headers (a proxy on this machine connects from
    loopback and sends a loopback Host, so the address alone does not tell)."""
    if not is_loopback(client_address(request)):
        return True
    names = {name.lower() for name in request.headers}
    return any(n in PROXY_HEADERS or n.startswith(PROXY_PREFIX) for n in names)


class LoginThrottle:
    """Counts wrong tokens per client address and refuses logins after too many.

    Behind a reverse proxy every browser shares the proxy's address, so the limit then
    holds for all clients together: guessing stays capped, at the price of a short lockout
    for everyone while someone guesses.
    """

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, client: str, now: float | None = None) -> bool:
        """Whether this client had ``limit`` failures within the last ``window`` seconds."""
        moment = time.monotonic() if now is None else now
        recent = self._failures.get(client)
        if recent is None:
            return False
        while recent and recent[0] <= moment - self.window:
            recent.popleft()
        if not recent:
            del self._failures[client]  # forget clients that stopped failing
        return len(recent) >= self.limit

    def fail(self, client: str, now: float | None = None) -> None:
        """Record a wrong token (before the delay, so parallel guesses count at once)."""
        moment = time.monotonic() if now is None else now
        self._failures.setdefault(client, deque()).append(moment)
