"""Unattended operation: the writer's slot, and notices to operators.

A scheduled run that fails at 3 a.m. must reach a person: the flows' failure and crash
hooks log it and send a notice through the alert channel (e-mail, webhook). The daily
health run sends one digest of the outlets that need a look. Notices are plain text in the
operators' language (``ops_lang``); they never carry scraped text other than outlet names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import duckdb

from dashboards.i18n import fmt_date, translator
from pipeline import store
from pipeline.config import Settings
from pipeline.notify import json_bytes, post_json, send_email, slack_escape
from pipeline.records import SourceHealth
from pipeline.retention import RetentionCounts, apply_retention

if TYPE_CHECKING:
    from prefect import Flow

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
MESSAGE_CHARS = 600  # of a failed run's state message: enough for the exception's first lines


@dataclass(frozen=True)
class Notice:
    """One message to operators."""

    subject: str
    text: str
    event: str  # machine-readable kind for JSON webhooks: run_failed | source_health


@contextmanager
def writer(settings: Settings, limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The run's read-write connection, after the Prefect writer slot when ``limit`` names one.

    Served deployments pass the global concurrency limit's name, so a health run that
    starts during an ingest queues for the slot (up to ``writer_wait_seconds``) instead of
    failing on the database lock; a one-off ``framewatch run`` passes none and relies on
    the writer lock alone, which refuses a second writer with a clear message.
    """
    slot: Any = nullcontext()
    # Queued runs wait as long as a run may last (an ingest, a classify backlog after a
    # model change), and for a manual writer (a purge) that holds the lock meanwhile.
    queue = settings.ingest_timeout_minutes * 60 if limit else 0.0
    if limit:
        from prefect.concurrency.sync import concurrency

        slot = concurrency(limit, occupy=1, timeout_seconds=queue)
    # A snapshot left from when snapshots were on is refreshed too, or it would keep texts
    # past their retention and readers would read it.
    snapshot = settings.snapshot or store.snapshot_path(settings.db).exists()
    with (
        slot,
        store.writing(settings.db, settings.writer_wait_seconds, snapshot, lock_wait=queue) as con,
    ):
        yield con


def failed_run_notice(flow: str, run: str, state: str, message: str, lang: str) -> Notice:
    """What operators read when a scheduled run failed or crashed."""
    t = translator(lang, "ops")
    body = t["failed_body"].format(flow=flow, run=run, state=state, message=_short(message))
    return Notice(
        t["failed_subject"].format(flow=flow, run=run),
        f"{body}\n\n{t['failed_next']}",
        "run_failed",
    )


def _short(message: str) -> str:
    """The first MESSAGE_CHARS of a state message, on one line."""
    flat = " ".join(message.split())
    return flat if len(flat) <= MESSAGE_CHARS else flat[: MESSAGE_CHARS - 1] + "…"


def health_notice(flagged: Sequence[SourceHealth], day: date, lang: str) -> Notice:
    """The daily digest of outlets whose health is not ok, worst first."""
    t, app = translator(lang, "ops"), translator(lang, "app")
    lines = [
        t["health_line"].format(
            outlet=h.name, city=h.city, flags="; ".join(app[f"flag_{f}"] for f in h.flags)
        )
        for h in flagged
    ]
    text = "\n".join([t["health_intro"].format(date=fmt_date(day, lang)), "", *lines])
    return Notice(t["health_subject"].format(count=len(flagged)), text, "source_health")


def send_notice(notice: Notice, settings: Settings) -> list[str]:
    """Send through every configured channel; the channels that took it.

    A channel that fails is logged and skipped, never raised: a notice about a failure
    must not become a second failure (it runs inside Prefect's state hooks).
    """
    sent = []
    for channel, send in (("email", _email), ("webhook", _webhook)):
        try:
            if send(notice, settings):
                sent.append(channel)
        except Exception as exc:  # any transport error: logged, not raised
            log.error("operator notice by %s failed: %s", channel, exc)
    return sent


def _email(notice: Notice, settings: Settings) -> bool:
    """Send by e-mail when SMTP and recipients are configured."""
    if not (settings.smtp_host and settings.alert_to):
        return False
    mail = EmailMessage()
    mail["Subject"] = notice.subject
    mail["From"] = settings.alert_from
    mail["To"] = ", ".join(settings.alert_to)
    mail["Date"] = formatdate(localtime=False)
    mail["Content-Language"] = settings.ops_lang
    mail.set_content(notice.text)
    send_email(mail, settings)
    return True


def _webhook(notice: Notice, settings: Settings) -> bool:
    """Post to the webhook when one is configured, in its format."""
    if settings.webhook_url is None:
        return False
    post_json(settings.webhook_url.get_secret_value(), json_bytes(webhook_body(notice, settings)))
    return True


def webhook_body(notice: Notice, settings: Settings) -> dict[str, Any]:
    """The notice in the webhook's format: Slack text, a Teams card, or plain JSON."""
    if settings.webhook_format == "slack":
        return {"text": f"*{slack_escape(notice.subject)}*\n{slack_escape(notice.text)}"}
    if settings.webhook_format == "teams":
        blocks = [{"type": "TextBlock", "text": notice.subject, "weight": "Bolder", "wrap": True}]
        blocks += [{"type": "TextBlock", "text": p, "wrap": True} for p in notice.text.split("\n")]
        card = {"type": "AdaptiveCard", "version": "1.4", "body": blocks}
        attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        return {"type": "message", "attachments": [attachment]}
    return {"event": notice.event, "subject": notice.subject, "text": notice.text}


def framewatch_flow(name: str, **options: Any) -> Callable[[Callable[P, R]], Flow[P, R]]:
    """Prefect's ``flow`` decorator with what every framewatch flow has: the hooks that
    notify operators when a run fails or crashes, and no parameter validation (parameters
    are records and settings, checked where they are made)."""
    from prefect import flow

    return flow(
        name=name,
        validate_parameters=False,
        on_failure=[on_run_failure],
        on_crashed=[on_run_failure],
        **options,
    )


def on_run_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect's on_failure / on_crashed hook: log and notify; never raises."""
    settings = Settings()
    notice = failed_run_notice(
        flow.name, flow_run.name, state.name, state.message or "", settings.ops_lang
    )
    log.error("%s", notice.text)
    send_notice(notice, settings)


def maintain(con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime) -> RetentionCounts:
    """Apply the retention settings (old raw HTML and full texts go, statistics stay)."""
    return apply_retention(
        con,
        now,
        text_days=settings.text_retention_days,
        raw_days=settings.raw_html_retention_days,
        excerpt_chars=settings.excerpt_chars,
    )
