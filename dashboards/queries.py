"""What the dashboard reads from the database: named SQL and small typed functions.

Key figures, trend figures, the group chart's series, examples and source health come from
``pipeline.aggregate`` and ``pipeline.health`` (the report's numbers, so the dashboard and
the weekly report never disagree); this module adds only what a browsing reader needs on
top: the filter choices, the filtered article list and one article with everything the
classifier said about it. Every function only reads, so it works on a read-only connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from pipeline.aggregate import NOT_PURGED, Period, Scope
from pipeline.annotations import EVIDENCE_SQL
from pipeline.records import Cue, TermHit

PAGE_SIZE = 25


@dataclass(frozen=True)
class Filters:
    """What the reader narrowed the overview to; empty fields mean "all"."""

    period: Period
    city: str | None = None
    outlet: str | None = None  # sources.id
    lang: str | None = None
    frame: str | None = None
    page: int = 1

    @property
    def scope(self) -> Scope:
        """The aggregate module's scope for these filters (frames are not a scope there)."""
        return Scope(city=self.city, source=self.outlet, lang=self.lang)


@dataclass(frozen=True)
class Outlet:
    """An outlet as a filter choice."""

    id: str
    name: str
    city: str


@dataclass(frozen=True)
class Choices:
    """The values the filter form offers: what the database holds."""

    cities: tuple[str, ...]
    outlets: tuple[Outlet, ...]
    langs: tuple[str, ...]


CITIES_SQL = "SELECT DISTINCT city FROM sources ORDER BY city"
OUTLETS_SQL = "SELECT id, name, city FROM sources ORDER BY city, name, id"
LANGS_SQL = "SELECT DISTINCT lang FROM articles WHERE is_migration ORDER BY lang"
LATEST_SQL = "SELECT max(published_at) FROM migration_articles"


def choices(con: duckdb.DuckDBPyConnection) -> Choices:
    """Cities, outlets and article languages in the database."""
    return Choices(
        tuple(str(r[0]) for r in con.execute(CITIES_SQL).fetchall()),
        tuple(Outlet(str(i), str(n), str(c)) for i, n, c in con.execute(OUTLETS_SQL).fetchall()),
        tuple(str(r[0]) for r in con.execute(LANGS_SQL).fetchall()),
    )


def latest_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The day of the newest migration article: an archive's default period ends there."""
    row = con.execute(LATEST_SQL).fetchall()
    value = row[0][0] if row else None
    return value.date() if isinstance(value, datetime) else None


@dataclass(frozen=True)
class ArticleRow:
    """One line of the article list."""

    id: str
    title: str
    outlet: str
    city: str
    lang: str
    published: datetime | None
    migration_score: float | None
    frames: tuple[str, ...]  # assigned frame codes, strongest first


# The frame filter keeps articles where that frame was assigned; the list shows every
# migration article of the scope (copies included: a reviewer may want to judge them) but
# those purged on request, which have no title or text left to show.
ARTICLE_FILTER = f"""
FROM migration_articles m
JOIN articles a ON a.id = m.id
WHERE m.published_at >= ? AND m.published_at < ? AND {{scope}} AND {NOT_PURGED}
  AND (CAST(? AS VARCHAR) IS NULL OR EXISTS (
      SELECT 1 FROM article_frames x WHERE x.article_id = m.id AND x.frame = ? AND x.assigned))
"""
ARTICLE_COUNT_SQL = "SELECT count(*) " + ARTICLE_FILTER
ARTICLE_LIST_SQL = (
    """
SELECT m.id, m.title, m.source_name, m.city, m.lang, m.published_at, m.migration_score,
       (SELECT list(f.frame ORDER BY f.score DESC) FROM article_frames f
        WHERE f.article_id = m.id AND f.assigned) AS frames
"""
    + ARTICLE_FILTER
    + "ORDER BY m.published_at DESC, m.id LIMIT ? OFFSET ?"
)


def _list_params(filters: Filters) -> tuple[str, list[object]]:
    """The scope condition and the parameters shared by the list and its count."""
    cond, params = filters.scope.where()
    period = filters.period
    return cond, [period.start, period.end, *params, filters.frame, filters.frame]


def count_articles(con: duckdb.DuckDBPyConnection, filters: Filters) -> int:
    """How many migration articles the filters select (for the pager)."""
    cond, params = _list_params(filters)
    row = con.execute(ARTICLE_COUNT_SQL.format(scope=cond), params).fetchall()
    return int(row[0][0]) if row else 0


def list_articles(con: duckdb.DuckDBPyConnection, filters: Filters) -> list[ArticleRow]:
    """One page of the filtered migration articles, newest first."""
    cond, params = _list_params(filters)
    offset = (max(filters.page, 1) - 1) * PAGE_SIZE
    rows = con.execute(ARTICLE_LIST_SQL.format(scope=cond), [*params, PAGE_SIZE, offset])
    return [
        ArticleRow(str(i), str(t), str(o), str(c), str(lg), p, s, tuple(fr or ()))
        for i, t, o, c, lg, p, s, fr in rows.fetchall()
    ]


@dataclass(frozen=True)
class ArticleDetail:
    """One stored article with the classifier's article-level decisions."""

    id: str
    title: str
    text: str
    url: str
    outlet: str
    city: str
    lang: str
    published: datetime | None
    is_migration: bool | None
    migration_score: float | None
    hostile_score: float | None
    frame_group: str | None
    model_version: str | None


ARTICLE_SQL = f"""
SELECT a.id, a.title, a.text, a.canonical_url, s.name, s.city, a.lang, a.published_at,
       a.is_migration, a.migration_score, a.hostile_score, a.frame_group, a.model_version
FROM articles a JOIN sources s ON s.id = a.source_id WHERE a.id = ? AND {NOT_PURGED}
"""


def article(con: duckdb.DuckDBPyConnection, article_id: str) -> ArticleDetail | None:
    """The article with this id, or None (also when it was purged)."""
    rows = con.execute(ARTICLE_SQL, [article_id]).fetchall()
    return ArticleDetail(*rows[0]) if rows else None


@dataclass(frozen=True)
class FrameScore:
    """One label's article-level score and decision."""

    frame: str
    score: float
    assigned: bool
    evidence_count: int | None


FRAMES_SQL = """
SELECT frame, score, assigned, evidence_count FROM article_frames
WHERE article_id = ? ORDER BY score DESC, frame
"""


def frame_scores(con: duckdb.DuckDBPyConnection, article_id: str) -> list[FrameScore]:
    """Every label's score for the article, highest first."""
    rows = con.execute(FRAMES_SQL, [article_id]).fetchall()
    return [FrameScore(str(f), float(s), bool(a), n) for f, s, a, n in rows]


@dataclass(frozen=True)
class EvidenceSentence:
    """A sentence supporting a frame, with its offsets and cue words."""

    frame: str
    rank: int
    score: float
    sentence: str
    start: int
    end: int
    cues: tuple[Cue, ...]


def evidence(con: duckdb.DuckDBPyConnection, article_id: str) -> list[EvidenceSentence]:
    """The evidence sentences of the article's assigned frames, in text order."""
    rows = con.execute(EVIDENCE_SQL, [article_id, []]).fetchall()  # assigned frames only
    return [
        EvidenceSentence(str(f), int(r), float(s), str(t), int(a), int(b), _cues(cues))
        for f, r, s, t, a, b, cues in rows
    ]


# Reading cue structs and term rows is also done by pipeline/pack.py (its own records, for
# the training packs); the two are kept apart for now because pack.py is edited by others.
def _cues(values: list[dict[str, Any]] | None) -> tuple[Cue, ...]:
    """DuckDB's list of cue structs as the classifier's own Cue records."""
    return tuple(
        Cue(
            int(c["start_char"]),
            int(c["end_char"]),
            str(c["word"]),
            float(c["weight"]),
            str(c["source"]),
        )
        for c in values or ()
    )


TERMS_SQL = """
SELECT kind, term, matched, start_char, end_char, category, alternatives
FROM article_terms WHERE article_id = ? ORDER BY start_char, kind
"""


def terms(con: duckdb.DuckDBPyConnection, article_id: str) -> list[TermHit]:
    """The lexicon matches of the article, in text order, as the classifier's TermHit
    records (``text`` is the words as they stand in the article)."""
    rows = con.execute(TERMS_SQL, [article_id]).fetchall()
    return [
        TermHit(str(k), str(t), int(a), int(b), str(m), str(c or ""), tuple(alts or ()))
        for k, t, m, a, b, c, alts in rows
    ]


@dataclass(frozen=True)
class QuoteRow:
    """A quotation and who said it."""

    quote: str
    speaker: str
    category: str


QUOTES_SQL = """
SELECT quote, speaker, speaker_category FROM article_quotes
WHERE article_id = ? ORDER BY quote_index
"""


def quotes(con: duckdb.DuckDBPyConnection, article_id: str) -> list[QuoteRow]:
    """The article's quotations with speaker categories."""
    rows = con.execute(QUOTES_SQL, [article_id]).fetchall()
    return [QuoteRow(str(q), str(s), str(c)) for q, s, c in rows]


@dataclass(frozen=True)
class ReviewRow:
    """An earlier review of the article, shown so reviewers see each other's judgements."""

    reviewer: str
    created_at: datetime
    migration: bool | None
    labels: tuple[str, ...] | None
    note: str


REVIEWS_SQL = """
SELECT reviewer, created_at, migration, labels, coalesce(note, '') FROM annotations
WHERE article_id = ? ORDER BY created_at DESC, reviewer
"""


def reviews(con: duckdb.DuckDBPyConnection, article_id: str) -> list[ReviewRow]:
    """The stored reviews of the article, newest first."""
    rows = con.execute(REVIEWS_SQL, [article_id]).fetchall()
    return [
        ReviewRow(str(r), c, m, None if lb is None else tuple(lb), str(n))
        for r, c, m, lb, n in rows
    ]
