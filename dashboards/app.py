"""The dashboard: a small server-rendered web app over the DuckDB file (``framewatch dashboard``).

Pages work without JavaScript (there is none): filters are a GET form, charts are inline SVG
rendered on the server by the weekly report's own chart function, reviews are a POST form.

Scraped text is untrusted. It reaches HTML only through Jinja2's autoescaping (highlighted
text is cut into pieces that are escaped one by one), URLs become links only when they are
http(s), and every response carries a Content-Security-Policy that forbids scripts
altogether, so even a payload that slipped through could not run.

DuckDB lets a process hold a file either read-write or read-only, and lets no other process
open it while one writes. So the app keeps no connection: each request opens a read-only one
and closes it, a review opens a short read-write one (``DbGate`` keeps the two apart inside
the process), and a review that meets a running ingest waits in a spool file instead of
being lost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import duckdb
from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from dashboards import queries
from dashboards.i18n import LANGUAGES, fmt_date, fmt_number, fmt_pct, locale, translator
from dashboards.report import group_chart
from models.labels import LabelSet, load_labels
from pipeline import aggregate
from pipeline.aggregate import FrameTrend, Period
from pipeline.annotations import (
    Review,
    check_review,
    import_spooled_reviews,
    spool_path,
    spool_review,
    store_reviews,
)
from pipeline.config import Settings
from pipeline.health import source_health
from pipeline.records import SourceHealth
from pipeline.store import DatabaseBusy, open_readonly, open_store

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
SESSION_COOKIE = "fw_session"
REVIEWER_COOKIE = "fw_reviewer"
UI_COOKIE = "fw_ui"
PUBLIC_PATHS = ("/login", "/static/")
REPORT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".md": "text/plain; charset=utf-8",  # shown as text: browsers download text/markdown
    ".pdf": "application/pdf",
}
YEAR = 365 * 24 * 3600
LOGIN_FAILURE_DELAY = 1.0  # seconds: slows guessing the token without locking anyone out
MAX_REVIEWER = 100


class DashboardConfigError(ValueError):
    """The dashboard may not start with these settings (exposed without a token)."""


def is_loopback(host: str) -> bool:
    """Whether an address only this machine can reach ('localhost' counts)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def login_required(settings: Settings) -> bool:
    """A login token is needed when the dashboard binds beyond loopback.

    Raises DashboardConfigError when it is needed but not set: an exposed dashboard with
    no login would let anyone read the database and write annotations.
    """
    if is_loopback(settings.dashboard_host):
        return False
    token = settings.dashboard_token
    if token is None or not token.get_secret_value():
        raise DashboardConfigError(
            f"the dashboard binds {settings.dashboard_host}, beyond this machine: set "
            "FRAMEWATCH_DASHBOARD_TOKEN to a long random string (reviewers log in with it), "
            "or bind 127.0.0.1"
        )
    return True


# --- the database, one short connection per request ------------------------------------


class DbGate:
    """Opens and closes connections so that no read-only one is open while the app writes.

    DuckDB refuses a read-write connection to a file the same process has open read-only
    (and the other way round), so reads share the gate and a review's write waits until
    they are done; a waiting write holds back new reads so that it is not starved.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting = 0

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, closed when the block ends."""
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._waiting)
            self._readers += 1
        try:
            con = open_readonly(self.path)
            try:
                yield con
            finally:
                con.close()
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection (DatabaseBusy while an ingest writes), closed after."""
        with self._cond:
            self._waiting += 1
            self._cond.wait_for(lambda: not self._writing and not self._readers)
            self._waiting -= 1
            self._writing = True
        try:
            con = open_store(self.path)
            try:
                yield con
            finally:
                con.close()
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def save_review(gate: DbGate, review: Review) -> str:
    """Store a review: 'saved', 'spooled' (the database is busy) or 'missing' (no article).

    Reviews that waited in the spool are stored first, in the order they were made, so a
    reviewer's newer judgement of the same article replaces the older one.
    """
    spool = spool_path(gate.path)
    try:
        with gate.write() as con:
            _import_spool(con, spool)
            return "saved" if store_reviews(con, [review]) else "missing"
    except DatabaseBusy:
        spool_review(spool, review)
        return "spooled"


def _import_spool(con: duckdb.DuckDBPyConnection, spool: Path) -> None:
    """Import waiting reviews; a broken spool is logged and must not block the new review."""
    try:
        n = import_spooled_reviews(con, spool)
    except (ValueError, KeyError, OSError) as exc:
        log.error("spooled reviews in %s not imported: %s", spool, exc)
        return
    if n:
        log.info("imported %d spooled reviews from %s", n, spool)


# --- sessions: a signed cookie -----------------------------------------------------------


def session_secret(settings: Settings) -> bytes:
    """The key that signs session cookies: from the token, so sessions survive a restart
    and end when the token changes; random on loopback without a token."""
    token = settings.dashboard_token
    if token is None or not token.get_secret_value():
        return secrets.token_bytes(32)
    return hashlib.sha256(b"framewatch-session\0" + token.get_secret_value().encode()).digest()


def sign(secret: bytes, data: dict[str, Any]) -> str:
    """A cookie value: the JSON payload, base64, and its HMAC."""
    payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
    mac = hmac.new(secret, payload, hashlib.sha256).hexdigest()
    return f"{payload.decode()}.{mac}"


def unsign(secret: bytes, value: str | None) -> dict[str, Any] | None:
    """The payload of a cookie signed with ``secret``; None when absent or tampered with."""
    if not value or "." not in value:
        return None
    payload, mac = value.rsplit(".", 1)
    expected = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def new_session() -> dict[str, Any]:
    """A fresh session: a CSRF token, not logged in."""
    return {"csrf": secrets.token_urlsafe(24), "auth": False}


def check_csrf(request: Request, token: str) -> None:
    """Refuse a POST whose form token is not the session's (403)."""
    expected = str(request.state.session.get("csrf", ""))
    if not (token and expected and hmac.compare_digest(token, expected)):
        raise HTTPException(403, "csrf")


def set_flash(request: Request, key: str, kind: str = "ok", **args: str) -> None:
    """A message for the next page (after the redirect that follows a POST)."""
    request.state.session["flash"] = {"key": key, "kind": kind, "args": args}


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (no //host, no scheme)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# --- the reader's language ---------------------------------------------------------------


def accepted_language(header: str) -> str | None:
    """The first of our languages in an Accept-Language header, by weight."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        code, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    weight = float(param[2:])
                except ValueError:
                    weight = 0.0
        ranked.append((-weight, position, code.split("-")[0].lower()))
    return next((c for w, _, c in sorted(ranked) if c in LANGUAGES and w < 0), None)


def ui_language(request: Request) -> str:
    """?ui=xx, else the cookie a previous ?ui= set, else the browser's wish, else English."""
    for wish in (request.query_params.get("ui"), request.cookies.get(UI_COOKIE)):
        if wish in LANGUAGES:
            return str(wish)
    return accepted_language(request.headers.get("accept-language", "")) or "en"


@dataclass(frozen=True)
class Fmt:
    """Numbers, dates and language names in the reader's language (Babel, via i18n)."""

    lang: str

    def pct(self, value: float | None) -> str:
        """A share as a percentage; a dash when there is none."""
        return "–" if value is None else fmt_pct(value, self.lang)

    def num(self, value: float | None, digits: int = 0) -> str:
        """A number; a dash when there is none."""
        return "–" if value is None else fmt_number(value, self.lang, digits)

    def day(self, value: date | datetime | None) -> str:
        """A date; a dash when there is none."""
        return "–" if value is None else fmt_date(value, self.lang)

    def language(self, code: str) -> str:
        """A language's name in the reader's language ('de' -> 'Deutsch', 'German' ...)."""
        return str(locale(self.lang).languages.get(code, code))


# --- highlighting: <mark> from offsets, every piece escaped -------------------------------


@dataclass(frozen=True)
class Span:
    """A stretch of the article text to mark, and why (shown as the mark's tooltip)."""

    start: int
    end: int
    kind: str  # evidence | cue | metaphor | loaded_term | migration_term
    note: str


def highlight(text: str, spans: Iterable[Span]) -> Markup:
    """The text with every span in a <mark>; overlapping spans split into flat pieces.

    Each piece of scraped text goes through ``escape`` on its own and the marks are built
    with Markup.format (which escapes its arguments), so no scraped character is ever
    taken as markup.
    """
    valid = [
        Span(max(0, s.start), min(len(text), s.end), s.kind, s.note)
        for s in spans
        if s.start < s.end and s.start < len(text)
    ]
    cuts = sorted({0, len(text), *(s.start for s in valid), *(s.end for s in valid)})
    parts = [
        _piece(text[a:b], [s for s in valid if s.start <= a and b <= s.end])
        for a, b in pairwise(cuts)
    ]
    return Markup("").join(parts)


def _piece(piece: str, spans: list[Span]) -> Markup:
    """One piece of text: escaped, in a <mark> with the kinds and notes of its spans."""
    if not spans:
        return escape(piece)
    kinds = " ".join(sorted({s.kind for s in spans}))
    notes = " · ".join(dict.fromkeys(s.note for s in spans if s.note))
    return Markup('<mark class="{}" title="{}">{}</mark>').format(kinds, notes, piece)


def text_spans(view: ArticleView, names: dict[str, str], t: dict[str, str]) -> list[Span]:
    """The marks of an article: evidence sentences, their cue words, lexicon matches."""
    spans = []
    for e in view.evidence:
        name = names.get(e.frame, e.frame)
        spans.append(Span(e.start, e.end, "evidence", name))
        spans += [Span(c.start, c.end, "cue", t["cue_for"].format(frame=name)) for c in e.cues]
    for term in view.terms:
        alts = ", ".join(term.alternatives)
        note = t[f"term_{term.kind}"] + (f" → {alts}" if alts else "")
        kind = term.kind if term.kind in ("metaphor", "loaded_term") else "migration_term"
        spans.append(Span(term.start, term.end, kind, note))
    return spans


def safe_link(url: str | None) -> str | None:
    """The URL if it is an http(s) link to a host; None for javascript:, data: and others."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


# --- what the pages show -------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """The overview page: filters, figures, frame table, chart and one page of articles."""

    filters: queries.Filters
    form: dict[str, str]
    problems: tuple[str, ...]  # translation keys of filter values that were ignored
    choices: queries.Choices
    figures: queries.KeyFigures
    trends: list[FrameTrend]
    chart: Markup
    articles: list[queries.ArticleRow]
    total: int
    baseline_periods: int = aggregate.BASELINE_PERIODS

    @property
    def last_day(self) -> datetime:
        """The period's last day (its end is the midnight after it)."""
        return self.filters.period.end - timedelta(days=1)

    @property
    def pages(self) -> int:
        """How many list pages the filters give."""
        return max(1, -(-self.total // queries.PAGE_SIZE))

    def link(self, **changes: str | int) -> str:
        """The overview URL with these filters changed (the pager, the frame links)."""
        values = {**self.form, **{k: str(v) for k, v in changes.items()}}
        return "/?" + urlencode({k: v for k, v in values.items() if v})


FILTER_FIELDS = ("city", "outlet", "lang", "frame", "week", "from", "to", "page")


def parse_period(form: dict[str, str], latest: date | None) -> tuple[Period, list[str]]:
    """The period a filter form asks for: an ISO week, a from/to range, or by default
    the seven days up to the newest article (so an archive opens on its last week)."""
    problems: list[str] = []
    if form.get("week"):
        try:
            return aggregate.iso_week(form["week"]), problems
        except ValueError:
            problems.append("problem_week")
    try:
        start = date.fromisoformat(form["from"]) if form.get("from") else None
        end = date.fromisoformat(form["to"]) if form.get("to") else None
    except ValueError:
        return aggregate.last_days(latest), [*problems, "problem_date"]
    if start and end and start > end:
        return aggregate.last_days(latest), [*problems, "problem_order"]
    if start or end:
        return _range(start, end), problems
    return aggregate.last_days(latest), problems


def _range(start: date | None, end: date | None) -> Period:
    """A period from optional first and last days (seven days when one is missing)."""
    end = end or (start + timedelta(days=6) if start else datetime.now(UTC).date())
    start = start or end - timedelta(days=6)
    return Period(
        datetime(start.year, start.month, start.day),
        datetime(end.year, end.month, end.day) + timedelta(days=1),
        f"{start:%Y-%m-%d} – {end:%Y-%m-%d}",
    )


def parse_filters(
    params: dict[str, str], latest: date | None, labels: LabelSet
) -> tuple[queries.Filters, dict[str, str], list[str]]:
    """Filters from the query string, the form values to show again, and what was ignored."""
    form = {k: params.get(k, "").strip() for k in FILTER_FIELDS}
    period, problems = parse_period(form, latest)
    frame = form["frame"] or None
    if frame and frame not in labels.codes:
        problems.append("problem_frame")
        frame, form["frame"] = None, ""
    page = int(form["page"]) if form["page"].isdigit() and int(form["page"]) > 0 else 1
    filters = queries.Filters(
        period, form["city"] or None, form["outlet"] or None, form["lang"] or None, frame, page
    )
    return filters, form, problems


def build_overview(
    con: duckdb.DuckDBPyConnection, params: dict[str, str], lang: str, t: dict[str, str]
) -> Overview:
    """Everything the overview shows, for the filters in the query string."""
    labels = load_labels()
    filters, form, problems = parse_filters(params, queries.latest_day(con), labels)
    series = aggregate.group_series(con, filters.period, filters.scope)
    return Overview(
        filters=filters,
        form=form,
        problems=tuple(problems),
        choices=queries.choices(con),
        figures=queries.key_figures(con, filters.period, filters.scope),
        trends=aggregate.frame_trends(con, filters.period, list(labels.codes), filters.scope),
        # The SVG is built by vl-convert from our own numbers and translated labels; no
        # scraped text goes into it, so it may be inserted as markup.
        chart=Markup(group_chart(series, labels, lang, t)),
        articles=queries.list_articles(con, filters),
        total=queries.count_articles(con, filters),
    )


@dataclass(frozen=True)
class ArticleView:
    """The article page: the text with its marks, every score, quotes and reviews."""

    article: queries.ArticleDetail
    link: str | None
    scores: list[queries.FrameScore]
    evidence: list[queries.EvidenceSentence]
    terms: list[queries.TermMatch]
    quotes: list[queries.QuoteRow]
    reviews: list[queries.ReviewRow]
    body: Markup = field(default_factory=Markup)

    @property
    def assigned(self) -> tuple[str, ...]:
        """The frames the model assigned."""
        return tuple(s.frame for s in self.scores if s.assigned)


def build_article(
    con: duckdb.DuckDBPyConnection, article_id: str, lang: str, t: dict[str, str]
) -> ArticleView | None:
    """The article page's content, or None when there is no such article."""
    found = queries.article(con, article_id)
    if found is None:
        return None
    view = ArticleView(
        article=found,
        link=safe_link(found.url),
        scores=queries.frame_scores(con, article_id),
        evidence=queries.evidence(con, article_id),
        terms=queries.terms(con, article_id),
        quotes=queries.quotes(con, article_id),
        reviews=queries.reviews(con, article_id),
    )
    body = highlight(found.text, text_spans(view, frame_names(lang), t))
    return replace(view, body=body)


def form_defaults(view: ArticleView, reviewer: str) -> tuple[tuple[str, ...], bool]:
    """What the review form starts with: the reviewer's own last judgement of the article
    (so a second visit shows what they said), else the model's decision."""
    mine = next((r for r in view.reviews if reviewer and r.reviewer == reviewer.strip()), None)
    if mine is not None and mine.labels is not None and mine.migration is not None:
        return mine.labels, mine.migration
    return view.assigned, bool(view.article.is_migration)


def frame_names(lang: str) -> dict[str, str]:
    """Frame code -> name in the reader's language."""
    return {label.code: label.name(lang) for label in load_labels().labels}


def review_from_form(article_id: str, form: ReviewForm) -> Review:
    """The Review a form submits: 'confirm' takes the model's frames as shown, 'correct'
    the ticked ones. ValueError when the reviewer is missing or a label is unknown."""
    confirm = form.action == "confirm"
    labels = form.model_labels if confirm else form.labels
    migration = form.model_migration if confirm else form.migration
    return check_review(
        Review(
            article_id=article_id,
            reviewer=form.reviewer.strip()[:MAX_REVIEWER],
            migration=migration == "yes",
            labels=tuple(dict.fromkeys(labels)),
            note=form.note.strip(),
        )
    )


@dataclass(frozen=True)
class ReviewForm:
    """The fields of the review form."""

    reviewer: str
    action: str
    labels: list[str]
    migration: str
    model_labels: list[str]
    model_migration: str
    note: str


# --- the reports archive ----------------------------------------------------------------


@dataclass(frozen=True)
class ReportFile:
    """A file of the weekly reports folder."""

    path: str  # relative to the folder, with forward slashes
    kind: str  # html | md | pdf
    size: int
    modified: datetime


def report_files(root: Path) -> list[ReportFile]:
    """The HTML, Markdown and PDF reports under ``root`` (servable ones only), newest first."""
    if not root.is_dir():
        return []
    base = root.resolve()
    paths = {report_file(root, p.relative_to(root).as_posix()) for p in root.rglob("*")} - {None}
    found = [_report_entry(base, p) for p in paths if p is not None]
    return sorted(found, key=lambda r: (r.modified, r.path), reverse=True)


def _report_entry(base: Path, path: Path) -> ReportFile:
    """A report file's listing entry."""
    stat = path.stat()
    modified = datetime.fromtimestamp(stat.st_mtime, UTC)
    return ReportFile(path.relative_to(base).as_posix(), path.suffix[1:], stat.st_size, modified)


def report_file(root: Path, relative: str) -> Path | None:
    """The report at ``relative`` if it is a report file inside ``root``, else None.

    The path is resolved (following '..' and symbolic links) before the check, so neither
    '../' nor a link pointing outside the folder reaches another file.
    """
    base = root.resolve()
    try:
        target = (base / relative).resolve()
    except (OSError, ValueError):
        return None
    inside = target.is_relative_to(base) and target != base
    return target if inside and target.is_file() and target.suffix in REPORT_TYPES else None


STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)


def report_csp(path: Path) -> str:
    """The strict policy for a report file, plus the hashes of the report's own <style>
    blocks (a report is one self-contained file) and a sandbox: no script, no plugin, no
    request leaves, whatever the file holds."""
    if path.suffix != ".html":
        return CSP + "; sandbox"
    blocks = STYLE_BLOCK.findall(path.read_text(encoding="utf-8", errors="replace"))
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks
    )
    return CSP.replace("style-src 'self'", f"style-src 'self' {hashes}".rstrip()) + "; sandbox"


# --- source health -----------------------------------------------------------------------


def health_now(con: duckdb.DuckDBPyConnection) -> list[SourceHealth]:
    """Every outlet's health now, failing ones first."""
    order = {"failing": 0, "warning": 1, "ok": 2}
    rows = source_health(con, datetime.now(UTC))
    return sorted(rows, key=lambda h: (order.get(h.status, 3), h.city, h.name))


# --- the app -------------------------------------------------------------------------------


def templates() -> Jinja2Templates:
    """Jinja2 with autoescaping on for every template, and missing keys as errors."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates" / "app"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=env)


class Dashboard:
    """The app's state and the helpers every page uses."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.login = login_required(settings)
        self.secret = session_secret(settings)
        self.gate = DbGate(settings.db)
        self.templates = templates()

    def page(self, request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
        """Render a page with what every page needs (strings, formats, session bits)."""
        lang = request.state.lang
        session = request.state.session
        flash = session.pop("flash", None)
        t = translator(lang, "app")
        context = {
            "t": t,
            "lang": lang,
            "f": Fmt(lang),
            "names": frame_names(lang),
            "labels": load_labels(),
            "csrf": session["csrf"],
            "logged_in": self.login and session.get("auth"),
            "flash": _flash_text(flash, t),
            "lang_links": _lang_links(request),
            **ctx,
        }
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def token_ok(self, token: str) -> bool:
        """Whether a login token is the configured one (constant-time comparison)."""
        expected = self.settings.dashboard_token
        if expected is None:
            return False
        return hmac.compare_digest(token.encode(), expected.get_secret_value().encode())


def _flash_text(flash: dict[str, Any] | None, t: dict[str, str]) -> dict[str, str] | None:
    """The flash message in words, or None."""
    if not flash or flash.get("key") not in t:
        return None
    return {"kind": str(flash.get("kind", "ok")), "text": t[flash["key"]].format(**flash["args"])}


def _lang_links(request: Request) -> list[tuple[str, str]]:
    """(language, the current page in that language) for the language switcher."""
    params = dict(request.query_params)
    return [
        (code, request.url.path + "?" + urlencode({**params, "ui": code})) for code in LANGUAGES
    ]


def create_app(settings: Settings) -> FastAPI:
    """The dashboard app for these settings (DashboardConfigError: exposed without token)."""
    dash = Dashboard(settings)
    app = FastAPI(title="framewatch", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.dashboard = dash
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    if not dash.login:
        # Loopback without login: refuse other Host headers, so a web page cannot reach
        # the dashboard through DNS rebinding.
        hosts = ["127.0.0.1", "localhost", "::1", "[::1]", settings.dashboard_host]
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    _add_guard(app, dash)
    _add_error_pages(app, dash)
    _add_pages(app, dash)
    _add_review(app, dash)
    _add_login(app, dash)
    return app


def _add_guard(app: FastAPI, dash: Dashboard) -> None:
    """Session, language and login check before every request; security headers after."""

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        session = unsign(dash.secret, request.cookies.get(SESSION_COOKIE)) or new_session()
        before = sign(dash.secret, session)
        request.state.session, request.state.lang = session, ui_language(request)
        public = request.url.path.startswith(PUBLIC_PATHS)
        if dash.login and not session.get("auth") and not public:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response: Response = RedirectResponse("/login?" + urlencode({"next": target}), 303)
        else:
            response = await call_next(request)
        _set_cookies(request, response, session, before, dash.secret)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _set_cookies(
    request: Request, response: Response, session: dict[str, Any], before: str, secret: bytes
) -> None:
    """Write the session cookie when it changed (or is new), and the ?ui= choice."""
    value = sign(secret, session)
    secure = request.url.scheme == "https"
    if value != before or SESSION_COOKIE not in request.cookies:
        response.set_cookie(
            SESSION_COOKIE, value, httponly=True, samesite="strict", secure=secure, path="/"
        )
    if request.query_params.get("ui") in LANGUAGES:
        response.set_cookie(
            UI_COOKIE, request.state.lang, max_age=YEAR, httponly=True, samesite="strict"
        )


def _add_error_pages(app: FastAPI, dash: Dashboard) -> None:
    """Errors as pages in the reader's language."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        key = {403: "error_csrf", 404: "error_not_found"}.get(exc.status_code, "error_other")
        return dash.page(request, "error.html", exc.status_code, message=key)

    @app.exception_handler(DatabaseBusy)
    async def busy(request: Request, exc: DatabaseBusy) -> Response:
        return dash.page(request, "error.html", 503, message="error_busy")

    @app.exception_handler(FileNotFoundError)
    async def no_db(request: Request, exc: FileNotFoundError) -> Response:
        return dash.page(request, "error.html", 503, message="error_no_db")


def _add_pages(app: FastAPI, dash: Dashboard) -> None:
    """The read-only pages."""

    @app.get("/")
    def overview(request: Request) -> Response:
        t = translator(request.state.lang, "app")
        with dash.gate.read() as con:
            view = build_overview(con, dict(request.query_params), request.state.lang, t)
        return dash.page(request, "overview.html", view=view)

    @app.get("/articles/{article_id}")
    def article(request: Request, article_id: str) -> Response:
        t = translator(request.state.lang, "app")
        with dash.gate.read() as con:
            view = build_article(con, article_id, request.state.lang, t)
        if view is None:
            raise HTTPException(404)
        reviewer = unquote(request.cookies.get(REVIEWER_COOKIE, ""))[:MAX_REVIEWER]
        ticked, migration = form_defaults(view, reviewer)
        return dash.page(
            request,
            "article.html",
            view=view,
            reviewer=reviewer,
            ticked=ticked,
            migration=migration,
        )

    @app.get("/health")
    def health(request: Request) -> Response:
        with dash.gate.read() as con:
            rows = health_now(con)
        return dash.page(request, "health.html", rows=rows)

    @app.get("/reports")
    def reports(request: Request) -> Response:
        return dash.page(request, "reports.html", files=report_files(dash.settings.reports))

    @app.get("/reports/{relative:path}")
    def report(relative: str) -> Response:
        path = report_file(dash.settings.reports, relative)
        if path is None:
            raise HTTPException(404)
        headers = {"Content-Security-Policy": report_csp(path)}
        if path.suffix == ".pdf":  # a download: browsers' PDF viewers do not run under CSP
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(path.name)}"
        return FileResponse(path, media_type=REPORT_TYPES[path.suffix], headers=headers)


def _add_review(app: FastAPI, dash: Dashboard) -> None:
    """The review form's POST: store (or spool) the judgement, then back to the article."""

    @app.post("/articles/{article_id}/review")
    def review(
        request: Request,
        article_id: str,
        csrf: Annotated[str, Form()] = "",
        reviewer: Annotated[str, Form()] = "",
        action: Annotated[str, Form()] = "correct",
        labels: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
        migration: Annotated[str, Form()] = "",
        model_labels: Annotated[list[str], Form()] = [],  # noqa: B006
        model_migration: Annotated[str, Form()] = "",
        note: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(request, csrf)
        form = ReviewForm(reviewer, action, labels, migration, model_labels, model_migration, note)
        back = RedirectResponse(f"/articles/{quote(article_id, safe='')}#review", 303)
        try:
            outcome = save_review(dash.gate, review_from_form(article_id, form))
        except ValueError:
            set_flash(request, "review_invalid", "error")
            return back
        if outcome == "missing":
            raise HTTPException(404)
        set_flash(request, f"review_{outcome}", "ok" if outcome == "saved" else "warn")
        name = quote(reviewer.strip()[:MAX_REVIEWER], safe="")
        back.set_cookie(REVIEWER_COOKIE, name, max_age=YEAR, httponly=True, samesite="strict")
        return back


def _add_login(app: FastAPI, dash: Dashboard) -> None:
    """The login form (only when the dashboard is exposed) and logout."""

    @app.get("/login")
    def login_form(request: Request, target: Annotated[str, Query(alias="next")] = "/") -> Response:
        return dash.page(request, "login.html", target=safe_next(target), required=dash.login)

    @app.post("/login")
    def login(
        request: Request,
        csrf: Annotated[str, Form()] = "",
        token: Annotated[str, Form()] = "",
        target: Annotated[str, Form(alias="next")] = "/",
    ) -> Response:
        check_csrf(request, csrf)
        if not (dash.login and dash.token_ok(token)):
            time.sleep(LOGIN_FAILURE_DELAY)
            set_flash(request, "login_failed", "error")
            return RedirectResponse("/login?" + urlencode({"next": safe_next(target)}), 303)
        request.state.session.clear()
        request.state.session.update({**new_session(), "auth": True})  # a new CSRF token too
        return RedirectResponse(safe_next(target), 303)

    @app.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        check_csrf(request, csrf)
        request.state.session.clear()
        request.state.session.update(new_session())
        return RedirectResponse("/login" if dash.login else "/", 303)
