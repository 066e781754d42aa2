"""The DuckDB store: the one home of the schema and every write.

The schema lives in numbered SQL files under ``pipeline/migrations``; ``open_store`` applies
the missing ones in order, each in its own transaction, and records them in
``schema_migrations``. Bulk writes go through Arrow tables (never row-by-row inserts), and each
logical write is one transaction, so a killed run leaves either all of a batch or none of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.records import Annotation, Article, Evidence, FetchOutcome, Framing, Source
from pipeline.urls import canonical_url

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "pipeline.migrations"


def migrations() -> list[tuple[int, str, str]]:
    """The bundled migrations as (version, name, sql), in version order."""
    out = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            out.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(out)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest applied migration, 0 for a new database."""
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()
    return int(row[0][0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations the database lacks; return the names applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    for column, note in (
        ("version", "migration number"),
        ("name", "migration file"),
        ("applied_at", "UTC"),
    ):
        con.execute(f"COMMENT ON COLUMN schema_migrations.{column} IS '{note}'")
    current = schema_version(con)
    applied = []
    for version, name, sql in migrations():
        if version <= current:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, _now()])
        applied.append(name)
    return applied


class DatabaseBusy(RuntimeError):
    """The database file is locked by a writer (a running ingest)."""


def open_store(path: Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the read-write database and bring its schema up to date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise DatabaseBusy(
            f"{path} is being written by another run; wait for it to finish"
        ) from exc
    names = migrate(con)
    if names:
        log.info("applied migrations %s to %s", names, path)
    return con


def open_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection for analysts, reports and the ``sql`` command.

    DuckDB lets one process write a file and no other process open it meanwhile; a reader
    that meets a running ingest gets a clear message instead of a lock error.
    """
    if not path.exists():
        raise FileNotFoundError(f"no database at {path}: run `framewatch run` or `demo` first")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise DatabaseBusy(
            f"{path} is being written by a running ingest; try again when it has finished"
        ) from exc


def _now() -> datetime:
    """Naive UTC now: DuckDB TIMESTAMP columns hold UTC without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


def _naive_utc(value: datetime | None) -> datetime | None:
    """Convert an aware datetime to naive UTC for a TIMESTAMP column."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _write(con: duckdb.DuckDBPyConnection, sql: str, rows: list[dict[str, Any]] | pa.Table) -> None:
    """Run one INSERT ... SELECT over rows handed to DuckDB as an Arrow table (given as a
    table when nested columns need an explicit schema)."""
    if len(rows) == 0:
        return
    batch = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    con.register("batch", batch)
    try:
        con.execute(sql)
    finally:
        con.unregister("batch")


def add_annotations(con: duckdb.DuckDBPyConnection, notes: Sequence[Annotation]) -> int:
    """Insert or replace reviewers' corrections (the id decides); return how many."""
    rows = [
        {
            **asdict(a),
            "frame_group": a.group,
            "labels": None if a.labels is None else list(a.labels),
            "created_at": _now(),
        }
        for a in notes
    ]
    for row in rows:
        row.pop("group")
    with transaction(con):
        _write(con, "INSERT OR REPLACE INTO annotations BY NAME SELECT * FROM batch", rows)
    return len(rows)


def upsert_sources(con: duckdb.DuckDBPyConnection, sources: Sequence[Source]) -> None:
    """Insert or refresh the outlets of a run."""
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "city": s.city,
            "country": s.country,
            "lang": s.lang,
            "feeds": list(s.feeds),
            "sitemaps": list(s.sitemaps),
            "verified": s.verified,
            "updated_at": _now(),
        }
        for s in sources
    ]
    _write(con, "INSERT OR REPLACE INTO sources SELECT * FROM batch", rows)


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, sources_file: str) -> None:
    """Record that a run began, so a crash leaves a visible 'running' row."""
    con.execute(
        "INSERT INTO runs (id, started_at, status, sources_file) VALUES (?, ?, 'running', ?)",
        [run_id, _now(), sources_file],
    )


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, **counts: Any) -> None:
    """Close a run row with its status and counts."""
    cols = ["finished_at = ?", "status = ?"] + [f"{k} = ?" for k in counts]
    con.execute(
        f"UPDATE runs SET {', '.join(cols)} WHERE id = ?",
        [_now(), status, *counts.values(), run_id],
    )


def log_fetches(
    con: duckdb.DuckDBPyConnection, run_id: str, outcomes: Iterable[FetchOutcome]
) -> int:
    """Append what happened to each requested URL to fetch_log; return the row count."""
    rows = [
        {
            "run_id": run_id,
            "source_id": o.source_id,
            "url": o.url,
            "kind": o.kind,
            "status": o.status,
            "error": o.error,
            "note": o.note or None,
            "fetched_at": _naive_utc(o.fetched_at),
        }
        for o in outcomes
    ]
    _write(con, "INSERT INTO fetch_log SELECT * FROM batch", rows)
    return len(rows)


def store_crawl(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    articles: Sequence[Article],
    outcomes: Sequence[FetchOutcome],
) -> list[str]:
    """Store a run's new articles and its fetch log in ONE transaction; return the new ids.

    One transaction, so a run killed here leaves neither articles without their log nor a
    log without its articles. Ids already present are left as they are (the id is a hash of
    the canonical URL, so a rerun inserts nothing); a new article whose text another one
    already carries is linked to it and noted in the log.
    """
    rows = _new_article_rows(con, articles, run_id)
    with transaction(con):
        _write(con, _ARTICLE_INSERT, rows)
        _mark_duplicates(con)
        new_ids = [r["id"] for r in rows]
        log_fetches(con, run_id, [*outcomes, *_duplicate_notes(con, new_ids)])
    return new_ids


def insert_articles(
    con: duckdb.DuckDBPyConnection, articles: Sequence[Article], run_id: str
) -> list[str]:
    """Store new articles (no fetch log); return the new ids."""
    return store_crawl(con, run_id, articles, [])


def _new_article_rows(
    con: duckdb.DuckDBPyConnection, articles: Sequence[Article], run_id: str
) -> list[dict[str, Any]]:
    """Rows for the articles whose id is not stored yet (first of each id only)."""
    ids = [a.id for a in articles]
    seen = {r[0] for r in con.execute("SELECT id FROM articles WHERE id IN ?", [ids]).fetchall()}
    rows = []
    for a in articles:
        if a.id in seen:
            continue
        seen.add(a.id)
        row = asdict(a)
        row.update(
            published_at=_naive_utc(a.published_at),
            fetched_at=_naive_utc(a.fetched_at),
            run_id=run_id,
        )
        rows.append(row)
    return rows


def _duplicate_notes(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[FetchOutcome]:
    """Fetch-log notes for new articles whose text another article already carries."""
    if not ids:
        return []
    rows = con.execute(
        "SELECT a.source_id, a.url, a.fetched_at, d.source_id, d.url FROM articles a"
        " JOIN articles d ON d.id = a.duplicate_of WHERE a.id IN ?",
        [list(ids)],
    ).fetchall()
    return [
        FetchOutcome(
            src,
            url,
            "article",
            200,
            None,
            at.replace(tzinfo=UTC),
            note=f"same text as {other_url} ({other_src}): syndicated copy",
        )
        for src, url, at, other_src, other_url in rows
    ]


def known_urls(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Canonical forms of every stored article's URLs (as announced, as fetched, canonical).

    The crawler skips these, so a rerun fetches nothing twice even where feed links redirect.
    """
    rows = con.execute("SELECT requested_url, url, canonical_url FROM articles").fetchall()
    return frozenset(canonical_url(u) for row in rows for u in row)


_ARTICLE_INSERT = """
INSERT INTO articles (id, url, requested_url, canonical_url, source_id, lang, declared_lang,
                      title, text, author, published_at, date_source, fetched_at,
                      content_hash, run_id)
SELECT id, url, requested_url, canonical_url, source_id, lang, declared_lang, title, text,
       author, published_at, date_source, fetched_at, content_hash, run_id
FROM batch
ON CONFLICT (id) DO NOTHING
"""


def _mark_duplicates(con: duckdb.DuckDBPyConnection) -> None:
    """Point every later copy of an identical text at the first article that carried it."""
    con.execute(
        """
        UPDATE articles SET duplicate_of = first.id
        FROM (SELECT content_hash, arg_min(id, (fetched_at, id)) AS id
              FROM articles GROUP BY content_hash HAVING count(*) > 1) AS first
        WHERE articles.content_hash = first.content_hash AND articles.id <> first.id
          AND articles.duplicate_of IS NULL
        """
    )


def articles_to_classify(
    con: duckdb.DuckDBPyConnection, model_version: str
) -> list[tuple[str, str, str, str]]:
    """(id, lang, title, text) of articles not yet classified by this model version."""
    return con.execute(
        "SELECT id, lang, title, text FROM articles"
        " WHERE model_version IS DISTINCT FROM ? ORDER BY id",
        [model_version],
    ).fetchall()


def count_pending(con: duckdb.DuckDBPyConnection, model_version: str) -> int:
    """Articles not yet classified by this model version."""
    rows = con.execute(
        "SELECT count(*) FROM articles WHERE model_version IS DISTINCT FROM ?", [model_version]
    ).fetchall()
    return int(rows[0][0])


def save_framings(con: duckdb.DuckDBPyConnection, framings: Sequence[Framing]) -> None:
    """Replace the classification of these articles in one transaction."""
    if not framings:
        return
    ids = [f.article_id for f in framings]
    now = _now()
    with transaction(con):
        for table in ("article_frames", "article_terms", "article_evidence", "article_quotes"):
            con.execute(f"DELETE FROM {table} WHERE article_id IN ?", [ids])
        _write(con, "INSERT INTO article_frames BY NAME SELECT * FROM batch", _frame_rows(framings))
        _write(con, "INSERT INTO article_terms BY NAME SELECT * FROM batch", _term_rows(framings))
        _write(
            con,
            "INSERT INTO article_evidence BY NAME SELECT * FROM batch",
            _evidence_table(framings),
        )
        _write(con, "INSERT INTO article_quotes BY NAME SELECT * FROM batch", _quote_rows(framings))
        _write(
            con,
            _ARTICLE_UPDATE,
            [
                {
                    "id": f.article_id,
                    "migration_score": f.migration_score,
                    "is_migration": f.migration,
                    "hostile_score": f.hostile,
                    "frame_group": f.group,
                    "model_version": f.model_version,
                    "classified_at": now,
                }
                for f in framings
            ],
        )


_ARTICLE_UPDATE = """
UPDATE articles SET migration_score = b.migration_score, is_migration = b.is_migration,
       hostile_score = b.hostile_score, frame_group = b.frame_group,
       model_version = b.model_version, classified_at = b.classified_at
FROM batch AS b WHERE articles.id = b.id
"""


def _frame_rows(framings: Sequence[Framing]) -> list[dict[str, Any]]:
    """One row per (article, label): the score, the decision and the best evidence."""
    rows = []
    for f in framings:
        best: dict[str, Evidence] = {}
        for e in f.evidence:
            best.setdefault(e.label, e)  # evidence comes best first per label
        for label, score in f.frames.items():
            ev = best.get(label)
            rows.append(
                {
                    "article_id": f.article_id,
                    "frame": label,
                    "score": float(score),
                    "assigned": label in f.labels,
                    "evidence": ev.text if ev else None,
                    "start_char": ev.start if ev else None,
                    "end_char": ev.end if ev else None,
                    "model_version": f.model_version,
                    "evidence_count": f.evidence_counts.get(label),
                }
            )
    return rows


_CUE = pa.struct(
    [
        ("word", pa.string()),
        ("start_char", pa.int32()),
        ("end_char", pa.int32()),
        ("weight", pa.float64()),
        ("source", pa.string()),
    ]
)
_EVIDENCE_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("frame", pa.string()),
        ("rank", pa.int32()),
        ("score", pa.float64()),
        ("sentence", pa.string()),
        ("start_char", pa.int32()),
        ("end_char", pa.int32()),
        ("cues", pa.list_(_CUE)),
        ("model_version", pa.string()),
    ]
)


def _evidence_table(framings: Sequence[Framing]) -> pa.Table:
    """All evidence sentences, ranked per (article, label), with their cues."""
    rows = []
    for f in framings:
        rank: dict[str, int] = {}
        for e in f.evidence:
            rank[e.label] = rank.get(e.label, 0) + 1
            cues = [
                {
                    "word": c.text,
                    "start_char": c.start,
                    "end_char": c.end,
                    "weight": c.weight,
                    "source": c.source,
                }
                for c in e.cues
            ]
            rows.append(
                {
                    "article_id": f.article_id,
                    "frame": e.label,
                    "rank": rank[e.label],
                    "score": e.score,
                    "sentence": e.text,
                    "start_char": e.start,
                    "end_char": e.end,
                    "cues": cues,
                    "model_version": f.model_version,
                }
            )
    return pa.Table.from_pylist(rows, schema=_EVIDENCE_SCHEMA)


def _quote_rows(framings: Sequence[Framing]) -> list[dict[str, Any]]:
    """One row per quotation."""
    return [
        {
            "article_id": f.article_id,
            "quote_index": i,
            "quote": q.text,
            "start_char": q.start,
            "end_char": q.end,
            "speaker": q.speaker,
            "speaker_start": q.speaker_start if q.speaker_start >= 0 else None,
            "speaker_end": q.speaker_end if q.speaker_end >= 0 else None,
            "speaker_category": q.speaker_category,
            "cue": q.cue,
            "model_version": f.model_version,
        }
        for f in framings
        for i, q in enumerate(f.quotes)
    ]


def _term_rows(framings: Sequence[Framing]) -> list[dict[str, Any]]:
    """One row per lexicon hit."""
    return [
        {
            "article_id": f.article_id,
            "kind": t.kind,
            "term": t.term,
            "matched": t.text,
            "start_char": t.start,
            "end_char": t.end,
            "category": t.category or None,
            "alternatives": list(t.alternatives),
        }
        for f in framings
        for t in f.terms
    ]
