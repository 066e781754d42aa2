"""Trend figures from the database: what the summary, the report and alerts are built on.

A "period" is seven days. By default the current period is the seven days ending today, so
the figures do not depend on the weekday a report is run; ``--week 2026-W47`` selects an
ISO week instead. The baseline is the ``BASELINE_PERIODS`` periods before it. Every query is
a named SQL string so that the report can show the SQL behind each number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
from scipy.stats import fisher_exact

from pipeline.timeutil import utc_now

BASELINE_PERIODS = 8
# Frames that show migrants as contributors and neighbours: the good practice that reports,
# packs and the dashboard put beside the threat frames.
GOOD_PRACTICE = ("hero_contribution", "hero_integration")
MIN_ARTICLES = 5  # fewer migration articles than this in a period: "too few to tell"
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Period:
    """A half-open span of time [start, end) with a label for people."""

    start: datetime
    end: datetime
    label: str

    def shifted(self, periods: int) -> Period:
        """The period ``periods`` lengths earlier (negative: later)."""
        step = (self.end - self.start) * periods
        start, end = self.start - step, self.end - step
        return Period(start, end, _label(start, end))


def _label(start: datetime, end: datetime) -> str:
    """A period's label for people: its first and last day."""
    return f"{start:%Y-%m-%d} – {end - timedelta(days=1):%Y-%m-%d}"


def _day_span(start: date, end_exclusive: date) -> Period:
    """Midnight (naive UTC) of ``start`` to midnight of ``end_exclusive``, labelled."""
    first = datetime(start.year, start.month, start.day)
    end = datetime(end_exclusive.year, end_exclusive.month, end_exclusive.day)
    return Period(first, end, _label(first, end))


def days(start: date, end_exclusive: date) -> Period:
    """The days from ``start`` up to (not including) ``end_exclusive`` as a Period, labelled
    like every other period built from days (first and last day)."""
    return _day_span(start, end_exclusive)


def last_days(today: date | None = None, days: int = 7) -> Period:
    """The ``days`` days ending with today (inclusive)."""
    end = (today or utc_now().date()) + timedelta(days=1)
    return _day_span(end - timedelta(days=days), end)


def iso_week(week: str) -> Period:
    """The ISO week '2026-W47' as a Period (Monday 00:00 to the next Monday, UTC)."""
    try:
        monday = datetime.strptime(week + "-1", "%G-W%V-%u")
    except ValueError:
        raise ValueError(f"{week!r} is not an ISO week like 2026-W47") from None
    year, number = (int(x) for x in week.split("-W"))
    if monday.isocalendar()[:2] != (year, number):  # strptime accepts 2025-W53, W00 ...
        raise ValueError(f"{week!r} does not exist: {year} has no week {number}")
    return Period(monday, monday + timedelta(days=7), week)


@dataclass(frozen=True)
class FrameTrend:
    """One frame's share of migration coverage now vs the baseline, and what it means."""

    frame: str
    articles: int
    share: float
    baseline_articles: int
    baseline_share: float
    p_value: float | None
    verdict: str  # rising | falling | stable | too_few | new


@dataclass(frozen=True)
class Scope:
    """Which articles a figure covers: all, or one city / outlet / language."""

    city: str | None = None
    source: str | None = None
    lang: str | None = None

    def where(self) -> tuple[str, list[object]]:
        """SQL conditions on the migration_articles view (alias m) and their parameters."""
        conds: list[str] = []
        params: list[object] = []
        for column, value in (
            ("m.city", self.city),
            ("m.source_id", self.source),
            ("m.lang", self.lang),
        ):
            if value:
                conds.append(f"{column} = ?")
                params.append(value)
        return (" AND ".join(conds) or "TRUE"), params


FRAME_COUNTS_SQL = """
SELECT f.frame, count(DISTINCT m.id) AS articles
FROM migration_articles m
JOIN article_frames f ON f.article_id = m.id AND f.assigned
WHERE m.counted AND m.published_at >= ? AND m.published_at < ? AND {scope}
GROUP BY f.frame
"""

MIGRATION_COUNT_SQL = """
SELECT count(*) FROM migration_articles m
WHERE m.counted AND m.published_at >= ? AND m.published_at < ? AND {scope}
"""

# All articles with their outlet's city as m, so that Scope.where() applies as elsewhere.
ALL_COUNT_SQL = """
SELECT count(*)
FROM (SELECT a.source_id, a.lang, a.published_at, s.city
      FROM articles a JOIN sources s ON s.id = a.source_id) m
WHERE m.published_at >= ? AND m.published_at < ? AND {scope}
"""


def _span(period: Period, periods: int) -> tuple[datetime, datetime]:
    """Start and end covering ``periods`` periods ending where ``period`` starts."""
    return period.shifted(periods).start, period.start


def frame_counts(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, scope: Scope
) -> dict[str, int]:
    """Migration articles per assigned frame in [start, end)."""
    cond, params = scope.where()
    rows = con.execute(FRAME_COUNTS_SQL.format(scope=cond), [start, end, *params]).fetchall()
    return {frame: int(n) for frame, n in rows}


def migration_count(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, scope: Scope
) -> int:
    """Migration articles in [start, end)."""
    cond, params = scope.where()
    row = con.execute(MIGRATION_COUNT_SQL.format(scope=cond), [start, end, *params]).fetchall()
    return int(row[0][0]) if row else 0


def all_count(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, scope: Scope) -> int:
    """All articles in [start, end), migration or not."""
    cond, params = scope.where()
    row = con.execute(ALL_COUNT_SQL.format(scope=cond), [start, end, *params]).fetchall()
    return int(row[0][0]) if row else 0


def verdict(n: int, total: int, base_n: int, base_total: int) -> tuple[str, float | None]:
    """rising/falling/stable by Fisher's exact test, or too_few when the counts can't tell."""
    if total < MIN_ARTICLES:
        return "too_few", None
    if base_total == 0:
        return "new", None
    _, p = fisher_exact([[n, total - n], [base_n, base_total - base_n]])
    share, base_share = n / total, base_n / base_total
    if p < SIGNIFICANCE:
        return ("rising" if share > base_share else "falling"), float(p)
    return "stable", float(p)


def frame_trends(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    codes: list[str],
    scope: Scope = Scope(),
    counts: Totals | None = None,
) -> list[FrameTrend]:
    """Every frame's share now vs the baseline, strongest rise first.

    ``counts`` is the ``totals`` of the same period and scope when the caller has it already
    (the report does), so the migration counts are not queried twice.
    """
    base_start, base_end = _span(period, BASELINE_PERIODS)
    now = frame_counts(con, period.start, period.end, scope)
    base = frame_counts(con, base_start, base_end, scope)
    if counts is None:
        total = migration_count(con, period.start, period.end, scope)
        base_total = migration_count(con, base_start, base_end, scope)
    else:
        total, base_total = counts.migration, counts.baseline_migration
    return trends_of(codes, now, base, total, base_total)


def trends_of(
    subjects: list[str], now: dict[str, int], base: dict[str, int], total: int, base_total: int
) -> list[FrameTrend]:
    """The trend of each subject from its counts now and in the baseline, strongest rise
    first."""
    trends = [subject_trend(s, now.get(s, 0), total, base.get(s, 0), base_total) for s in subjects]
    return sorted(trends, key=lambda t: t.share - t.baseline_share, reverse=True)


GROUP_COUNTS_SQL = """
SELECT split_part(f.frame, '_', 1) AS frame_group, count(DISTINCT m.id) AS articles
FROM migration_articles m
JOIN article_frames f ON f.article_id = m.id AND f.assigned
WHERE m.counted AND m.published_at >= ? AND m.published_at < ? AND {scope}
GROUP BY 1
"""


@dataclass(frozen=True)
class GroupShare:
    """Share of a period's migration articles that carry a frame of one group."""

    period: str  # first day of the period, ISO date
    group: str  # threat | victim | hero
    articles: int
    migration_articles: int

    @property
    def share(self) -> float:
        """articles / migration_articles (0 when there were none)."""
        return self.articles / self.migration_articles if self.migration_articles else 0.0


def group_series(
    con: duckdb.DuckDBPyConnection, period: Period, scope: Scope = Scope()
) -> list[GroupShare]:
    """Threat, victim and hero shares for the period and the baseline periods before it."""
    out = []
    cond, params = scope.where()
    for back in range(BASELINE_PERIODS, -1, -1):
        p = period.shifted(back)
        total = migration_count(con, p.start, p.end, scope)
        sql = GROUP_COUNTS_SQL.format(scope=cond)
        found = dict(con.execute(sql, [p.start, p.end, *params]).fetchall())
        out += [
            GroupShare(f"{p.start:%Y-%m-%d}", g, int(found.get(g, 0)), total)
            for g in ("threat", "victim", "hero")
        ]
    return out


OUTLET_COUNTS_SQL = """
SELECT s.name, s.city, s.lang AS declared, string_agg(DISTINCT a.lang, ',') AS detected,
       count(a.id) AS articles, count(a.id) FILTER (WHERE a.is_migration) AS migration
FROM sources s LEFT JOIN articles a ON a.source_id = s.id
GROUP BY s.name, s.city, s.lang ORDER BY s.city, s.name
"""


def outlet_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str, int, int]]:
    """Per outlet: name, city, declared and detected languages, articles, migration articles."""
    return [
        (str(n), str(c), str(d), str(dl or ""), int(a), int(m))
        for n, c, d, dl, a, m in con.execute(OUTLET_COUNTS_SQL).fetchall()
    ]


def run_log(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[str, str, str]]:
    """The errors and notes a run recorded in fetch_log: (outlet, url, reason)."""
    rows = con.execute(
        "SELECT source_id, url, coalesce(error, note) FROM fetch_log"
        " WHERE run_id = ? AND (error IS NOT NULL OR note IS NOT NULL) ORDER BY source_id, url",
        [run_id],
    ).fetchall()
    return [(str(s), str(u), str(r)) for s, u, r in rows]


# What may be shown of an article (pipeline/retention.py), as conditions on the articles
# alias a. Every article counts in every figure; but a purge removes title, text and evidence
# on request, and retention drops the text of old articles and keeps a short excerpt of each
# evidence sentence. Lists show articles that are NOT_PURGED; what needs the whole text
# (training packs) takes those whose TEXT_KEPT; examples take those whose text or evidence
# excerpt is kept.
NOT_PURGED = "a.purge_id IS NULL"
TEXT_KEPT = "a.text_dropped_at IS NULL"

EXAMPLES_PER_FRAME = 3
EXAMPLES_SQL = f"""
SELECT m.id, m.title, m.source_name, a.canonical_url, m.published_at, f.score,
       f.start_char, f.end_char, f.evidence
FROM migration_articles m
JOIN articles a ON a.id = m.id
JOIN article_frames f ON f.article_id = m.id AND f.frame = ? AND f.assigned
WHERE m.counted AND m.published_at >= ? AND m.published_at < ? AND {{scope}}
  AND ({TEXT_KEPT} OR f.evidence <> '')
ORDER BY f.score DESC, m.id LIMIT ?
"""
CONTEXT_CHARS = 200
# EXAMPLES_SQL for many (city or outlet, frame) pairs at once: alerts need the examples of
# every rise, and a query per rise took 38 s on two million articles.
GROUPED_EXAMPLES_SQL = f"""
SELECT m.{{key}}, f.frame, m.id, m.title, m.source_name, a.canonical_url, m.published_at,
       f.score, f.start_char, f.end_char, f.evidence
FROM migration_articles m
JOIN articles a ON a.id = m.id
JOIN article_frames f ON f.article_id = m.id AND f.assigned
JOIN (SELECT DISTINCT unnest(?::VARCHAR[]) AS target, unnest(?::VARCHAR[]) AS frame) wanted
  ON wanted.target = m.{{key}} AND wanted.frame = f.frame
WHERE m.counted AND m.published_at >= ? AND m.published_at < ?
  AND ({TEXT_KEPT} OR f.evidence <> '')
QUALIFY row_number() OVER (PARTITION BY m.{{key}}, f.frame ORDER BY f.score DESC, m.id) <= ?
ORDER BY m.{{key}}, f.frame, f.score DESC, m.id
"""


@dataclass(frozen=True)
class Example:
    """An article shown as an example of a frame, its evidence sentence split out so that a
    page or a message can highlight it (the text around it is cut to CONTEXT_CHARS)."""

    article_id: str
    frame: str
    title: str
    outlet: str
    url: str
    published: datetime
    score: float
    before: str
    evidence: str
    after: str


def examples(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    frame: str,
    scope: Scope = Scope(),
    limit: int = EXAMPLES_PER_FRAME,
) -> list[Example]:
    """The most confident counted articles of a frame in the period, evidence split out."""
    cond, params = scope.where()
    sql = EXAMPLES_SQL.format(scope=cond)
    rows = con.execute(sql, [frame, period.start, period.end, *params, limit]).fetchall()
    texts = _texts(con, [r[0] for r in rows])
    return [
        _example(frame, id_, title, outlet, url, published, score, texts[id_], start, end, kept)
        for id_, title, outlet, url, published, score, start, end, kept in rows
    ]


def grouped_examples(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    key: str,
    wanted: Sequence[tuple[str, str]],
    limit: int = EXAMPLES_PER_FRAME,
) -> dict[tuple[str, str], list[Example]]:
    """``examples`` of each (city or outlet, frame) pair in ``wanted``, ``key`` naming the
    column ("city" or "source_id"), in one query."""
    if not wanted:
        return {}
    targets, frames = ([pair[i] for pair in wanted] for i in (0, 1))
    sql = GROUPED_EXAMPLES_SQL.format(key=key)
    rows = con.execute(sql, [targets, frames, period.start, period.end, limit]).fetchall()
    texts = _texts(con, [r[2] for r in rows])
    found: dict[tuple[str, str], list[Example]] = {}
    for target, frame, id_, title, outlet, url, published, score, start, end, kept in rows:
        example = _example(
            frame, id_, title, outlet, url, published, score, texts[id_], start, end, kept
        )
        found.setdefault((str(target), str(frame)), []).append(example)
    return found


def _texts(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, str]:
    """The texts of the chosen examples only: reading every candidate's text with the
    ranking query cost seconds on a large store (5.9 s cold on 2 million articles)."""
    if not ids:
        return {}
    return dict(con.execute("SELECT id, text FROM articles WHERE id IN ?", [ids]).fetchall())


def _example(
    frame: str,
    article_id: str,
    title: str,
    outlet: str,
    url: str,
    published: datetime,
    score: float,
    text: str,
    start: int | None,
    end: int | None,
    kept: str | None,
) -> Example:
    """An Example with CONTEXT_CHARS of context on each side of the evidence sentence; once
    retention dropped the text, the ``kept`` excerpt of the sentence alone."""
    if not text:  # the offsets point into the text as it was
        text, start, end = kept or "", 0, len(kept or "")
    start, end = start or 0, end or 0
    before = text[max(0, start - CONTEXT_CHARS) : start]
    after = text[end : end + CONTEXT_CHARS]
    return Example(
        article_id,
        frame,
        title,
        outlet,
        url,
        published,
        round(score, 2),
        ("…" + before.lstrip()) if start > CONTEXT_CHARS else before,
        text[start:end],
        (after.rstrip() + "…") if end + CONTEXT_CHARS < len(text) else after,
    )


METAPHOR_COUNTS_SQL = """
SELECT t.term, count(DISTINCT m.id) AS articles
FROM migration_articles m
JOIN article_terms t ON t.article_id = m.id AND t.kind = 'metaphor'
WHERE m.counted AND m.published_at >= ? AND m.published_at < ? AND {scope}
GROUP BY t.term
"""


def metaphor_counts(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, scope: Scope
) -> dict[str, int]:
    """Counted migration articles per dehumanising metaphor (lexicon entry) in [start, end):
    METAPHOR_COUNTS_SQL, the query an alert shows behind its figures (alerts count every
    target at once with ``grouped_counts``; a test holds the two equal)."""
    cond, params = scope.where()
    rows = con.execute(METAPHOR_COUNTS_SQL.format(scope=cond), [start, end, *params]).fetchall()
    return {term: int(n) for term, n in rows}


CITY_LANGUAGES_SQL = "SELECT city, mode(lang) FROM sources GROUP BY city ORDER BY city"


def city_languages(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each city and the language most of its outlets publish in: a city's report language."""
    return {str(city): str(lang) for city, lang in con.execute(CITY_LANGUAGES_SQL).fetchall()}


@dataclass(frozen=True)
class Totals:
    """All articles and migration articles of a period and of its baseline."""

    articles: int
    migration: int
    baseline_articles: int
    baseline_migration: int

    @property
    def share(self) -> float | None:
        """Migration share of the period (None without articles)."""
        return self.migration / self.articles if self.articles else None

    @property
    def baseline_share(self) -> float | None:
        """Migration share of the baseline (None without articles)."""
        return self.baseline_migration / self.baseline_articles if self.baseline_articles else None


def totals(con: duckdb.DuckDBPyConnection, period: Period, scope: Scope = Scope()) -> Totals:
    """Article counts of the period and of the BASELINE_PERIODS before it."""
    base = period.shifted(BASELINE_PERIODS)
    return Totals(
        all_count(con, period.start, period.end, scope),
        migration_count(con, period.start, period.end, scope),
        all_count(con, base.start, period.start, scope),
        migration_count(con, base.start, period.start, scope),
    )


MODEL_VERSIONS_SQL = """
SELECT DISTINCT m.model_version FROM migration_articles m
WHERE m.counted AND m.published_at >= ? AND m.published_at < ? AND {scope}
  AND m.model_version IS NOT NULL
ORDER BY 1
"""


def model_versions(
    con: duckdb.DuckDBPyConnection, period: Period, scope: Scope = Scope()
) -> list[str]:
    """The model versions that classified the counted migration articles of the period and its
    baseline: the figures a report or alert compares, not the whole database."""
    cond, params = scope.where()
    start, end = period.shifted(BASELINE_PERIODS).start, period.end
    rows = con.execute(MODEL_VERSIONS_SQL.format(scope=cond), [start, end, *params]).fetchall()
    return [str(version) for (version,) in rows]


def subject_trend(subject: str, n: int, total: int, base_n: int, base_total: int) -> FrameTrend:
    """A FrameTrend from counts, judged by ``verdict``: one rule for anything counted per
    migration article (a frame, a metaphor), so that alerts and the report agree."""
    word, p = verdict(n, total, base_n, base_total)
    share = n / total if total else 0.0
    base_share = base_n / base_total if base_total else 0.0
    return FrameTrend(subject, n, share, base_n, base_share, p, word)


# Every city's (or outlet's) counts at once, for alerts, which judge every city and outlet:
# one query per figure instead of one per figure and target (137 s on 2 million articles).
# ``now`` splits the span [baseline start, period end) at the period's start. The counts are
# those of ALL_COUNT_SQL, MIGRATION_COUNT_SQL, FRAME_COUNTS_SQL and METAPHOR_COUNTS_SQL.
GROUPED_SQL = """
SELECT m.{key}, m.published_at >= ? AS now, {subject}, count(DISTINCT m.id)
FROM {rows}
WHERE {counted} AND m.published_at >= ? AND m.published_at < ?
GROUP BY ALL
"""
# kind: (rows, which of them count, subject)
GROUPED_ROWS = {
    "articles": (
        "(SELECT a.id, a.published_at, a.source_id, s.city"
        " FROM articles a JOIN sources s ON s.id = a.source_id) m",
        "TRUE",
        "''",
    ),
    "migration": ("migration_articles m", "m.counted", "''"),
    "frames": (
        "migration_articles m JOIN article_frames f ON f.article_id = m.id AND f.assigned",
        "m.counted",
        "f.frame",
    ),
    "metaphors": (
        "migration_articles m JOIN article_terms t ON t.article_id = m.id AND t.kind = 'metaphor'",
        "m.counted",
        "t.term",
    ),
    # Articles per model version: which models are behind the figures (MODEL_VERSIONS_SQL).
    "models": (
        "migration_articles m",
        "m.counted AND m.model_version IS NOT NULL",
        "m.model_version",
    ),
}
# key -> (now?) -> subject -> articles
Grouped = dict[str, dict[bool, dict[str, int]]]


@dataclass(frozen=True)
class GroupedCounts:
    """A period's and its baseline's counts for every city, or every outlet (``key``)."""

    articles: Grouped
    migration: Grouped
    frames: Grouped
    metaphors: Grouped
    models: Grouped

    def totals(self, key: str) -> Totals:
        """The ``totals`` of one city or outlet."""
        a, m = self.articles.get(key, {}), self.migration.get(key, {})
        return Totals(*(part.get(now, {}).get("", 0) for now in (True, False) for part in (a, m)))

    def model_versions(self, key: str) -> list[str]:
        """The ``model_versions`` of one city or outlet."""
        return sorted({v for counts in self.models.get(key, {}).values() for v in counts})

    def of(self, kind: str, key: str, now: bool) -> dict[str, int]:
        """Articles per frame (``kind`` frames) or metaphor (metaphors) of one city or outlet."""
        grouped: Grouped = getattr(self, kind)
        return grouped.get(key, {}).get(now, {})


def grouped_counts(con: duckdb.DuckDBPyConnection, period: Period, key: str) -> GroupedCounts:
    """Every city's (``key`` "city") or outlet's ("source_id") counts of the period and its
    baseline, one query per kind of count."""
    base_start = period.shifted(BASELINE_PERIODS).start
    return GroupedCounts(
        *(_grouped(con, key, kind, [period.start, base_start, period.end]) for kind in GROUPED_ROWS)
    )


def _grouped(
    con: duckdb.DuckDBPyConnection, key: str, kind: str, params: list[datetime]
) -> Grouped:
    """One kind of count per (key, now, subject)."""
    rows, counted, subject = GROUPED_ROWS[kind]
    sql = GROUPED_SQL.format(key=key, subject=subject, rows=rows, counted=counted)
    grouped: Grouped = {}
    for target, now, name, n in con.execute(sql, params).fetchall():
        grouped.setdefault(str(target), {}).setdefault(bool(now), {})[str(name)] = int(n)
    return grouped
