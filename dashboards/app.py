"""The dashboard: a small server-rendered web app over the DuckDB file (``framewatch dashboard``).

Pages work without JavaScript (there is none): filters are a GET form, charts are inline SVG
rendered on the server by the weekly report's own chart function, reviews are a POST form.
This module wires the routes; what they show is in ``dashboards.views`` and who may use
them in ``dashboards.sessions``.

Scraped text is untrusted. It reaches HTML only through Jinja2's autoescaping (highlighted
text is cut into pieces that are escaped one by one), URLs become links only when they are
http(s), and every response carries a Content-Security-Policy that forbids scripts
altogether, so even a payload that slipped through could not run.

DuckDB lets a process hold a file either read-write or read-only, and lets no other process
open it while one writes. So the app keeps no connection: each request opens a read-only one
just long enough to fetch its data (the chart and the highlighting are made after it is
closed), a review opens a short read-write one (``DbGate`` keeps the two apart inside the
process), and a review that meets a running ingest waits in a spool file instead of being
lost.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

import duckdb
from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from dashboards import render, sessions, views
from dashboards.i18n import LANGUAGES, translator
from dashboards.sessions import (
    DashboardConfigError,
    LoginThrottle,
    Sessions,
    check_csrf,
    safe_next,
)
from dashboards.views import CSP, MAX_REVIEWER, REPORT_TYPES, UI_COOKIE
from models.labels import load_labels
from pipeline.annotations import (
    Review,
    import_spooled_reviews,
    spool_path,
    spool_review,
    store_reviews,
)
from pipeline.config import Settings
from pipeline.store import DatabaseBusy, open_readonly, writing

__all__ = ["CSP", "DashboardConfigError", "DbGate", "create_app", "save_review"]

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
SESSION_COOKIE = "fw_session"
REVIEWER_COOKIE = "fw_reviewer"
PUBLIC_PATHS = ("/login", "/static/")
YEAR = 365 * 24 * 3600
ERROR_MESSAGES = {403: "error_csrf", 404: "error_not_found", 429: "error_too_many"}


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
            with open_readonly(self.path) as con:
                yield con
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the existing database (DatabaseBusy while an ingest
        writes; FileNotFoundError when there is none: a review must not create an empty
        database), closed after."""
        if not self.path.exists():
            raise FileNotFoundError(f"no database at {self.path}")
        with self._cond:
            self._waiting += 1
            self._cond.wait_for(lambda: not self._writing and not self._readers)
            self._waiting -= 1
            self._writing = True
        try:
            # Through the writer lock like every writer: a running ingest or purge refuses
            # it at once (the review is spooled), and it never writes into a file that a
            # purge is about to replace.
            with writing(self.path) as con:
                yield con
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def save_review(gate: DbGate, review: Review) -> str:
    """Store a review: 'saved', 'spooled' (the database is busy) or 'missing' (no article).

    Reviews that waited in the spool are stored first, in the order they were made and each
    with its own time, so a reviewer's newer judgement of the same article replaces the
    older one.
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
    """Import waiting reviews (unreadable lines are set aside there); a failure is logged
    and must not block the new review."""
    try:
        n = import_spooled_reviews(con, spool)
    except (duckdb.Error, OSError) as exc:
        log.error("spooled reviews in %s not imported: %s", spool, exc)
        return
    if n:
        log.info("imported %d spooled reviews from %s", n, spool)


# --- the app -------------------------------------------------------------------------------


def templates() -> Jinja2Templates:
    """The shared HTML set-up (autoescaping, the report's filters and link rule) over the
    dashboard's pages, with missing keys as errors and the dashboard's own filters."""
    env = render.environment("html", folder="app", strict=True)
    env.filters.update(views.FILTERS)
    return Jinja2Templates(env=env)


class Dashboard:
    """The app's state and the helpers every page uses."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.login = sessions.login_required(settings)  # DashboardConfigError: refuse
        token = sessions.token_of(settings)
        # The secret is kept on disk only when there is a login to keep across restarts.
        secret = sessions.load_secret(settings.db) if token else sessions.random_secret()
        self.sessions = Sessions(secret, token)
        self.throttle = LoginThrottle()
        self.gate = DbGate(settings.db)
        self.templates = templates()

    def page(self, request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
        """Render a page with what every page needs (strings, formats, session bits)."""
        lang = request.state.lang
        session = request.state.session
        t = translator(lang, "app")
        labels = load_labels()
        context = {
            "t": t,
            "lang": lang,
            "names": labels.names(lang),
            "labels": labels,
            "csrf": session["csrf"],
            "logged_in": self.login and session.get("auth"),
            "flash": views.flash_text(session.pop("flash", None), t),
            "lang_links": views.lang_links(dict(request.query_params)),
            **ctx,
        }
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def error(self, request: Request, status: int, message: str) -> Response:
        """An error page in the reader's language."""
        return self.page(request, "error.html", status, message=message)


def set_flash(request: Request, key: str, kind: str = "ok", **args: str) -> None:
    """A message for the next page (after the redirect that follows a POST)."""
    request.state.session["flash"] = {"key": key, "kind": kind, "args": args}


def create_app(settings: Settings) -> FastAPI:
    """The dashboard app for these settings (DashboardConfigError: exposed without a token,
    or a token too short)."""
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
    """Session, language and access checks before every request; security headers after."""

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        incoming = request.cookies.get(SESSION_COOKIE)
        request.state.session = dash.sessions.load(incoming)
        request.state.lang = views.ui_language(request)
        response = await _admit(request, call_next, dash)
        _set_cookies(request, response, dash, incoming)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


async def _admit(request: Request, call_next: Any, dash: Dashboard) -> Response:
    """The page, or why not: without a login only this machine's browsers get in; with one,
    only logged-in sessions (the login page and static files excepted)."""
    if not dash.login and sessions.from_elsewhere(request):
        return dash.error(request, 403, "error_proxy")
    public = request.url.path.startswith(PUBLIC_PATHS)
    if dash.login and not request.state.session.get("auth") and not public:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": safe_next(target)}), 303)
    response: Response = await call_next(request)
    return response


def _set_cookies(
    request: Request, response: Response, dash: Dashboard, incoming: str | None
) -> None:
    """Write the session cookie when it differs from the one sent, and the ?ui= choice.

    Cookies are Secure on HTTPS and whenever a token is set: a login is meant to be served
    over HTTPS (a reverse proxy), and browsers accept Secure cookies on http://localhost.
    """
    value = sessions.sign(dash.sessions.secret, request.state.session)
    secure = request.url.scheme == "https" or dash.login
    if value != incoming:
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=sessions.SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/",
        )
    if request.query_params.get("ui") in LANGUAGES:
        response.set_cookie(
            UI_COOKIE,
            request.state.lang,
            max_age=YEAR,
            httponly=True,
            samesite="strict",
            secure=secure,
        )


def _add_error_pages(app: FastAPI, dash: Dashboard) -> None:
    """Errors as pages in the reader's language."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return dash.error(
            request, exc.status_code, ERROR_MESSAGES.get(exc.status_code, "error_other")
        )

    @app.exception_handler(DatabaseBusy)
    async def busy(request: Request, exc: DatabaseBusy) -> Response:
        return dash.error(request, 503, "error_busy")

    @app.exception_handler(FileNotFoundError)
    async def no_db(request: Request, exc: FileNotFoundError) -> Response:
        return dash.error(request, 503, "error_no_db")


def _add_pages(app: FastAPI, dash: Dashboard) -> None:
    """The read-only pages: fetch under a short connection, then render without one."""

    @app.get("/")
    def overview(request: Request) -> Response:
        with dash.gate.read() as con:
            data = views.fetch_overview(con, dict(request.query_params), load_labels())
        view = views.draw_overview(data, request.state.lang)
        return dash.page(request, "overview.html", view=view)

    @app.get("/articles/{article_id}")
    def article(request: Request, article_id: str) -> Response:
        with dash.gate.read() as con:
            data = views.fetch_article(con, article_id)
        if data is None:
            raise HTTPException(404)
        lang = request.state.lang
        view = views.mark_article(data, load_labels().names(lang), translator(lang, "app"))
        reviewer = unquote(request.cookies.get(REVIEWER_COOKIE, ""))[:MAX_REVIEWER]
        ticked, migration = views.form_defaults(view, reviewer)
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
            rows = views.health_now(con)
        return dash.page(request, "health.html", rows=rows)

    @app.get("/reports")
    def reports(request: Request) -> Response:
        return dash.page(request, "reports.html", files=views.report_files(dash.settings.reports))

    @app.get("/reports/{relative:path}")
    def report(relative: str) -> Response:
        path = views.report_file(dash.settings.reports, relative)
        if path is None:
            raise HTTPException(404)
        headers = {"Content-Security-Policy": views.report_csp(path)}
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
        form = views.ReviewForm(
            reviewer, action, labels, migration, model_labels, model_migration, note
        )
        back = RedirectResponse(f"/articles/{quote(article_id, safe='')}#review", 303)
        try:
            judgement = views.review_from_form(article_id, form)
        except ValueError:
            set_flash(request, "review_invalid", "error")
            return back
        outcome = save_review(dash.gate, judgement)  # FileNotFoundError: the no-db page
        if outcome == "missing":
            raise HTTPException(404)
        set_flash(request, f"review_{outcome}", "ok" if outcome == "saved" else "warn")
        name = quote(reviewer.strip()[:MAX_REVIEWER], safe="")
        back.set_cookie(REVIEWER_COOKIE, name, max_age=YEAR, httponly=True, samesite="strict")
        return back


def _add_login(app: FastAPI, dash: Dashboard) -> None:
    """The login form (only when a token is set) and logout."""

    @app.get("/login")
    def login_form(request: Request, target: Annotated[str, Query(alias="next")] = "/") -> Response:
        return dash.page(request, "login.html", target=safe_next(target), required=dash.login)

    @app.post("/login")
    async def login(
        request: Request,
        csrf: Annotated[str, Form()] = "",
        token: Annotated[str, Form()] = "",
        target: Annotated[str, Form(alias="next")] = "/",
    ) -> Response:
        # Async: the delay after a wrong token is awaited, holding no worker thread, and the
        # failure is counted before it, so parallel guesses meet the limit at once.
        check_csrf(request, csrf)
        client = sessions.client_address(request)
        if dash.throttle.blocked(client):
            raise HTTPException(429)
        if not (dash.login and dash.sessions.token_ok(token)):
            dash.throttle.fail(client)
            await asyncio.sleep(sessions.LOGIN_FAILURE_DELAY)
            set_flash(request, "login_failed", "error")
            return RedirectResponse("/login?" + urlencode({"next": safe_next(target)}), 303)
        request.state.session = dash.sessions.new(auth=True)  # a new id and CSRF token too
        return RedirectResponse(safe_next(target), 303)

    @app.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        check_csrf(request, csrf)
        dash.sessions.revoke(request.state.session)
        request.state.session = dash.sessions.new()
        return RedirectResponse("/login" if dash.login else "/", 303)
