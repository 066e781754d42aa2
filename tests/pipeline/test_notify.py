"""Alert messages sent to real servers on 127.0.0.1: an aiosmtpd SMTP server and an HTTP
server standing in for Slack, Teams or any JSON webhook."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from dashboards.i18n import LANGUAGES
from flows.ingest import ingest_flow
from models.labels import load_labels
from pipeline import alerts, notify, store
from pipeline.config import Settings
from pipeline.records import Alert, AlertEvidence
from tests.pipeline.test_alerts import PAYLOAD_TITLE, PERIOD, SCRIPT, build_db

LABELS = load_labels()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.messages.append(message_from_bytes(raw, policy=policy.default))
        return "250 OK"

    def authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"secret")

    def by_subject(self, word: str) -> EmailMessage:
        (found,) = [m for m in self.messages if word in str(m["Subject"])]
        return found


@pytest.fixture()
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


class Hook:
    """A webhook receiver answering ``status`` (or the next of ``statuses`` while there are
    any); ``posts`` holds the JSON bodies, ``sizes`` their length in bytes."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.sizes: list[int] = []
        self.status = 200
        self.statuses: list[int] = []

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else self.status


@pytest.fixture()
def hook() -> Iterator[tuple[Hook, str]]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.posts.append(json.loads(body))
            state.sizes.append(len(body))
            self.send_response(state.answer())
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/services/hook-secret-token"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The test newsroom with its W47 alerts stored and pending."""
    build_db(tmp_path / "n.duckdb")
    con = store.open_store(tmp_path / "n.duckdb")
    assert alerts.save_alerts(con, alerts.detect_alerts(con, PERIOD)) == 3
    yield con
    con.close()


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(db=tmp_path / "unused.duckdb", smtp_starttls=False, **kw)


def email_settings(tmp_path: Path, port: int, **kw: Any) -> Settings:
    return settings(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        alert_from="framewatch@example.org",
        alert_to=["press@example.org", "training@example.org"],
        **kw,
    )


def parts(mail: EmailMessage) -> tuple[str, str]:
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def stored(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT city, notified_at IS NOT NULL, channels, notify_error FROM alerts ORDER BY city, id"
    ).fetchall()


# --- e-mail ----------------------------------------------------------------------------------


def test_one_email_per_city_in_its_language(
    con: duckdb.DuckDBPyConnection, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    result = notify.notify(con, email_settings(tmp_path, port))
    assert (result.delivered, result.failed) == (3, 0)
    assert len(inbox.messages) == 2  # Oberhausen (two alerts, one message) and Lyon
    de = inbox.by_subject("Oberhausen")
    assert de["Subject"] == "framewatch-Warnung: Migrationsberichterstattung in Oberhausen"
    assert de["To"] == "press@example.org, training@example.org"
    text, html = parts(de)
    public_order = LABELS.get("threat_public_order").name("de")
    for body in (text, html):
        assert public_order in body and "Beispiele" in body and "Metapher" in body
        assert "Titel anzeiger-002" in body
        assert "https://anzeiger.example/anzeiger-002" in body
    assert '<a href="https://anzeiger.example/anzeiger-002"' in html
    assert "16.11.2026" in text  # the period as German dates (Babel)
    fr_text, _ = parts(inbox.by_subject("Lyon"))
    assert "Exemples" in fr_text and LABELS.get("threat_security").name("fr") in fr_text
    assert "Le Progrès" in fr_text
    assert all(row[1] and row[2] == ["email"] and row[3] is None for row in stored(con))
    assert alerts.pending_alerts(con) == []


def test_a_script_title_is_escaped_in_the_html_part(
    con: duckdb.DuckDBPyConnection, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    notify.notify(con, email_settings(tmp_path, port))
    text, html = parts(inbox.by_subject("Oberhausen"))
    assert SCRIPT not in html and "<script" not in html
    assert "Angriff &lt;script&gt;alert(1)&lt;/script&gt; am Markt" in html
    assert PAYLOAD_TITLE in text  # plain text is not HTML: shown as written


def test_smtp_login_when_a_user_is_set(
    con: duckdb.DuckDBPyConnection, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    cfg = email_settings(tmp_path, port, smtp_user="fw", smtp_password="secret")
    assert notify.notify(con, cfg).delivered == 3
    assert inbox.logins == [(b"fw", b"secret")] * 2


def test_starttls_is_required_when_configured(
    con: duckdb.DuckDBPyConnection, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    cfg = email_settings(tmp_path, port).model_copy(update={"smtp_starttls": True})
    result = notify.notify(con, cfg)  # this server offers no STARTTLS: never send in clear
    assert (result.delivered, result.failed) == (0, 3) and inbox.messages == []
    assert all("STARTTLS" in row[3] or "starttls" in row[3] for row in stored(con))


# --- webhooks --------------------------------------------------------------------------------


def test_slack_webhook_shape_and_escaping(
    con: duckdb.DuckDBPyConnection, hook: tuple[Hook, str], tmp_path: Path
) -> None:
    state, url = hook
    notify.notify(con, settings(tmp_path, webhook_url=url, webhook_format="slack"))
    assert len(state.posts) == 2
    (post,) = [p for p in state.posts if "Oberhausen" in p["text"]]
    assert set(post) == {"text", "blocks"}
    assert [b["type"] for b in post["blocks"]] == [
        "header",
        "section",
        "section",
        "section",
        "context",
    ]
    sections = "\n".join(b["text"]["text"] for b in post["blocks"] if b["type"] == "section")
    assert all(b["text"]["type"] == "mrkdwn" for b in post["blocks"] if b["type"] == "section")
    assert "<https://kurier.example/kurier-000|Angriff &lt;script&gt;" in sections
    assert "<script>" not in json.dumps(post, ensure_ascii=False)
    assert "Der Stadtrat sprach von einer Flüchtlingswelle am Bahnhof." in sections


def test_teams_webhook_is_an_adaptive_card(
    con: duckdb.DuckDBPyConnection, hook: tuple[Hook, str], tmp_path: Path
) -> None:
    state, url = hook
    notify.notify(con, settings(tmp_path, webhook_url=url, webhook_format="teams"))
    (post,) = [p for p in state.posts if "Oberhausen" in json.dumps(p, ensure_ascii=False)]
    assert post["type"] == "message"
    (attachment,) = post["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    runs = [
        run
        for block in _walk(card["body"])
        if block.get("type") == "RichTextBlock"
        for run in block["inlines"]
    ]
    assert all(run["type"] == "TextRun" for run in runs)  # no Markdown anywhere
    (title,) = [r for r in runs if r["text"] == PAYLOAD_TITLE]
    assert title["selectAction"] == {
        "type": "Action.OpenUrl",
        "url": "https://kurier.example/kurier-000",
    }
    assert not any(b.get("type") == "TextBlock" for b in _walk(card["body"]))


def _walk(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for block in blocks:
        yield block
        yield from _walk(block.get("items", []))


def test_json_webhook_carries_the_stored_alerts(
    con: duckdb.DuckDBPyConnection, hook: tuple[Hook, str], tmp_path: Path
) -> None:
    state, url = hook
    notify.notify(con, settings(tmp_path, webhook_url=url, webhook_format="json"))
    (post,) = [p for p in state.posts if p["city"] == "Lyon"]
    assert post["lang"] == "fr" and "Le Progrès" in post["text"]  # the e-mail's text part
    (alert,) = post["alerts"]
    assert alert["source_id"] == "progres" and alert["subject"] == "threat_security"
    assert len(alert["evidence"]) == 3 and alert["evidence"][0]["url"].startswith("https://")
    assert alert["period_start"] == "2026-11-16T00:00:00" and "SELECT" in alert["query"]


# --- failures and retries ------------------------------------------------------------------


def test_failing_webhook_is_recorded_and_retried_alone(
    con: duckdb.DuckDBPyConnection,
    smtp: tuple[Inbox, int],
    hook: tuple[Hook, str],
    tmp_path: Path,
) -> None:
    inbox, port = smtp
    state, url = hook
    cfg = email_settings(tmp_path, port, webhook_url=url, webhook_format="slack")
    state.status = 500
    first = notify.notify(con, cfg)  # must not raise
    assert (first.delivered, first.failed) == (0, 3)
    rows = stored(con)
    assert all(not done and channels == ["email"] for _, done, channels, _ in rows)
    assert all("500" in error for *_, error in rows)
    assert all("hook-secret-token" not in error for *_, error in rows)  # the URL is a secret
    assert len(alerts.pending_alerts(con)) == 3
    state.status = 200
    second = notify.notify(con, cfg)
    assert (second.delivered, second.failed) == (3, 0)
    assert len(inbox.messages) == 2  # e-mail had delivered: not sent again
    assert len(state.posts) == 4  # two failed posts, two retried
    assert all(done and channels == ["email", "webhook"] for _, done, channels, _ in stored(con))
    assert alerts.pending_alerts(con) == []


def test_closed_smtp_port_is_recorded_and_retried(
    con: duckdb.DuckDBPyConnection, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    closed = free_port()
    result = notify.notify(con, email_settings(tmp_path, closed))
    assert (result.delivered, result.failed) == (0, 3) and result.errors
    errors = {city: error for city, _, _, error in stored(con)}
    # The first city found the server down; the second was not tried (same run).
    assert "ConnectionRefusedError" in errors["Lyon"]
    assert "not tried" in errors["Oberhausen"]
    assert notify.notify(con, email_settings(tmp_path, port)).delivered == 3
    assert len(inbox.messages) == 2


def test_run_alerts_detects_saves_and_sends(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    build_db(tmp_path / "r.duckdb")
    con = store.open_store(tmp_path / "r.duckdb")
    summary = alerts.run_alerts(con, email_settings(tmp_path, port), PERIOD)
    assert (len(summary.detected), summary.new, summary.delivered) == (3, 3, 3)
    again = alerts.run_alerts(con, email_settings(tmp_path, port), PERIOD)
    assert (again.new, again.delivered) == (0, 0) and len(inbox.messages) == 2
    con.close()


def test_nothing_is_sent_or_marked_without_a_channel(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    assert notify.notify(con, settings(tmp_path)) == notify.NotifyResult(0, 0, ())
    assert len(alerts.pending_alerts(con)) == 3


# --- every language --------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_renders(con: duckdb.DuckDBPyConnection, lang: str) -> None:
    pending = [a for a in alerts.pending_alerts(con) if a.city == "Oberhausen"]
    message = notify.build_message(pending, lang)
    text, html = notify.render_email(message)
    assert LABELS.get("threat_public_order").name(lang) in text
    assert f'<html lang="{lang}">' in html
    if lang != "en":
        english = notify.build_message(pending, "en")
        assert message.subject != english.subject and message.alerts[0].change != (
            english.alerts[0].change
        )


# --- secrets ---------------------------------------------------------------------------------


def test_the_webhook_url_is_masked_in_flow_parameters(tmp_path: Path) -> None:
    cfg = settings(tmp_path, webhook_url="https://hooks.example/services/T0/B0/hook-secret")
    stored_params = json.dumps(ingest_flow.serialize_parameters({"settings": cfg}))
    assert "hook-secret" not in stored_params and "services" not in stored_params


@pytest.mark.parametrize("failure", ["status 500", "connection refused"])
def test_a_failing_webhook_leaves_no_trace_of_its_url(
    con: duckdb.DuckDBPyConnection,
    hook: tuple[Hook, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    state, url = hook
    if failure == "status 500":
        state.status = 500
    else:
        url = f"http://127.0.0.1:{free_port()}/services/hook-secret-token?x=1"
    caplog.set_level(logging.DEBUG)
    result = notify.notify(con, settings(tmp_path, webhook_url=url, webhook_format="slack"))
    assert result.failed == 3
    errors = [error for *_, error in stored(con)]
    assert all(errors) and any(
        ("500" if failure == "status 500" else "Connect") in e for e in errors
    )
    for text in [*errors, *result.errors, caplog.text]:
        assert "hook-secret-token" not in text and "/services" not in text


# --- limits of Slack and Teams ---------------------------------------------------------------

LONG = "Überfall & Angst <am> Markt " * 11  # 308 characters, multi-byte and escaped in Slack


def long_alerts(n: int, city: str = "Oberhausen") -> list[Alert]:
    """n alerts of one city, each with three examples whose title and sentence are long."""
    evidence = tuple(
        AlertEvidence(
            f"art-{j}",
            LONG,
            f"https://kurier.example/{'pfad/' * 30}{j}",
            "Stadtkurier",
            PERIOD.start,
            LONG,
        )
        for j in range(3)
    )
    return [
        Alert(
            id=f"long-{i:03d}",
            period_start=PERIOD.start,
            period_end=PERIOD.end,
            scope="city",
            city=city,
            source_id=None,
            outlet=None,
            lang="de",
            kind="metaphor",
            subject=f"welle-{i:03d}",
            articles=5,
            total=10,
            share=0.5,
            baseline_articles=0,
            baseline_total=50,
            baseline_share=0.0,
            p_value=0.0001,
            evidence=evidence,
            model_versions=("m1",),
            query="SELECT 1",
        )
        for i in range(n)
    ]


@pytest.fixture()
def many(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A database whose only pending alerts are 60 long ones of one city."""
    con = store.open_store(tmp_path / "many.duckdb")
    assert alerts.save_alerts(con, long_alerts(60)) == 60
    yield con
    con.close()


def delivered_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT id FROM alerts WHERE notified_at IS NOT NULL").fetchall()
    return {r[0] for r in rows}


def test_slack_gets_every_alert_in_posts_of_at_most_50_blocks(
    many: duckdb.DuckDBPyConnection, hook: tuple[Hook, str], tmp_path: Path
) -> None:
    state, url = hook
    result = notify.notify(many, settings(tmp_path, webhook_url=url, webhook_format="slack"))
    assert (result.delivered, result.failed) == (60, 0)
    assert len(state.posts) == 2
    assert all(len(p["blocks"]) <= 50 for p in state.posts)
    sections = [b for p in state.posts for b in p["blocks"][2:-1]]
    assert len(sections) == 60  # every alert shown, none only counted as "more"
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert [p["blocks"][0]["text"]["text"][-5:] for p in state.posts] == ["(1/2)", "(2/2)"]


def test_slack_marks_only_the_alerts_of_posts_that_went_out(
    many: duckdb.DuckDBPyConnection, hook: tuple[Hook, str], tmp_path: Path
) -> None:
    state, url = hook
    state.statuses = [200, 500]
    result = notify.notify(many, settings(tmp_path, webhook_url=url, webhook_format="slack"))
    shown_first = len(state.posts[0]["blocks"]) - 3
    assert (result.delivered, result.failed) == (shown_first, 60 - shown_first)
    assert delivered_ids(many) == {f"long-{i:03d}" for i in range(shown_first)}
    retry = notify.notify(many, settings(tmp_path, webhook_url=url, webhook_format="slack"))
    assert (retry.delivered, retry.failed) == (60 - shown_first, 0)
    assert len(state.posts) == 3  # only the failed part is posted again


def test_teams_posts_stay_under_25_kb_and_delivery_is_per_post(
    tmp_path: Path, hook: tuple[Hook, str]
) -> None:
    state, url = hook
    con = store.open_store(tmp_path / "teams.duckdb")
    alerts.save_alerts(con, long_alerts(10))
    state.statuses = [200, 500]
    first = notify.notify(con, settings(tmp_path, webhook_url=url, webhook_format="teams"))
    assert len(state.posts) == 2 and all(size <= 25_000 for size in state.sizes)
    in_first = {
        i for i in range(10) if f"welle-{i:03d}" in json.dumps(state.posts[0], ensure_ascii=False)
    }
    assert in_first and first.delivered == len(in_first) and first.failed == 10 - len(in_first)
    assert delivered_ids(con) == {f"long-{i:03d}" for i in in_first}
    notify.notify(con, settings(tmp_path, webhook_url=url, webhook_format="teams"))
    assert len(delivered_ids(con)) == 10 and all(size <= 25_000 for size in state.sizes)
    con.close()


def test_a_long_slack_section_is_cut_between_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    message = notify.build_message(long_alerts(1), "de")
    (view,) = message.alerts
    monkeypatch.setattr(notify, "SLACK_SECTION_MAX", 10**6)
    whole = notify._slack_section(view, message.t)["text"]["text"].split("\n")
    monkeypatch.undo()
    text = notify._slack_section(view, message.t)["text"]["text"]
    assert len(text) <= 3000 and text.endswith("\n…")
    kept = text.split("\n")[:-1]
    assert kept == whole[: len(kept)]  # whole lines only: no cut link or &amp; entity
    assert not re.search(r"&(?!amp;|lt;|gt;)", text)


# --- unreachable channels --------------------------------------------------------------------


class SlowServer:
    """A TCP server on 127.0.0.1 that accepts connections, then sends ``reply`` one byte every
    ``every`` seconds (nothing at all when ``reply`` is empty): a black hole, or a server
    whose each byte comes within any per-read timeout."""

    def __init__(self, reply: bytes, every: float = 0.2) -> None:
        self.reply, self.every = reply, every
        self.accepted = 0
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            for byte in self.reply:
                if self.stop.wait(self.every):
                    return
                conn.sendall(bytes([byte]))
            self.stop.wait()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture()
def black_hole() -> Iterator[SlowServer]:
    server = SlowServer(b"")
    yield server
    server.close()


@pytest.fixture()
def dripping() -> Iterator[SlowServer]:
    server = SlowServer(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 200)
    yield server
    server.close()


def test_a_black_holed_smtp_server_costs_one_timeout_per_run(
    con: duckdb.DuckDBPyConnection,
    black_hole: SlowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notify, "SMTP_TIMEOUT", 0.5)
    start = time.monotonic()
    result = notify.notify(con, email_settings(tmp_path, black_hole.port))
    assert time.monotonic() - start < 1.5  # two cities, one wait
    assert black_hole.accepted == 1
    assert (result.delivered, result.failed) == (0, 3)
    assert len(alerts.pending_alerts(con)) == 3  # retried by the next run


def test_a_webhook_post_has_an_overall_deadline(dripping: SlowServer) -> None:
    url = f"http://127.0.0.1:{dripping.port}/services/hook"
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        notify.post_json(url, b"{}", deadline=1.0)
    assert time.monotonic() - start < 2.0  # each byte came within httpx's read timeout


def test_a_slow_webhook_is_skipped_for_the_rest_of_the_run(
    con: duckdb.DuckDBPyConnection,
    dripping: SlowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notify, "WEBHOOK_DEADLINE", 0.5)
    url = f"http://127.0.0.1:{dripping.port}/services/hook"
    result = notify.notify(con, settings(tmp_path, webhook_url=url, webhook_format="json"))
    assert dripping.accepted == 1 and result.failed == 3
    assert all("TimeoutError" in e or "not tried" in e for *_, e in stored(con))
