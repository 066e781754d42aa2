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
raised: the next run retries it, and the channels that did deliver are not sent again. A
webhook post carries only as many alerts as Slack or Teams accept in one message, so a city
may take several posts, and delivery is recorded per post. A channel that cannot be reached
is not tried again for the other cities of the run (each attempt would wait for its timeout).
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import partial
from itertools import groupby
from operator import attrgetter
from typing import Any

import duckdb
import httpx

from dashboards.i18n import fmt_date, fmt_number, fmt_pct, fmt_period, translator
from dashboards.render import environment
from models.labels import load_labels
from pipeline import alerts as alert_store
from pipeline.aggregate import BASELINE_PERIODS
from pipeline.config import Settings
from pipeline.records import Alert, AlertEvidence
from pipeline.timeutil import utc_now
from pipeline.urls import is_web_url

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 15.0  # seconds per SMTP step (connect, greeting, each command)
WEBHOOK_TIMEOUT = 10.0  # seconds per connect, read or write of a webhook POST
WEBHOOK_DEADLINE = 15.0  # seconds for a whole webhook POST, answer included
STALE_AFTER = timedelta(days=14)  # pending alerts whose period ended longer ago are not sent
TEXT_MAX = 300  # characters of a scraped title or sentence in a message
URL_MAX = 2000  # a longer scraped URL is not linked (it would crowd out a webhook post)
SLACK_MAX_BLOCKS = 50  # blocks Slack takes in one message
SLACK_FIXED_BLOCKS = 3  # header, intro and footer of every Slack post
SLACK_SECTION_MAX = 3000  # characters of a Slack section's text
# Teams refuses webhook messages above about 28 KB; 25 KB leaves room for the part number
# and for Teams' own accounting of the envelope.
TEAMS_MAX_BYTES = 25_000


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
    names = load_labels().names(lang)
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
        t["period"].format(period=fmt_period(alert.period_start, alert.period_end, lang)),
        _change(alert, lang, t),
        _test(alert.p_value, lang, t),
        tuple(_example(e, lang) for e in alert.evidence),
        t["models"].format(models=", ".join(alert.model_versions) or "–"),
        len(alert.model_versions) > 1,
    )


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
        e.url if is_web_url(e.url) and len(e.url) <= URL_MAX else None,
        _flat(e.outlet),
        fmt_date(e.published_at, lang) if e.published_at else "",
        _flat(e.sentence),
    )


def _flat(text: str) -> str:
    """Scraped text on one line (a newline must not start a fake line), at most TEXT_MAX."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= TEXT_MAX else flat[: TEXT_MAX - 1] + "…"


def split_message(message: Message, fits: Callable[[Message], bool]) -> list[Message]:
    """The message as consecutive parts that each ``fit`` a channel's limit, numbered
    '(1/3)' in the heading when there are several. An alert too large on its own still gets
    a part: the channel may refuse it, which is recorded and retried like any failure."""
    parts: list[tuple[AlertView, ...]] = []
    for a in message.alerts:
        if parts and fits(replace(message, alerts=(*parts[-1], a))):
            parts[-1] = (*parts[-1], a)
        else:
            parts.append((a,))
    if len(parts) == 1:
        return [replace(message, alerts=parts[0])]
    return [
        replace(message, heading=f"{message.heading} ({i}/{len(parts)})", alerts=part)
        for i, part in enumerate(parts, start=1)
    ]


# --- e-mail ----------------------------------------------------------------------------------


def _context(message: Message) -> dict[str, Any]:
    """What the alert templates are rendered with."""
    return {"m": message, "t": message.t, "weeks": BASELINE_PERIODS}


def render_text(message: Message) -> str:
    """The plain-text body of an alert message (the e-mail's, and the JSON post's text)."""
    return environment("text").get_template("alert_email.txt.j2").render(**_context(message))


def render_email(message: Message) -> tuple[str, str]:
    """The plain-text and HTML bodies of an alert e-mail."""
    html = environment("html").get_template("alert_email.html").render(**_context(message))
    return render_text(message), html


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


def send_email(mail: EmailMessage, settings: Settings) -> None:
    """Send one e-mail; raises when the server refuses, is down or does not answer within
    SMTP_TIMEOUT (per step)."""
    if not settings.smtp_host:
        raise ValueError("e-mail needs FRAMEWATCH_SMTP_HOST")
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


def fit_lines(lines: Sequence[str], limit: int) -> str:
    """The lines joined, cut after the last whole line that fits ``limit`` characters with a
    closing '…'. Cutting inside a line could split a <url|title> link or an &amp; entity,
    which Slack would show broken (or as a link to a truncated URL)."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for line in lines:
        if len("\n".join([*kept, line, "…"])) > limit:
            break
        kept.append(line)
    return "\n".join([*kept, "…"])


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
    text = fit_lines(lines, SLACK_SECTION_MAX)
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def slack_payload(message: Message) -> dict[str, Any]:
    """Slack's message shape: ``text`` (the notification fallback) and Block Kit ``blocks``,
    one section per alert; ``split_message`` with ``slack_fits`` keeps it within 50 blocks."""
    t = message.t
    intro = f"{t['intro'].format(weeks=BASELINE_PERIODS)} {t['caution']}"
    return {
        "text": slack_escape(message.subject),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.heading[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(intro)}},
            *(_slack_section(a, t) for a in message.alerts),
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": slack_escape(t["footer"])}],
            },
        ],
    }


def slack_fits(message: Message) -> bool:
    """Whether Slack takes the message in one post: its blocks limit (each section's text is
    kept within Slack's 3000 characters by fit_lines)."""
    return len(message.alerts) + SLACK_FIXED_BLOCKS <= SLACK_MAX_BLOCKS


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
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


def teams_fits(message: Message) -> bool:
    """Whether the Teams post stays within TEAMS_MAX_BYTES as sent (serialised UTF-8)."""
    return len(json_bytes(teams_payload(message))) <= TEAMS_MAX_BYTES


def json_payload(alerts: Sequence[Alert], message: Message) -> dict[str, Any]:
    """Plain JSON for any receiver: the message's text and the alerts as stored."""
    return {
        "city": message.city,
        "lang": message.lang,
        "subject": message.subject,
        "text": render_text(message),
        "alerts": json.loads(json.dumps([asdict(a) for a in alerts], default=_iso)),
    }


def _iso(value: object) -> str:
    """JSON for datetimes (ISO 8601, UTC)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_bytes(payload: dict[str, Any]) -> bytes:
    """The body as posted: measured and sent as the same bytes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


Shape = tuple[Callable[[Message], dict[str, Any]], Callable[[Message], bool]]
SHAPES: dict[str, Shape] = {
    "slack": (slack_payload, slack_fits),
    "teams": (teams_payload, teams_fits),
}


def webhook_payloads(
    alerts: Sequence[Alert], fmt: str, lang: str
) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """The posts of one city's alerts in the webhook format: (alert ids, payload) each.
    Slack and Teams get as many posts as their limits need; plain JSON gets one."""
    message = build_message(alerts, lang)
    if fmt not in SHAPES:
        return [(tuple(a.id for a in alerts), json_payload(alerts, message))]
    render, fits = SHAPES[fmt]
    return [
        (tuple(a.id for a in part.alerts), render(part)) for part in split_message(message, fits)
    ]


async def _post(url: str, body: bytes) -> httpx.Response:
    """One POST of a JSON body."""
    async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT) as client:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        return await client.post(url, content=body, headers=headers)


def post_json(url: str, body: bytes, deadline: float | None = None) -> None:
    """POST a JSON body; raises on an error status, a failed connection, or when the whole
    exchange takes longer than ``deadline`` seconds (default WEBHOOK_DEADLINE; TimeoutError).
    httpx's timeouts apply to each connect, read and write: a server answering a byte at a
    time never trips them, so the deadline is kept by asyncio around the whole request. The
    event loop runs in its own thread: the caller may already be inside one (a Prefect or
    FastAPI worker, Playwright in tests), where ``asyncio.run`` would refuse to start."""
    request = asyncio.wait_for(_post(url, body), deadline or WEBHOOK_DEADLINE)
    with _url_hidden_in_logs(httpx.URL(url)), ThreadPoolExecutor(1) as pool:
        response = pool.submit(asyncio.run, request).result()
    response.raise_for_status()


class _HideURL(logging.Filter):
    """Shows a secret URL in httpx's log records as its scheme and host only."""

    def __init__(self, url: httpx.URL) -> None:
        super().__init__()
        self.url = url

    def _hidden(self, arg: object) -> object:
        """The argument, or the secret URL without its path and query."""
        if isinstance(arg, httpx.URL) and (arg.host, arg.path) == (self.url.host, self.url.path):
            return f"{arg.scheme}://{arg.host}/…"
        return arg

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments; never drop it."""
        if isinstance(record.args, tuple):
            record.args = tuple(self._hidden(a) for a in record.args)
        return True


@contextmanager
def _url_hidden_in_logs(url: httpx.URL) -> Iterator[None]:
    """httpx logs each request's URL (INFO); a webhook URL's path is its secret."""
    hide, logger = _HideURL(url), logging.getLogger("httpx")
    logger.addFilter(hide)
    try:
        yield
    finally:
        logger.removeFilter(hide)


# --- delivery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """One message a channel sends: the alerts it carries and how to send it."""

    alert_ids: tuple[str, ...]
    send: Callable[[], None]


def email_posts(alerts: Sequence[Alert], settings: Settings, lang: str) -> list[Post]:
    """One e-mail for the city's alerts (a mail has no size limit that matters here)."""
    if not settings.smtp_host or not settings.alert_to:
        raise ValueError("e-mail needs FRAMEWATCH_SMTP_HOST and FRAMEWATCH_ALERT_TO")
    mail = build_email(build_message(alerts, lang), settings)
    return [Post(tuple(a.id for a in alerts), partial(send_email, mail, settings))]


def webhook_posts(alerts: Sequence[Alert], settings: Settings, lang: str) -> list[Post]:
    """The webhook posts for the city's alerts, each within its service's limits."""
    if settings.webhook_url is None:
        raise ValueError("the webhook needs FRAMEWATCH_WEBHOOK_URL")
    url = settings.webhook_url.get_secret_value()
    return [
        Post(ids, partial(post_json, url, json_bytes(payload)))
        for ids, payload in webhook_payloads(alerts, settings.webhook_format, lang)
    ]


Planner = Callable[[Sequence[Alert], Settings, str], list[Post]]
CHANNELS: dict[str, Planner] = {"email": email_posts, "webhook": webhook_posts}


def configured_channels(settings: Settings) -> list[str]:
    """The channels the settings configure: email (server and recipients), webhook (URL)."""
    channels = []
    if settings.smtp_host and settings.alert_to:
        channels.append("email")
    if settings.webhook_url:
        channels.append("webhook")
    return channels


@dataclass(frozen=True)
class Delivery:
    """What one channel did with one city's alerts."""

    sent: frozenset[str]  # ids of the alerts delivered
    error: str | None = None  # why the rest was not, safe to store and log
    unreachable: bool = False  # the channel could not be reached: skip it for this run


# Errors that mean the server could not be reached or did not answer in time: the next city
# would only wait for the same timeout.
UNREACHABLE = (
    httpx.TransportError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
)


def describe(channel: str, exc: Exception) -> str:
    """An error as stored and logged. A webhook error is its type and HTTP status only:
    httpx names the URL in its messages, normalised (so replacing the configured string
    would miss it), and the URL is the webhook's secret."""
    if channel != "webhook":
        return f"{channel}: {type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"webhook: {type(exc).__name__}: HTTP {exc.response.status_code}"
    return f"webhook: {type(exc).__name__}"


def send_posts(channel: str, posts: Sequence[Post]) -> Delivery:
    """Send the posts in order, stopping at the first failure: what went out is recorded
    as delivered, the rest stays pending."""
    sent: list[str] = []
    for post in posts:
        try:
            post.send()
        except Exception as exc:  # any failure of one channel must not stop the others
            return Delivery(frozenset(sent), describe(channel, exc), isinstance(exc, UNREACHABLE))
        sent += post.alert_ids
    return Delivery(frozenset(sent))


def deliver(
    channel: str, alerts: Sequence[Alert], settings: Settings, lang: str, down: set[str]
) -> Delivery:
    """Send a city's alerts not yet delivered on the channel, unless it is ``down``."""
    todo = [a for a in alerts if channel not in a.channels]
    if not todo:
        return Delivery(frozenset())
    if channel in down:
        return Delivery(frozenset(), f"{channel}: not tried, unreachable earlier in this run")
    try:
        posts = CHANNELS[channel](todo, settings, lang)
    except Exception as exc:  # a message that cannot be built is this channel's failure
        return Delivery(frozenset(), describe(channel, exc))
    return send_posts(channel, posts)


@dataclass(frozen=True)
class NotifyResult:
    """What one notify call did."""

    delivered: int  # alerts now delivered on every configured channel
    failed: int  # alerts a channel failed to deliver; they stay pending
    errors: tuple[str, ...]


def notify(
    con: duckdb.DuckDBPyConnection, settings: Settings, lang: str | None = None
) -> NotifyResult:
    """Send every pending alert through every configured channel, one message (or as many
    posts as a webhook needs) per city and channel, in the city's language (or ``lang``);
    record what each channel did.

    Never raises on a channel failure: the error is logged and stored on the alerts
    (notify_error), which stay pending, so the next run retries what failed only. A channel
    that could not be reached is skipped for the remaining cities of this call.
    """
    channels = configured_channels(settings)
    if not channels:
        return NotifyResult(0, 0, ())
    down: set[str] = set()
    outcomes: list[bool] = []
    errors: list[str] = []
    pending = alert_store.pending_alerts(con, utc_now() - STALE_AFTER)
    for city, group in groupby(pending, attrgetter("city")):  # one message per city
        city_alerts = list(group)
        lang_ = lang or city_alerts[0].lang
        done = {c: deliver(c, city_alerts, settings, lang_, down) for c in channels}
        down |= {c for c, d in done.items() if d.unreachable}
        errors += _log_errors(city, done)
        outcomes += _record(con, city_alerts, channels, done)
    return NotifyResult(outcomes.count(True), outcomes.count(False), tuple(errors))


def _log_errors(city: str, done: dict[str, Delivery]) -> list[str]:
    """Log each channel's error for the city (already free of secrets); return them."""
    errors = [d.error for d in done.values() if d.error]
    for error in errors:
        log.warning("alerts for %s not sent: %s", city, error)
    return errors


def _record(
    con: duckdb.DuckDBPyConnection,
    alerts: Sequence[Alert],
    channels: list[str],
    done: dict[str, Delivery],
) -> list[bool]:
    """Mark each alert with the channels that delivered it now; True where it is done.

    Alerts with the same outcome (the same channels, the same error) are marked by one
    UPDATE: a city's alerts mostly share theirs, so a run costs an UPDATE per outcome, not
    per alert.
    """
    results = [_result(alert, channels, done) for alert in alerts]
    groups: dict[tuple[tuple[str, ...], str | None], list[str]] = {}
    for alert, (delivered, error) in zip(alerts, results, strict=True):
        groups.setdefault((tuple(delivered), error), []).append(alert.id)
    for (sent_by, why), ids in groups.items():
        alert_store.mark_notified(con, ids, sent_by, why)
    return [error is None for _, error in results]


def _result(
    alert: Alert, channels: list[str], done: dict[str, Delivery]
) -> tuple[list[str], str | None]:
    """The channels that delivered this alert now, and the errors of those that did not."""
    needed = [c for c in channels if c not in alert.channels]
    delivered = [c for c in needed if alert.id in done[c].sent]
    errors = [done[c].error or f"{c}: not sent" for c in needed if c not in delivered]
    return delivered, "; ".join(errors) or None
