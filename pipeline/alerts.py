"""Alerts: a frame or metaphor rising above its baseline in a city or an outlet.

The figures are the report's (``pipeline.aggregate``): the share of counted migration
articles carrying a frame, or a dehumanising metaphor, in the period against the
``BASELINE_PERIODS`` periods before, called "rising" by the same Fisher test and
``MIN_ARTICLES`` rule. Only "rising" alerts: a falling threat frame is good news, and a "new"
verdict (no baseline at all) is a newly monitored outlet, not a change. A rise also needs
``MIN_ALERT_ARTICLES`` articles carrying the subject: against an empty baseline the test
calls a single article "rising", and one article is an anecdote, not a trend.

Each alert is stored with its evidence, the model versions and the SQL behind it, so that a
message can be checked against the database. Delivery is recorded per channel
(``pipeline.notify``): a failed channel is retried by the next run, a delivered one is not
sent again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
from rich.table import Table

from models.labels import load_labels
from models.nlp import split_sentences
from pipeline import aggregate
from pipeline.aggregate import (
    BASELINE_PERIODS,
    Example,
    FrameTrend,
    GroupedCounts,
    Period,
    Scope,
    Totals,
    grouped_counts,
    grouped_examples,
    trends_of,
)
from pipeline.config import Settings
from pipeline.records import Alert, AlertEvidence
from pipeline.store import transaction, write_rows
from pipeline.timeutil import naive_utc, utc_now

log = logging.getLogger(__name__)

SENTENCE_MAX = 400  # characters of a metaphor's sentence kept around the term
# Articles carrying the subject in the period, at least: with an empty or small baseline,
# Fisher's test calls 1 of 6 articles against 0 of 200 "rising" (p = 0.03); three articles
# in a week are a pattern a communication officer can act on, one is an anecdote.
MIN_ALERT_ARTICLES = 3


@dataclass(frozen=True)
class Target:
    """A city or one outlet of it: the scope of one set of trends."""

    scope: str  # city | outlet
    city: str
    lang: str  # the city's language, for messages
    source_id: str | None = None
    outlet: str | None = None

    def filter(self) -> Scope:
        """The aggregate.Scope counting this target's articles."""
        return Scope(source=self.source_id) if self.source_id else Scope(city=self.city)

    @property
    def level(self) -> str:
        """The column its counts are grouped by (``aggregate.grouped_counts``)."""
        return "source_id" if self.source_id else "city"

    @property
    def key(self) -> str:
        """Its value in that column."""
        return self.source_id or self.city


# Outlets of cities with more than one: a city's only outlet has the city's figures exactly,
# and a second alert on the same numbers would only repeat the first.
OUTLETS_SQL = """
SELECT id, name, city FROM sources
WHERE city IN (SELECT city FROM sources GROUP BY city HAVING count(*) > 1)
ORDER BY city, id
"""


def targets(con: duckdb.DuckDBPyConnection) -> list[Target]:
    """Every city, then every outlet of a city with several."""
    # The city's report language (aggregate.city_languages), so an alert and the weekly
    # report of a city speak the same language.
    langs = aggregate.city_languages(con)
    cities = [Target("city", str(c), str(lang)) for c, lang in langs.items()]
    outlets = [
        Target("outlet", str(city), str(langs[city]), str(sid), str(name))
        for sid, name, city in con.execute(OUTLETS_SQL).fetchall()
    ]
    return cities + outlets


def detect_alerts(
    con: duckdb.DuckDBPyConnection, period: Period, codes: Sequence[str] | None = None
) -> list[Alert]:
    """Rising frames and metaphors of the period, for every city and every outlet.

    Every figure comes from grouped queries, one per kind over all cities or all outlets
    (``aggregate.grouped_counts``, ``aggregate.grouped_examples``): a query per target took
    137 s on two million articles. Only a rising metaphor is queried on its own, for the
    sentences around it.
    """
    codes = list(codes) if codes is not None else list(load_labels().codes)
    found = targets(con)
    counts = {level: grouped_counts(con, period, level) for level in {t.level for t in found}}
    rises = [r for t in found if (r := _rise(period, codes, t, counts[t.level])) is not None]
    examples = {level: _frame_examples(con, period, level, rises) for level in counts}
    return [a for r in rises for a in _alerts(con, r, examples[r.basis.target.level])]


def alerting(trend: FrameTrend) -> bool:
    """Whether a trend alerts: rising (significant, share up) in enough articles."""
    return trend.verdict == "rising" and trend.articles >= MIN_ALERT_ARTICLES


@dataclass(frozen=True)
class Basis:
    """What every alert of one target and period shares: the denominators and the models."""

    target: Target
    period: Period
    counts: Totals
    models: tuple[str, ...]


@dataclass(frozen=True)
class Rise:
    """What rises in one city or outlet, before its evidence is fetched."""

    basis: Basis
    frames: list[FrameTrend]
    metaphors: list[FrameTrend]


def _rise(period: Period, codes: list[str], target: Target, grouped: GroupedCounts) -> Rise | None:
    """The frames and metaphors rising in one city or outlet; None when nothing does."""
    counts = grouped.totals(target.key)
    frames = [t for t in _trends(grouped, "frames", target, counts, codes) if alerting(t)]
    metaphors = [t for t in _trends(grouped, "metaphors", target, counts) if alerting(t)]
    if not frames and not metaphors:
        return None
    # Two models behind the figures mean part of a change may be reclassification: shown.
    models = tuple(grouped.model_versions(target.key))
    return Rise(Basis(target, period, counts, models), frames, metaphors)


def _frame_examples(
    con: duckdb.DuckDBPyConnection, period: Period, level: str, rises: list[Rise]
) -> dict[tuple[str, str], list[Example]]:
    """The report's examples of every rising frame of the cities or outlets (``level``)."""
    wanted = [
        (r.basis.target.key, t.frame)
        for r in rises
        if r.basis.target.level == level
        for t in r.frames
    ]
    return grouped_examples(con, period, level, wanted)


def _alerts(
    con: duckdb.DuckDBPyConnection, rise: Rise, examples: dict[tuple[str, str], list[Example]]
) -> list[Alert]:
    """The alerts of one rise: its frames with their examples, then its metaphors with the
    sentences around them."""
    basis, target = rise.basis, rise.basis.target
    scope = target.filter()
    sql = {kind: _query(count_sql, basis.period, scope) for kind, count_sql in COUNT_SQL.items()}
    frames = [
        _alert(
            basis, "frame", t, _as_evidence(examples.get((target.key, t.frame), [])), sql["frame"]
        )
        for t in rise.frames
    ]
    metaphors = [
        _alert(
            basis,
            "metaphor",
            t,
            _metaphor_evidence(con, basis.period, t.frame, scope),
            sql["metaphor"],
        )
        for t in rise.metaphors
    ]
    return frames + metaphors


def _trends(
    grouped: GroupedCounts,
    kind: str,
    target: Target,
    counts: Totals,
    subjects: list[str] | None = None,
) -> list[FrameTrend]:
    """The trends of a target's frames (``subjects``: every code) or metaphors (those found
    in the period: one absent now cannot be rising), strongest rise first, judged like the
    report's (``aggregate.subject_trend``)."""
    now, base = (grouped.of(kind, target.key, when) for when in (True, False))
    subjects = sorted(now) if subjects is None else subjects
    return trends_of(subjects, now, base, counts.migration, counts.baseline_migration)


COUNT_SQL = {"frame": aggregate.FRAME_COUNTS_SQL, "metaphor": aggregate.METAPHOR_COUNTS_SQL}


def _as_evidence(examples: list[Example]) -> tuple[AlertEvidence, ...]:
    """A frame's examples as an alert's evidence: the evidence sentence of each."""
    return tuple(
        AlertEvidence(e.article_id, e.title, e.url, e.outlet, e.published, e.evidence)
        for e in examples
    )


METAPHOR_EXAMPLES_SQL = """
SELECT m.id, m.title, m.source_name, a.canonical_url, m.published_at, a.text, a.lang,
       t.start_char, t.end_char
FROM migration_articles m
JOIN articles a ON a.id = m.id
JOIN article_terms t ON t.article_id = m.id AND t.kind = 'metaphor' AND t.term = ?
WHERE m.counted AND m.published_at >= ? AND m.published_at < ? AND {scope}
  AND {text_kept}
QUALIFY row_number() OVER (PARTITION BY m.id ORDER BY t.start_char) = 1
ORDER BY m.published_at DESC, m.id LIMIT ?
"""


def _metaphor_evidence(
    con: duckdb.DuckDBPyConnection, period: Period, term: str, scope: Scope
) -> tuple[AlertEvidence, ...]:
    """The latest articles of the period using the metaphor, with the sentence around it."""
    cond, params = scope.where()
    rows = con.execute(
        METAPHOR_EXAMPLES_SQL.format(scope=cond, text_kept=aggregate.TEXT_KEPT),
        [term, period.start, period.end, *params, aggregate.EXAMPLES_PER_FRAME],
    ).fetchall()
    return tuple(
        AlertEvidence(aid, title, url, outlet, published, sentence_around(text, lang, start, end))
        for aid, title, outlet, url, published, text, lang, start, end in rows
    )


def sentence_around(text: str, lang: str, start: int, end: int) -> str:
    """The sentence of ``text`` holding [start, end), split by the language's spaCy pipeline.

    Only the paragraph holding the match is parsed (sentences never cross paragraphs). A
    sentence longer than SENTENCE_MAX is cut to that many characters around the match.
    """
    par_start = text.rfind("\n", 0, start) + 1
    par_end = text.find("\n", end)
    paragraph = text[par_start : par_end if par_end >= 0 else len(text)]
    rel_start, rel_end = start - par_start, end - par_start
    for s in split_sentences(paragraph, lang):
        if s.start <= rel_start < s.end:
            return _clip(paragraph[s.start : s.end], rel_start - s.start, rel_end - s.start)
    return _clip(paragraph, rel_start, rel_end)


def _clip(text: str, start: int, end: int) -> str:
    """At most SENTENCE_MAX characters of text centred on [start, end), marked with '…'."""
    if len(text) <= SENTENCE_MAX:
        return text.strip()
    margin = max(0, (SENTENCE_MAX - (end - start)) // 2)
    lo, hi = max(0, start - margin), min(len(text), end + margin)
    return ("…" if lo else "") + text[lo:hi].strip() + ("…" if hi < len(text) else "")


def _query(count_sql: str, period: Period, scope: Scope) -> str:
    """The SQL behind an alert's counts, with the parameters it ran with."""
    cond, params = scope.where()
    base_start = period.shifted(BASELINE_PERIODS).start
    dates = {
        "period": [str(period.start), str(period.end)],
        "baseline": [str(base_start), str(period.start)],
    }
    return "\n".join(
        [
            f"-- parameters: (start, end) of {json.dumps(dates)}, then {json.dumps(params)}",
            count_sql.format(scope=cond).strip() + ";",
            aggregate.MIGRATION_COUNT_SQL.format(scope=cond).strip() + ";",
        ]
    )


def alert_id(period: Period, target: Target, kind: str, subject: str) -> str:
    """A stable id: the same rise in the same period is the same alert."""
    key = "|".join(
        [
            f"{period.start:%Y-%m-%dT%H:%M}",
            target.scope,
            target.city,
            target.source_id or "",
            kind,
            subject,
        ]
    )
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def _alert(
    basis: Basis,
    kind: str,
    trend: FrameTrend,
    evidence: tuple[AlertEvidence, ...],
    query: str,
) -> Alert:
    """An Alert record from a rising trend."""
    target, period = basis.target, basis.period
    return Alert(
        id=alert_id(period, target, kind, trend.frame),
        period_start=period.start,
        period_end=period.end,
        scope=target.scope,
        city=target.city,
        source_id=target.source_id,
        outlet=target.outlet,
        lang=target.lang,
        kind=kind,
        subject=trend.frame,
        articles=trend.articles,
        total=basis.counts.migration,
        share=trend.share,
        baseline_articles=trend.baseline_articles,
        baseline_total=basis.counts.baseline_migration,
        baseline_share=trend.baseline_share,
        p_value=trend.p_value,
        evidence=evidence,
        model_versions=basis.models,
        query=query,
    )


# --- storage ---------------------------------------------------------------------------------

_EVIDENCE = pa.struct(
    [
        ("article_id", pa.string()),
        ("title", pa.string()),
        ("url", pa.string()),
        ("outlet", pa.string()),
        ("published_at", pa.timestamp("us")),
        ("sentence", pa.string()),
    ]
)
_ALERT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("period_start", pa.timestamp("us")),
        ("period_end", pa.timestamp("us")),
        ("scope", pa.string()),
        ("city", pa.string()),
        ("source_id", pa.string()),
        ("outlet", pa.string()),
        ("lang", pa.string()),
        ("kind", pa.string()),
        ("subject", pa.string()),
        ("articles", pa.int32()),
        ("total", pa.int32()),
        ("share", pa.float64()),
        ("baseline_articles", pa.int32()),
        ("baseline_total", pa.int32()),
        ("baseline_share", pa.float64()),
        ("p_value", pa.float64()),
        ("evidence", pa.list_(_EVIDENCE)),
        ("model_versions", pa.list_(pa.string())),
        ("query", pa.string()),
        ("notified_at", pa.timestamp("us")),
        ("channels", pa.list_(pa.string())),
        ("notify_error", pa.string()),
    ]
)
COLUMNS = ", ".join(_ALERT_SCHEMA.names)

# New alerts only: not the same id, and not the same subject in the same city or outlet for
# an overlapping period - a daily run over the last seven days sees a rise on seven days,
# and it is one rise.
INSERT_NEW_SQL = """
INSERT INTO alerts BY NAME
SELECT * FROM batch b
WHERE NOT EXISTS (
    SELECT 1 FROM alerts a
    WHERE a.id = b.id
       OR (a.scope = b.scope AND a.city = b.city AND a.source_id IS NOT DISTINCT FROM b.source_id
           AND a.kind = b.kind AND a.subject = b.subject
           AND a.period_start < b.period_end AND a.period_end > b.period_start))
QUALIFY row_number() OVER (PARTITION BY b.id) = 1
"""


def _row(alert: Alert, created: datetime) -> dict[str, Any]:
    """One alerts row."""
    return {
        **{name: getattr(alert, name) for name in _ALERT_SCHEMA.names if hasattr(alert, name)},
        "created_at": created,
        "period_start": naive_utc(alert.period_start),
        "period_end": naive_utc(alert.period_end),
        "evidence": [
            {**asdict(e), "published_at": naive_utc(e.published_at)} for e in alert.evidence
        ],
        "model_versions": list(alert.model_versions),
        "channels": list(alert.channels),
    }


def save_alerts(con: duckdb.DuckDBPyConnection, alerts: Sequence[Alert]) -> int:
    """Store the alerts not stored yet, in one transaction; return how many were new.

    A rerun over the same period, or a later run over an overlapping one, stores nothing
    twice, and the delivery record (notified_at, channels) of a stored alert is kept.
    """
    if not alerts:
        return 0
    now = utc_now()
    table = pa.Table.from_pylist([_row(a, now) for a in alerts], schema=_ALERT_SCHEMA)
    with transaction(con):
        before = _count(con)
        write_rows(con, INSERT_NEW_SQL, table)
        return _count(con) - before


def _count(con: duckdb.DuckDBPyConnection) -> int:
    """Rows in alerts."""
    row = con.execute("SELECT count(*) FROM alerts").fetchall()
    return int(row[0][0])


def pending_alerts(con: duckdb.DuckDBPyConnection, since: datetime | None = None) -> list[Alert]:
    """Alerts not yet delivered on every channel, per city; with ``since``, only those whose
    period ended after it (a rise of months ago is not news when a channel is set up)."""
    rows = con.execute(
        f"SELECT {COLUMNS} FROM alerts WHERE notified_at IS NULL"
        " AND (?::TIMESTAMP IS NULL OR period_end > ?::TIMESTAMP)"
        " ORDER BY city, scope, source_id NULLS FIRST, kind, p_value, subject",
        [naive_utc(since), naive_utc(since)],
    ).fetchall()
    return [_from_row(row) for row in rows]


def _from_row(row: tuple[Any, ...]) -> Alert:
    """An Alert from a row selected as COLUMNS."""
    values = dict(zip(_ALERT_SCHEMA.names, row, strict=True))
    values["evidence"] = tuple(AlertEvidence(**e) for e in values["evidence"] or ())
    values["model_versions"] = tuple(values["model_versions"] or ())
    values["channels"] = tuple(values["channels"] or ())
    return Alert(**values)


MARK_SQL = """
UPDATE alerts SET
    channels = list_sort(list_distinct(list_concat(coalesce(channels, []), ?::VARCHAR[]))),
    notify_error = coalesce(?, notify_error),
    notified_at = CASE WHEN ? IS NULL THEN ? ELSE notified_at END
WHERE id IN ?
"""


def mark_notified(
    con: duckdb.DuckDBPyConnection,
    ids: Sequence[str],
    channels: Sequence[str],
    error: str | None,
) -> None:
    """Record a delivery attempt: ``channels`` delivered these alerts; without an error the
    alerts are done (notified_at), with one they stay pending and the error is kept."""
    if not ids:
        return
    con.execute(MARK_SQL, [list(channels), error, error, utc_now(), list(ids)])


# --- one run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSummary:
    """What one alert run found, stored and delivered."""

    detected: list[Alert]
    new: int
    delivered: int  # alerts delivered on every configured channel by this run
    failed: int  # alerts a configured channel failed to deliver (retried next run)
    error: str | None = None  # why the run stopped (run_alerts_safely); None when it did not


def run_alerts(
    con: duckdb.DuckDBPyConnection, settings: Settings, period: Period, send: bool = True
) -> AlertSummary:
    """Detect and store the period's alerts, then send every pending alert through the
    configured channels (when ``send``). A failing channel is recorded, never raised."""
    # Imported here: pipeline.notify reads and marks alerts through this module.
    from pipeline.notify import notify

    found = detect_alerts(con, period)
    new = save_alerts(con, found)
    result = notify(con, settings) if send else None
    return AlertSummary(
        found, new, result.delivered if result else 0, result.failed if result else 0
    )


def run_alerts_safely(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    period: Period,
    run_id: str | None = None,
) -> AlertSummary:
    """run_alerts for the ingest flow: it never raises.

    Alerts come after the articles are stored and classified, so a failure here (a DuckDB
    error, a bug in detection or in marking delivery) must not turn a good ingest run into a
    failed one. The error is logged and noted on the run (runs.note of ``run_id``); the next
    run detects and sends again.
    """
    try:
        return run_alerts(con, settings, period)
    except Exception as exc:  # containment is the point: see the docstring
        log.exception("alerts failed; the next run tries again")
        error = f"alerts failed: {type(exc).__name__}: {exc}"
        _note_on_run(con, run_id, error)
        return AlertSummary([], 0, 0, 0, error)


def _note_on_run(con: duckdb.DuckDBPyConnection, run_id: str | None, note: str) -> None:
    """Append a note to the run's row; a database too broken for this was logged already."""
    if run_id is None:
        return
    with suppress(duckdb.Error):
        con.execute("ROLLBACK")  # a failed statement may have left a transaction aborted
    with suppress(duckdb.Error):
        con.execute("UPDATE runs SET note = concat_ws('; ', note, ?) WHERE id = ?", [note, run_id])


def alert_table(alerts: Sequence[Alert]) -> Table:
    """The alerts as a rich table for the terminal."""
    table = Table("city", "outlet", "kind", "subject", "now", "before", "p", "examples")
    for a in alerts:
        table.add_row(
            a.city,
            a.outlet or "",
            a.kind,
            a.subject,
            f"{a.articles}/{a.total} ({a.share:.0%})",
            f"{a.baseline_articles}/{a.baseline_total} ({a.baseline_share:.0%})",
            f"{a.p_value:.3g}" if a.p_value is not None else "",
            str(len(a.evidence)),
        )
    return table
