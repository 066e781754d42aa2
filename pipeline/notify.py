"""Alert messages: e-mail (SMTP) and webhooks (Slack, Microsoft Teams, plain JSON).

Each city's pending alerts (``pipeline.alerts``) become one message per channel, written in
the city's language (``dashboards/translations/alerts``, frame names from the label set,
numbers and dates through Babel). Every channel renders the same ``Message``, so an e-mail
and a Slack post say the same thing with the same evidence.

Scraped text (titles, sentences, outlet names, URLs) is untrusted in every format: the HTML
e-mail goes through Jinja2 autoescaping, Slack text has &, < and > escaped as Slack asks (so
no link or @channel can be smuggled in), Teams text sits in TextRuns, which render no
Markdown, and a URL becomes a link only when it is http(s).

A channel that fails (server down, 500 answer) is logged and recorded on the alerts, never
raised: the next run retries it, and the channels that did deliver are not sent again.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from itertools import groupby
from typing import Any

import duckdb
import httpx
from jinja2 import Environment, PackageLoader, select_autoescape

from dashboards.i18n import fmt_date, fmt_number, fmt_pct, translator
from models.labels import load_labels
from pipeline import alerts as alert_store
from pipeline.aggregate import BASELINE_PERIODS
from pipeline.config import Settings
from pipeline.records import Alert, AlertEvidence

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30.0  # seconds
WEBHOOK_TIMEOUT = 15.0  # seconds
STALE_AFTER = timedelta(days=14)  # pending alerts whose period ended longer ago are not sent
TEXT_MAX = 300  # characters of a scraped title or sentence in a message
SLACK_MAX_ALERTS = 45  # Slack takes 50 blocks per message; header, intro and footer use 3
SLACK_SECTION_MAX = 3000  # characters of a Slack section's text


@dataclass(frozen=True)
class ExampleView:
    """An evidence article as a message shows it; ``url`` is None unless it is http(s)."""

    title: str
    url: str | None
    outlet: str
    date: str
    sentence: str


@dataclass(frozen=True)
class AlertView:
    """One alert in words of the message's language."""

    id: str
    heading: str  # frame name or metaphor
    scope: str  # the city's outlets, or one outlet
    period: str
    change: str
    test: str
    examples: tuple[ExampleView, ...]
    models: str
    models_changed: bool


@dataclass(frozen=True)
class Message:
    """A city's alerts as one message, ready for any channel."""

    lang: str
    city: str
    t: dict[str, str]
    subject: str
    heading: str
    alerts: tuple[AlertView, ...]


def build_message(alerts: Sequence[Alert], lang: str) -> Message:
    """The message for one city's alerts, in ``lang``."""
    t = translator(lang, "alerts")
    city = alerts[0].city
    names = {label.code: label.name(lang) for label in load_labels().labels}
    return Message(
        lang,
        city,
        t,
        t["subject"].format(city=city),
        t["heading"].format(city=city),
        tuple(alert_view(a, lang, t, names) for a in alerts),
    )


def alert_view(alert: Alert, lang: str, t: dict[str, str], names: dict[str, str]) -> AlertView:
    """One alert's figures and evidence as sentences of the language."""
    heading = (
        names.get(alert.subject, alert.subject)
        if alert.kind == "frame"
        else t["metaphor"].format(term=alert.subject)
    )
    scope = (
        t["scope_outlet"].format(outlet=alert.outlet)
        if alert.scope == "outlet"
        else t["scope_city"].format(city=alert.city)
    )
    return AlertView(
        alert.id,
        heading,
        scope,
        t["period"].format(period=period_text(alert.period_start, alert.period_end, lang)),
        _change(alert, lang, t),
        _test(alert.p_value, lang, t),
        tuple(_example(e, lang) for e in alert.evidence),
        t["models"].format(models=", ".join(alert.model_versions) or "–"),
        len(alert.model_versions) > 1,
    )


def period_text(start: datetime, end: datetime, lang: str) -> str:
    """'3 Nov 2026 – 9 Nov 2026' in the language; ``end`` is exclusive."""
    return f"{fmt_date(start, lang)} – {fmt_date(end - timedelta(days=1), lang)}"


def _change(alert: Alert, lang: str, t: dict[str, str]) -> str:
    """The share now against the baseline, with the counts behind both."""
    return t["change"].format(
        before=fmt_pct(alert.baseline_share, lang),
        now=fmt_pct(alert.share, lang),
        n=fmt_number(alert.articles, lang),
        total=fmt_number(alert.total, lang),
        base_n=fmt_number(alert.baseline_articles, lang),
        base_total=fmt_number(alert.baseline_total, lang),
    )


def _test(p: float | None, lang: str, t: dict[str, str]) -> str:
    """The p-value of the Fisher test, '< 0.001' when smaller."""
    if p is None:
        return ""
    if p < 0.001:
        return t["test_below"].format(p=fmt_number(0.001, lang, 3))
    return t["test"].format(p=fmt_number(p, lang, 3))


def _example(e: AlertEvidence, lang: str) -> ExampleView:
    """An evidence article with its scraped text flattened and cut to TEXT_MAX."""
    return ExampleView(
        _flat(e.title),
        e.url if safe_url(e.url) else None,
        _flat(e.outlet),
        fmt_date(e.published_at, lang) if e.published_at else "",
        _flat(e.sentence),
    )


def _flat(text: str) -> str:
    """Scraped text on one line (a newline must not start a fake line), at most TEXT_MAX."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= TEXT_MAX else flat[: TEXT_MAX - 1] + "…"


def safe_url(url: str | None) -> bool:
    """Whether a URL may become a link: http(s) only, no spaces or control characters."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return False
    return not any(c.isspace() or ord(c) < 32 for c in url)


# --- e-mail ----------------------------------------------------------------------------------


def _env() -> Environment:
    """Templates: .html autoescaped, the plain-text twin (.txt.j2) not (it is not HTML)."""
    return Environment(
        loader=PackageLoader("dashboards", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_email(message: Message) -> tuple[str, str]:
    """The plain-text and HTML bodies of an alert e-mail."""
    env = _env()
    context = {"m": message, "t": message.t, "weeks": BASELINE_PERIODS}
    text = env.get_template("alert_email.txt.j2").render(**context)
    html = env.get_template("alert_email.html").render(**context)
    return text, html


def build_email(message: Message, settings: Settings) -> EmailMessage:
    """A multipart/alternative e-mail (plain text + HTML) to the configured recipients."""
    text, html = render_email(message)
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = settings.alert_from
    mail["To"] = ", ".join(settings.alert_to)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=settings.alert_from.rpartition("@")[2] or None)
    mail["Content-Language"] = message.lang
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


def send_email(alerts: Sequence[Alert], settings: Settings, lang: str) -> None:
    """Send one city's alerts as one e-mail; raises when the server refuses or is down."""
    if not settings.smtp_host or not settings.alert_to:
        raise ValueError("e-mail needs FRAMEWATCH_SMTP_HOST and FRAMEWATCH_ALERT_TO")
    mail = build_email(build_message(alerts, lang), settings)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
        smtp.send_message(mail)


# --- webhooks --------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Text for Slack mrkdwn: &, < and > escaped, as Slack requires of any text that must not
    become a link, a mention or @channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(e: ExampleView) -> str:
    """The example's title, linked when its URL is http(s)."""
    title = slack_escape(e.title)
    if e.url is None:
        return f"*{title}*"
    # In <url|text> a '|' or '>' would end the URL or the text: percent-encode them in the URL
    # and replace a '|' in the title with a look-alike.
    url = e.url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    return f"<{url}|{title.replace('|', '¦')}>"


def _slack_section(a: AlertView, t: dict[str, str]) -> dict[str, Any]:
    """One alert as a mrkdwn section block."""
    lines = [
        f"*{slack_escape(a.heading)}* – {slack_escape(a.scope)}",
        slack_escape(a.period),
        f"{slack_escape(a.change)} {slack_escape(a.test)}",
    ]
    if a.models_changed:
        lines.append(f"_{slack_escape(t['models_changed'])}_")
    for e in a.examples:
        lines.append(f"• {_slack_link(e)} ({slack_escape(e.outlet)}, {e.date})")
        lines.append(f">{slack_escape(e.sentence)}")
    if not a.examples:
        lines.append(slack_escape(t["no_examples"]))
    text = "\n".join(lines)
    if len(text) > SLACK_SECTION_MAX:
        text = text[: SLACK_SECTION_MAX - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def slack_payload(message: Message) -> dict[str, Any]:
    """Slack's message shape: ``text`` (the notification fallback) and Block Kit ``blocks``."""
    t, shown = message.t, message.alerts[:SLACK_MAX_ALERTS]
    intro = f"{t['intro'].format(weeks=BASELINE_PERIODS)} {t['caution']}"
    footer = t["footer"]
    if len(message.alerts) > len(shown):
        footer = f"{t['more'].format(n=len(message.alerts) - len(shown))} {footer}"
    return {
        "text": slack_escape(message.subject),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.heading[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(intro)}},
            *(_slack_section(a, t) for a in shown),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(footer)}]},
        ],
    }


def _run(text: str, **style: Any) -> dict[str, Any]:
    """An Adaptive Card TextRun: plain text, no Markdown, whatever the text holds."""
    return {"type": "TextRun", "text": text, **style}


def _rich(*inlines: dict[str, Any], **style: Any) -> dict[str, Any]:
    """A RichTextBlock of TextRuns."""
    return {"type": "RichTextBlock", "inlines": list(inlines), **style}


def _teams_example(e: ExampleView) -> list[dict[str, Any]]:
    """An example: the title (a link when http(s)), outlet and date, the sentence."""
    link = {"selectAction": {"type": "Action.OpenUrl", "url": e.url}} if e.url else {}
    return [
        _rich(
            _run(e.title, weight="Bolder", **link),
            _run(f" – {e.outlet}, {e.date}", isSubtle=True),
            spacing="Small",
        ),
        _rich(_run(e.sentence, italic=True)),
    ]


def _teams_alert(a: AlertView, t: dict[str, str]) -> dict[str, Any]:
    """One alert as a Container."""
    items = [
        _rich(_run(a.heading, weight="Bolder", size="Medium"), _run(f" – {a.scope}")),
        _rich(_run(a.period, isSubtle=True)),
        _rich(_run(f"{a.change} {a.test}")),
    ]
    if a.models_changed:
        items.append(_rich(_run(t["models_changed"], color="Warning")))
    items += [block for e in a.examples for block in _teams_example(e)]
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def teams_payload(message: Message) -> dict[str, Any]:
    """A Teams message carrying an Adaptive Card (the shape Teams webhooks and Workflows take)."""
    t = message.t
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "lang": message.lang,
        "msteams": {"width": "Full"},
        "body": [
            _rich(_run(message.heading, weight="Bolder", size="Large")),
            _rich(_run(f"{t['intro'].format(weeks=BASELINE_PERIODS)} {t['caution']}")),
            *(_teams_alert(a, t) for a in message.alerts),
            _rich(_run(t["footer"], isSubtle=True, size="Small")),
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def json_payload(alerts: Sequence[Alert], message: Message) -> dict[str, Any]:
    """Plain JSON for any receiver: the message's text and the alerts as stored."""
    text, _ = render_email(message)
    return {
        "city": message.city,
        "lang": message.lang,
        "subject": message.subject,
        "text": text,
        "alerts": json.loads(json.dumps([asdict(a) for a in alerts], default=_iso)),
    }


def _iso(value: object) -> str:
    """JSON for datetimes (ISO 8601, UTC)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def webhook_payload(alerts: Sequence[Alert], settings: Settings, lang: str) -> dict[str, Any]:
    """The payload in the configured webhook format."""
    message = build_message(alerts, lang)
    if settings.webhook_format == "slack":
        return slack_payload(message)
    if settings.webhook_format == "teams":
        return teams_payload(message)
    return json_payload(alerts, message)


def send_webhook(alerts: Sequence[Alert], settings: Settings, lang: str) -> None:
    """POST one city's alerts to the webhook; raises on a refused connection or an error
    status."""
    if not settings.webhook_url:
        raise ValueError("the webhook needs FRAMEWATCH_WEBHOOK_URL")
    payload = webhook_payload(alerts, settings, lang)
    response = httpx.post(settings.webhook_url, json=payload, timeout=WEBHOOK_TIMEOUT)
    response.raise_for_status()


# --- delivery --------------------------------------------------------------------------------

Sender = Callable[[Sequence[Alert], Settings, str], None]
SENDERS: dict[str, Sender] = {"email": send_email, "webhook": send_webhook}


def configured_channels(settings: Settings) -> list[str]:
    """The channels the settings configure: email (server and recipients), webhook (URL)."""
    channels = []
    if settings.smtp_host and settings.alert_to:
        channels.append("email")
    if settings.webhook_url:
        channels.append("webhook")
    return channels


@dataclass(frozen=True)
class NotifyResult:
    """What one notify call did."""

    delivered: int  # alerts now delivered on every configured channel
    failed: int  # alerts a channel failed to deliver; they stay pending
    errors: tuple[str, ...]


def notify(
    con: duckdb.DuckDBPyConnection, settings: Settings, lang: str | None = None
) -> NotifyResult:
    """Send every pending alert through every configured channel, one message per city and
    channel, in the city's language (or ``lang``); record what each channel did.

    Never raises on a channel failure: the error is logged and stored on the alerts
    (notify_error), which stay pending, so the next run retries the failed channel only.
    """
    channels = configured_channels(settings)
    if not channels:
        return NotifyResult(0, 0, ())
    since = datetime.now(UTC) - STALE_AFTER
    delivered, failed, errors = 0, 0, []
    for _, group in groupby(alert_store.pending_alerts(con, since), key=lambda a: a.city):
        city_alerts = list(group)
        outcome = _deliver(city_alerts, channels, settings, lang or city_alerts[0].lang)
        errors += [e for e in outcome.values() if e]
        for alert in city_alerts:
            done, error = _result(alert, channels, outcome)
            alert_store.mark_notified(con, [alert.id], done, error)
            delivered, failed = delivered + (error is None), failed + (error is not None)
    return NotifyResult(delivered, failed, tuple(errors))


def _deliver(
    alerts: list[Alert], channels: list[str], settings: Settings, lang: str
) -> dict[str, str | None]:
    """Send a city's alerts on each channel that has not delivered them all; per channel
    the error, or None when it delivered."""
    outcome: dict[str, str | None] = {}
    for channel in channels:
        todo = [a for a in alerts if channel not in a.channels]
        if not todo:
            continue
        try:
            SENDERS[channel](todo, settings, lang)
            outcome[channel] = None
        except Exception as exc:  # any failure of one channel must not stop the others
            outcome[channel] = _redact(f"{channel}: {type(exc).__name__}: {exc}", settings)
            log.warning("alerts for %s not sent: %s", alerts[0].city, outcome[channel])
    return outcome


def _redact(error: str, settings: Settings) -> str:
    """An error message without the webhook URL: a Slack or Teams webhook URL is a secret
    (whoever has it can post), and httpx names the URL in its errors."""
    return error.replace(settings.webhook_url, "<webhook>") if settings.webhook_url else error


def _result(
    alert: Alert, channels: list[str], outcome: dict[str, str | None]
) -> tuple[list[str], str | None]:
    """The channels that delivered this alert now, and the errors of those that failed."""
    needed = [c for c in channels if c not in alert.channels and c in outcome]
    done = [c for c in needed if outcome[c] is None]
    errors = [str(outcome[c]) for c in needed if outcome[c] is not None]
    return done, "; ".join(errors) or None
