"""Behind a trend: which outlets drive a frame's change, and whose voices are quoted.

A city's frame share can rise because one outlet ran a campaign or because coverage shifted
everywhere; a communication officer answers those two cases differently (talk to one
newsroom, or speak up in public). Voices answer the other question trainers ask first:
who gets to speak about migrants, and do migrants speak themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipeline.aggregate import BASELINE_PERIODS, Period, Scope

OUTLET_FRAME_SQL = """
SELECT m.source_id, any_value(m.source_name) AS outlet,
       count(DISTINCT m.id) FILTER (WHERE f.article_id IS NOT NULL) AS framed,
       count(DISTINCT m.id) AS migration_articles
FROM migration_articles m
LEFT JOIN article_frames f ON f.article_id = m.id AND f.frame = ? AND f.assigned
WHERE m.counted AND m.published_at >= ? AND m.published_at < ? AND {scope}
GROUP BY m.source_id
"""

VOICES_SQL = """
SELECT m.speaker_category, count(DISTINCT m.article_id) AS articles, sum(m.quotes) AS quotes
FROM article_voices m
WHERE m.published_at >= ? AND m.published_at < ? AND {scope}
GROUP BY m.speaker_category
"""

MAX_DRIVERS = 3
# Speaker categories in the order the report lists them: migrants first, since whether they
# speak for themselves is the question; 'unknown' last. The set is models.voice's
# CATEGORY_ORDER plus UNKNOWN (a test holds them equal); it is not imported from there because
# models.voice loads spaCy, three seconds that a report or a dashboard page should not pay.
CATEGORIES = ("migrant", "ngo", "official", "police", "expert", "citizen", "unknown")


@dataclass(frozen=True)
class Driver:
    """An outlet's part in a frame's change: its articles with the frame now, its own
    migration articles now, and how many of them the baseline share would have predicted."""

    outlet: str
    framed: int
    migration_articles: int
    baseline_share: float
    excess: float  # framed - migration_articles * baseline_share


def _outlet_counts(
    con: duckdb.DuckDBPyConnection, frame: str, start: object, end: object, scope: Scope
) -> dict[str, tuple[str, int, int]]:
    """Per outlet id: (name, articles with the frame, migration articles)."""
    cond, params = scope.where()
    rows = con.execute(OUTLET_FRAME_SQL.format(scope=cond), [frame, start, end, *params])
    return {str(sid): (str(name), int(n), int(total)) for sid, name, n, total in rows.fetchall()}


def outlet_drivers(
    con: duckdb.DuckDBPyConnection, period: Period, frame: str, scope: Scope = Scope()
) -> list[Driver]:
    """The outlets whose articles carry a frame more than their own past would predict.

    Each outlet is measured against its own baseline share (an outlet that always runs crime
    stories drives no *change*); an outlet new to the baseline is measured against the
    scope's overall baseline share. Strongest excess first, only outlets above expectation.
    """
    base = period.shifted(BASELINE_PERIODS)
    now = _outlet_counts(con, frame, period.start, period.end, scope)
    before = _outlet_counts(con, frame, base.start, period.start, scope)
    base_framed = sum(n for _, n, _ in before.values())
    base_total = sum(t for _, _, t in before.values())
    overall = base_framed / base_total if base_total else 0.0
    drivers = []
    for sid, (name, framed, total) in now.items():
        _, b_framed, b_total = before.get(sid, (name, 0, 0))
        share = b_framed / b_total if b_total else overall
        drivers.append(Driver(name, framed, total, share, framed - total * share))
    ranked = sorted((d for d in drivers if d.excess > 0 and d.framed), key=lambda d: -d.excess)
    return ranked[:MAX_DRIVERS]


@dataclass(frozen=True)
class Voice:
    """Quotations by one speaker category in the period's counted migration articles."""

    category: str
    articles: int
    quotes: int
    baseline_articles: int


def _voice_counts(
    con: duckdb.DuckDBPyConnection, start: object, end: object, scope: Scope
) -> dict[str, tuple[int, int]]:
    """Per speaker category: (articles quoting it, quotations)."""
    cond, params = scope.where()
    rows = con.execute(VOICES_SQL.format(scope=cond), [start, end, *params]).fetchall()
    return {str(c): (int(a), int(q or 0)) for c, a, q in rows}


def voices(con: duckdb.DuckDBPyConnection, period: Period, scope: Scope = Scope()) -> list[Voice]:
    """Who is quoted now (and in how many baseline articles), in CATEGORIES order."""
    base = period.shifted(BASELINE_PERIODS)
    now = _voice_counts(con, period.start, period.end, scope)
    before = _voice_counts(con, base.start, period.start, scope)
    return [
        Voice(c, now.get(c, (0, 0))[0], now.get(c, (0, 0))[1], before.get(c, (0, 0))[0])
        for c in CATEGORIES
        if c in now or c in before
    ]
