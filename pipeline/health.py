"""Source health: is each outlet still being crawled, and still yielding articles?

A feed that dies, a site relaunch that breaks extraction or an outlet that quietly stops
publishing all look the same in the trend figures: fewer articles. ``source_health`` tells
them apart from the fetch log, the feed state and the articles, for ``framewatch sources
check`` and the report. It only reads (SELECT), so it works on a read-only connection.

The recent window is the ``window_days`` before ``now``; the baseline is the
``baseline_days`` before the window. An outlet's first day is left out of its baseline: the
first crawl stores a feed's whole backlog at once, which would inflate the usual rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import duckdb

from pipeline.records import SourceHealth
from pipeline.timeutil import as_utc, naive_utc

# `failing`: one failed poll is often a timeout or a deploy; three in a row (three runs)
# are a broken feed that someone should look at.
FAILING_STREAK = 3
# A baseline needs this many days of observation before the window, or it says nothing
# about a weekly rhythm (weekday vs weekend publishing).
MIN_HISTORY_DAYS = 7
# `silent` by rate only for outlets with at least one article a day: at a baseline of
# 1/day a week brings 7 on average, and 1 or none (below a quarter) happens by chance
# with probability 0.007 (Poisson); at lower rates a weekly drop is too often chance.
SILENT_MIN_BASELINE = 1.0
SILENT_DROP = 0.25  # window rate below this share of the baseline rate
# `silent` by gap, for any outlet with a baseline: no new article for longer than three
# articles normally take, and never for less than three days (a long weekend, a holiday).
SILENT_GAP_ARTICLES = 3.0
SILENT_MIN_GAP_DAYS = 3.0
# `extraction`: more than half of the window's article pages yielded no article, judged
# only from five pages on (one or two odd pages, a gallery or a live ticker, prove nothing).
EXTRACTION_MIN_PAGES = 5
EXTRACTION_FAILED_SHARE = 0.5
# Flags that make an outlet `failing`; any other flag makes it a `warning`.
FAILING_FLAGS = frozenset({"failing", "never_succeeded"})

POLL_KINDS_SQL = "('feed', 'sitemap', 'homepage')"


@dataclass(frozen=True)
class _Span:
    """The recent window and the baseline before it, as naive UTC bounds."""

    now: datetime
    window_start: datetime
    baseline_start: datetime

    @classmethod
    def ending(cls, now: datetime, window_days: int, baseline_days: int) -> _Span:
        """The window ending at ``now`` and the baseline before it."""
        end = naive_utc(now)
        start = end - timedelta(days=window_days)
        return cls(end, start, start - timedelta(days=baseline_days))


def source_health(
    con: duckdb.DuckDBPyConnection,
    now: datetime,
    window_days: int = 7,
    baseline_days: int = 28,
) -> list[SourceHealth]:
    """The health of every outlet in ``sources``, ordered by city and name."""
    span = _Span.ending(now, window_days, baseline_days)
    polls, states = _polls(con, span), _feed_states(con, span)
    articles, pages = _articles(con, span), _pages(con, span)
    out = []
    for source_id, name, city in con.execute(
        "SELECT id, name, city FROM sources ORDER BY city, name, id"
    ).fetchall():
        facts = _Facts(
            polls.get(source_id, (None, None)),
            states.get(source_id, (0, 0, None)),
            articles.get(source_id, (None, 0, 0, None)),
            pages.get(source_id, (0, 0)),
        )
        out.append(_health(source_id, name, city, facts, span, window_days))
    return out


@dataclass(frozen=True)
class _Facts:
    """What the queries found about one outlet."""

    polls: tuple[Any, ...]  # last_success, first_seen (fetch_log)
    states: tuple[Any, ...]  # worst streak, feeds disabled, last_success (feed_state)
    articles: tuple[Any, ...]  # last article, in window, in baseline, first article
    pages: tuple[Any, ...]  # pages fetched, extraction failures (window)


def _health(
    source_id: str, name: str, city: str, facts: _Facts, span: _Span, window_days: int
) -> SourceHealth:
    """One outlet's SourceHealth from its facts."""
    last_poll, first_poll = facts.polls
    streak, disabled, state_success = facts.states
    last_article, recent, earlier, first_article = facts.articles
    pages, failed = facts.pages
    unflagged = SourceHealth(
        source_id=source_id,
        name=name,
        city=city,
        last_success=as_utc(_latest(last_poll, state_success)),
        last_article=as_utc(last_article),
        consecutive_failures=int(streak),
        feeds_disabled=int(disabled),
        articles_per_day=recent / window_days,
        baseline_per_day=_baseline(earlier, _earliest(first_poll, first_article), span),
        extraction_failures=int(failed),
        pages_fetched=int(pages),
        flags=(),
        status="ok",
    )
    found = flags(unflagged, as_utc(span.now))
    return replace(unflagged, flags=found, status=status(found))


def flags(h: SourceHealth, now: datetime) -> tuple[str, ...]:
    """The flags that apply to an outlet's figures, in a fixed order."""
    checks = (
        ("failing", h.consecutive_failures >= FAILING_STREAK),
        ("disabled", h.feeds_disabled > 0),
        ("never_succeeded", never_succeeded(h)),
        ("silent", silent(h.articles_per_day, h.baseline_per_day, h.last_article, now)),
        ("extraction", _extraction_failing(h.pages_fetched, h.extraction_failures)),
    )
    return tuple(flag for flag, applies in checks if applies)


def never_succeeded(h: SourceHealth) -> bool:
    """Tried and failed, and never delivered: no usable answer and no article ever.

    An outlet with stored articles did succeed once (older databases have no feed state);
    one that was never polled yet has no failures and is not flagged.
    """
    return h.last_success is None and h.last_article is None and h.consecutive_failures > 0


def _extraction_failing(pages: int, failed: int) -> bool:
    """More than EXTRACTION_FAILED_SHARE of enough pages yielded no article."""
    return pages >= EXTRACTION_MIN_PAGES and failed > EXTRACTION_FAILED_SHARE * pages


def silent(
    rate: float, baseline: float | None, last_article: datetime | None, now: datetime
) -> bool:
    """Articles stopped coming: the rate fell far below the baseline, or a long gap."""
    if not baseline:
        return False  # no history, or an outlet that published nothing before: no yardstick
    if baseline >= SILENT_MIN_BASELINE and rate < SILENT_DROP * baseline:
        return True
    gap_days = max(SILENT_MIN_GAP_DAYS, SILENT_GAP_ARTICLES / baseline)
    return last_article is None or now - last_article > timedelta(days=gap_days)


# How bad a status is, worst first: the order every list of outlets shows them in.
STATUS_ORDER = ("failing", "warning", "ok")


def worst_first(health: Iterable[SourceHealth]) -> list[SourceHealth]:
    """Outlets failing first, then warnings, then ok; by city and name within each, so the
    report and the dashboard list the outlets that need a look in the same order."""
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return sorted(health, key=lambda h: (rank.get(h.status, len(rank)), h.city, h.name))


def status(flags: tuple[str, ...]) -> str:
    """failing when a flag says crawling is broken, warning for any other flag, else ok."""
    if FAILING_FLAGS.intersection(flags):
        return "failing"
    return "warning" if flags else "ok"


def _baseline(count: int, first_seen: datetime | None, span: _Span) -> float | None:
    """Articles per day before the window, over the days the outlet was observed.

    The outlet's first day (the backlog of its first crawl) is not observation; None when
    fewer than MIN_HISTORY_DAYS days remain.
    """
    if first_seen is None:
        return None
    start = max(span.baseline_start, first_seen + timedelta(days=1))
    days = (span.window_start - start).total_seconds() / 86400
    if days < MIN_HISTORY_DAYS:
        return None
    return count / days


def _polls(con: duckdb.DuckDBPyConnection, span: _Span) -> dict[str, tuple[Any, ...]]:
    """Per outlet from fetch_log: last usable home page/feed/sitemap answer, first row."""
    rows = con.execute(
        f"""
        SELECT source_id,
               max(fetched_at) FILTER (WHERE kind IN {POLL_KINDS_SQL}
                                        AND error IS NULL AND status IN (200, 304)),
               min(fetched_at)
        FROM fetch_log WHERE fetched_at <= ? GROUP BY source_id
        """,
        [span.now],
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _feed_states(con: duckdb.DuckDBPyConnection, span: _Span) -> dict[str, tuple[Any, ...]]:
    """Per outlet from feed_state: worst streak, disabled, last success.

    Only URLs requested within the window count: a feed removed from the sources file, or
    no longer advertised, is never polled again and its last streak would flag the outlet
    forever. And only up to ``now``: a report for a past week must not show later failures.
    """
    rows = con.execute(
        "SELECT source_id, max(consecutive_failures), count(disabled_at), max(last_success)"
        " FROM feed_state WHERE last_attempt >= ? AND last_attempt <= ? GROUP BY source_id",
        [span.window_start, span.now],
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _articles(con: duckdb.DuckDBPyConnection, span: _Span) -> dict[str, tuple[Any, ...]]:
    """Per outlet: last article, articles in the window, in the baseline, first article.

    The baseline count starts with the outlet's second day, like ``_baseline``'s days.
    """
    rows = con.execute(
        """
        SELECT source_id, max(fetched_at),
               count(*) FILTER (WHERE fetched_at >= ?),
               count(*) FILTER (WHERE fetched_at < ? AND fetched_at >= ?
                                  AND fetched_at >= first + INTERVAL 1 DAY),
               min(fetched_at)
        FROM (SELECT source_id, fetched_at, min(fetched_at) OVER (PARTITION BY source_id) AS first
              FROM articles) AS a
        WHERE fetched_at <= ?
        GROUP BY source_id
        """,
        [span.window_start, span.window_start, span.baseline_start, span.now],
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _pages(con: duckdb.DuckDBPyConnection, span: _Span) -> dict[str, tuple[Any, ...]]:
    """Per outlet, in the window: article pages fetched, and those that yielded no article.

    A page has several status-200 rows (the crawler's, a note, an extraction error from
    pipeline/ingest.py), so pages are counted as distinct (run, URL).
    """
    rows = con.execute(
        """
        SELECT source_id, count(DISTINCT (run_id, url)),
               count(DISTINCT (run_id, url)) FILTER (WHERE error IS NOT NULL)
        FROM fetch_log
        WHERE kind = 'article' AND status = 200 AND fetched_at >= ? AND fetched_at <= ?
        GROUP BY source_id
        """,
        [span.window_start, span.now],
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two optional times."""
    return max((t for t in (a, b) if t is not None), default=None)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two optional times."""
    return min((t for t in (a, b) if t is not None), default=None)
