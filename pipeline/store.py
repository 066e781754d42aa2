"""The DuckDB store: the one home of the schema and every write.

The schema lives in numbered SQL files under ``pipeline/migrations``; ``open_store`` applies
the missing ones in order, each in its own transaction, and records them in
``schema_migrations``. Bulk writes go through Arrow tables (never row-by-row inserts), and each
logical write is one transaction, so a killed run leaves either all of a batch or none of it.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import dedup, feeds
from pipeline.config import Settings
from pipeline.records import (
    Annotation,
    Article,
    Evidence,
    FeedState,
    FetchedPage,
    FetchOutcome,
    Framing,
    Source,
)
from pipeline.timeutil import as_utc, naive_utc, utc_now
from pipeline.urls import url_key

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "pipeline.migrations"
# Defaults of store_crawl's optional arguments: the Settings defaults, for callers that pass
# none (tests, scripts); a run passes its own settings.
RAW_MAXSIZE: int = Settings.model_fields["raw_html_maxsize"].default
DISABLE_AFTER: int = Settings.model_fields["feed_disable_after"].default
# gzip level of raw HTML: level 4 compresses about twice as fast as the default 6 and the
# output is 3 % larger (measured on 17 MB of HTML: 70 vs 38 MB/s, 3.8x vs 3.9x).
GZIP_LEVEL = 4
RAW_WRITE_BATCH = 500  # pages compressed and written per Arrow batch: bounds memory
KEY_BACKFILL_BATCH = 50_000  # rows keyed per transaction when url_keys is backfilled
# Articles a model version still has to classify (dropped texts are never reclassified).
PENDING = "model_version IS DISTINCT FROM ? AND text_dropped_at IS NULL"
WRITER_POLL_SECONDS = 0.5  # how often a writer retries a file held by readers
INTERRUPTED_NOTE = (
    "interrupted: the process stopped before the run finished; the next run picked up"
)


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
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, utc_now()]
            )
        applied.append(name)
    return applied


class DatabaseBusy(RuntimeError):
    """The database file is locked by a writer (a running ingest) or held by readers."""


def open_store(path: Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the read-write database and bring its schema up to date.

    The low-level opener: runs and commands that write go through ``writing``, which adds
    the writer lock, the wait for readers and the readers' snapshot.
    """
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


def snapshot_path(path: Path) -> Path:
    """Where readers find the copy of the database made after the last write."""
    return path.with_name(f"{path.stem}.snapshot{path.suffix}")


def lock_path(path: Path) -> Path:
    """The writer lock file beside the database."""
    return path.with_name(f"{path.name}.lock")


@contextmanager
def writing(
    path: Path, wait_seconds: float = 0.0, snapshot: bool = False, lock_wait: float = 0.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one read-write connection of a run or command, closed when the block ends.

    DuckDB lets one process open a file for writing and then no other process may open it
    at all. Two kinds of conflict need different answers: another *writer* (a second
    ``framewatch run``) is refused at once with a clear error, through an advisory lock on
    ``<db>.lock`` that the kernel releases even when a writer is killed; *readers* (a report
    or dashboard request still open) are waited for, up to ``wait_seconds``. With
    ``snapshot`` the database is checkpointed and copied for readers when the block ends, so
    readers never wait for or break a running ingest: they read that copy meanwhile.
    Scheduled runs pass ``lock_wait`` to queue behind a manual writer (a purge) instead of
    failing.
    """
    with writer_lock(path, lock_wait):
        con = _open_waiting(path, wait_seconds)
        try:
            yield con
        except Exception:
            if snapshot:  # what was committed before the failure is consistent: publish it
                _snapshot_quietly(con, path)
            raise
        else:
            if snapshot:  # the run's work is committed: a failed copy must not fail it
                _snapshot_quietly(con, path)
        finally:
            con.close()


@contextmanager
def writer_lock(path: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold ``<db>.lock`` exclusively; refuse with the holder's pid when a writer still has
    it after ``wait_seconds``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _flock_waiting(fd, wait_seconds):
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise DatabaseBusy(
                f"another framewatch run is writing {path} (pid and start: {holder}); two runs"
                " never write at once: wait for it to finish, or look at `framewatch sql` /"
                " the dashboard meanwhile (they read the last snapshot)"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {utc_now().isoformat(timespec='seconds')}Z\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # an empty lock file: no writer (see writer_active)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def writer_active(path: Path) -> bool:
    """Whether a writer holds ``<db>.lock`` now.

    The holder's pid in the file says a writer may hold it; the lock is then tested
    without blocking. A writer killed before emptying the file left a pid that is dead, or
    alive in another process: the test finds no lock. The test is made only when a pid is
    there, since it takes a shared lock for a moment, and a writer starting in that moment
    would think another writer runs.
    """
    try:
        pid = int(lock_path(path).read_text(encoding="utf-8").split(maxsplit=1)[0])
        if pid <= 0:
            return False
        os.kill(pid, 0)
    except PermissionError:  # alive, another user's: test the lock
        pass
    except (OSError, ValueError, IndexError, OverflowError):
        return False
    return _lock_held(lock_path(path))


def _lock_held(lock: Path) -> bool:
    """Whether another open file holds an exclusive flock on ``lock``."""
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the shared lock if it was taken
    return False


def _flock_waiting(fd: int, wait_seconds: float) -> bool:
    """Take the exclusive lock on ``fd``, retrying for ``wait_seconds``; whether it was taken."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(WRITER_POLL_SECONDS)


def _open_waiting(path: Path, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """``open_store``, retried while readers hold the file, for at most ``wait_seconds``."""
    deadline = time.monotonic() + wait_seconds
    warned = False
    while True:
        try:
            return open_store(path)
        except DatabaseBusy as exc:
            if time.monotonic() >= deadline:
                raise DatabaseBusy(
                    f"{path} is held open by another process (a report, the dashboard or"
                    f" `framewatch sql`) for more than {wait_seconds:.0f} s; close it and rerun"
                ) from exc
            if not warned:
                log.warning(
                    "%s is open in another process; waiting up to %.0f s", path, wait_seconds
                )
                warned = True
            time.sleep(WRITER_POLL_SECONDS)


def write_snapshot(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Checkpoint and copy the database for readers; the copy appears whole or not at all.

    The writer still holds the file, so nothing changes it during the copy; the copy is
    written beside and renamed over the old snapshot, which readers that still have it
    open keep reading.
    """
    con.execute("CHECKPOINT")  # everything committed is in the main file, the WAL is empty
    target = snapshot_path(path)
    partial = target.with_name(target.name + ".partial")
    try:
        shutil.copyfile(path, partial)
        os.replace(partial, target)
    except OSError:
        partial.unlink(missing_ok=True)  # a half copy would only fill the disk
        raise
    return target


def _snapshot_quietly(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """``write_snapshot``, logged instead of raised: a failed copy (a full disk) must neither
    fail a run whose work is committed nor hide the error of a run that failed."""
    try:
        write_snapshot(con, path)
    except (duckdb.Error, OSError) as exc:
        log.warning("no snapshot of %s after the failed run: %s", path, exc)


def open_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection for analysts, reports, the dashboard and ``framewatch sql``.

    While a writer runs, readers get the snapshot the last write left (with a warning naming
    its age) instead of a lock error, and never make the writer wait: a writer that holds
    the writer lock may still be waiting for the file's last readers to close, so new
    readers go to the snapshot at once when there is one.
    """
    if not path.exists():
        raise FileNotFoundError(f"no database at {path}: run `framewatch run` or `demo` first")
    snap = snapshot_path(path)
    if not (snap.exists() and writer_active(path)):
        try:
            return duckdb.connect(str(path), read_only=True)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            # IOException: another process writes; ConnectionException: this process does.
            if not isinstance(exc, duckdb.ConnectionException) and "lock" not in str(exc).lower():
                raise
            if not snap.exists():
                raise DatabaseBusy(
                    f"{path} is being written by a running ingest and has no snapshot yet;"
                    " try again when it has finished"
                ) from exc
    log.warning(
        "%s is being written (an ingest, a purge ...): reading the snapshot of %s UTC",
        path,
        datetime.fromtimestamp(snap.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M"),
    )
    return duckdb.connect(str(snap), read_only=True)


def recover_interrupted_runs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Close the rows of runs whose process died (status still 'running'): call under the
    writer lock, where no other run can be alive. Their committed work stays; what they
    did not commit is fetched again, because it is not in the database."""
    rows = con.execute(
        "UPDATE runs SET status = 'failed', note = ? WHERE status = 'running' RETURNING id",
        [INTERRUPTED_NOTE],
    ).fetchall()
    return sorted(r[0] for r in rows)  # finished_at stays NULL: when it died is unknown


def write_rows(
    con: duckdb.DuckDBPyConnection, sql: str, rows: list[dict[str, Any]] | pa.Table
) -> None:
    """Run one INSERT ... SELECT over rows handed to DuckDB as an Arrow table (given as a
    table when nested columns need an explicit schema)."""
    if len(rows) == 0:
        return
    batch = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    con.register("batch", batch)
    try:
        con.execute(sql)
    finally:
        # After a failed statement the transaction is aborted and refuses even this; let
        # the statement's own error through (the rollback drops the registration anyway).
        with suppress(duckdb.TransactionException):
            con.unregister("batch")


def add_annotations(
    con: duckdb.DuckDBPyConnection, notes: Sequence[Annotation], at: datetime | None = None
) -> int:
    """Insert or replace reviewers' corrections (the id decides); return how many.

    ``at`` is when the judgement was made (naive UTC); default now. A review that waited in
    the dashboard's spool keeps the time the reviewer gave it.
    """
    rows = [
        {
            **asdict(a),
            "frame_group": a.group,
            "labels": None if a.labels is None else list(a.labels),
            "created_at": at or utc_now(),
        }
        for a in notes
    ]
    for row in rows:
        row.pop("group")
    with transaction(con):
        write_rows(con, "INSERT OR REPLACE INTO annotations BY NAME SELECT * FROM batch", rows)
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
            "updated_at": utc_now(),
        }
        for s in sources
    ]
    write_rows(con, "INSERT OR REPLACE INTO sources SELECT * FROM batch", rows)


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, sources_file: str) -> None:
    """Record that a run began, so a crash leaves a visible 'running' row."""
    con.execute(
        "INSERT INTO runs (id, started_at, status, sources_file) VALUES (?, ?, 'running', ?)",
        [run_id, utc_now(), sources_file],
    )


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, **counts: Any) -> None:
    """Close a run row with its status and counts."""
    cols = ["finished_at = ?", "status = ?"] + [f"{k} = ?" for k in counts]
    con.execute(
        f"UPDATE runs SET {', '.join(cols)} WHERE id = ?",
        [utc_now(), status, *counts.values(), run_id],
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
            "fetched_at": naive_utc(o.fetched_at),
        }
        for o in outcomes
    ]
    write_rows(con, "INSERT INTO fetch_log SELECT * FROM batch", rows)
    return len(rows)


def store_crawl(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    articles: Sequence[Article],
    outcomes: Sequence[FetchOutcome],
    pages: Sequence[FetchedPage] = (),
    raw_maxsize: int = RAW_MAXSIZE,
    *,
    disable_after: int = DISABLE_AFTER,
) -> list[str]:
    """Store what one run fetched in ONE transaction; return the ids of the new articles.

    The new articles (with their story and signature), the raw HTML of ``pages``, the fetch
    log and the feed states go in together, so a run killed here leaves all of it or none:
    never articles without their log, nor feed validators that claim a fetch whose articles
    were lost. Ids already present are left as they are (the id is a hash of the canonical
    URL, so a rerun inserts nothing). A new article whose text another one already carries
    is linked to it (``duplicate_of``); one that is a near copy joins its story; both are
    noted in the log. ``counted`` needs no refresh here: new articles are not classified
    yet (so not migration articles, counted false), and no stored article changes story.
    """
    rows = _new_article_rows(con, articles, run_id)
    stories, signatures = _plan_stories(con, [_signed(r) for r in rows])
    article_ids = {a.url: a.id for a in articles}
    keys = [*_article_keys(articles), *_page_keys(pages)]
    with transaction(con):
        _insert_articles(con, rows, stories, signatures)
        _save_raw_pages(con, pages, article_ids, raw_maxsize, run_id)
        _write_keys(con, keys)
        new_ids = [r["id"] for r in rows]
        log_fetches(con, run_id, [*outcomes, *_copy_notes(con, new_ids)])
        _update_feed_states(con, outcomes, utc_now(), disable_after)
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
            published_at=naive_utc(a.published_at),
            fetched_at=naive_utc(a.fetched_at),
            run_id=run_id,
        )
        rows.append(row)
    return rows


def _insert_articles(
    con: duckdb.DuckDBPyConnection,
    rows: list[dict[str, Any]],
    stories: Mapping[str, str],
    signatures: pa.Table,
) -> None:
    """Insert new article rows with their stories and signatures, then link exact copies."""
    for row in rows:
        row["story_id"] = stories.get(row["id"], row["id"])
    write_rows(con, _ARTICLE_INSERT, rows)
    write_rows(con, "INSERT OR REPLACE INTO article_signatures SELECT * FROM batch", signatures)
    if rows:
        _mark_duplicates(con)
        _exact_copy_stories(con, [r["id"] for r in rows])


def _copy_notes(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[FetchOutcome]:
    """Fetch-log notes for new articles that copy a stored text or story."""
    return [*_duplicate_notes(con, ids), *_story_notes(con, ids)]


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
        _note(src, url, at, f"same text as {other_url} ({other_src}): syndicated copy")
        for src, url, at, other_src, other_url in rows
    ]


def _story_notes(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[FetchOutcome]:
    """Fetch-log notes for new articles that are near copies of an earlier story."""
    if not ids:
        return []
    rows = con.execute(
        "SELECT a.source_id, a.url, a.fetched_at, s.source_id, s.url FROM articles a"
        " JOIN articles s ON s.id = a.story_id"
        " WHERE a.id IN ? AND a.story_id <> a.id AND a.duplicate_of IS NULL",
        [list(ids)],
    ).fetchall()
    return [
        _note(src, url, at, f"near-duplicate of {other_url} ({other_src}): same story")
        for src, url, at, other_src, other_url in rows
    ]


def _note(source_id: str, url: str, at: datetime, note: str) -> FetchOutcome:
    """A fetch-log note on an article page that was fetched and stored."""
    return FetchOutcome(source_id, url, "article", 200, None, as_utc(at), note=note)


def known_keys(con: duckdb.DuckDBPyConnection, source_ids: Collection[str]) -> frozenset[str]:
    """Keys (``urls.url_key``) of every URL form these outlets' stored articles and raw
    pages carry: as announced, as fetched, canonical.

    The crawler skips a link whose ``url_key`` is among them, so a rerun fetches nothing
    twice even where feed links redirect, and a page whose extraction failed is not fetched
    again either: its HTML is in raw_pages, and ``framewatch reextract`` retries it from
    there. The keys are written with the rows (``url_keys``); rows stored before that
    table existed are keyed here, once.
    """
    backfill_url_keys(con)
    rows = con.execute(
        "SELECT DISTINCT key FROM url_keys WHERE source_id IN ?", [sorted(source_ids)]
    ).fetchall()
    return frozenset(r[0] for r in rows)


def backfill_url_keys(con: duckdb.DuckDBPyConnection, batch: int = KEY_BACKFILL_BATCH) -> int:
    """Key the articles and raw pages that have no url_keys rows yet; return how many.

    A row counts as keyed when its own key (articles.id, raw_pages.url_id) is stored for
    its outlet, which every write through this module does; so this finds only rows written
    before url_keys existed (or outside the store), and a second call finds nothing. Works
    ``batch`` rows per transaction, so memory stays bounded and an interrupted backfill
    resumes where it stopped.
    """
    done = 0
    for query, to_keys in (
        (_UNKEYED_ARTICLES, _article_row_keys),
        (_UNKEYED_PAGES, _page_row_keys),
    ):
        while rows := con.execute(query, [batch]).fetchall():
            with transaction(con):
                _write_keys(con, [k for row in rows for k in to_keys(row)])
            done += len(rows)
    if done:
        log.info("keyed %d stored articles and raw pages for the crawler", done)
    return done


_UNKEYED_ARTICLES = """
SELECT id, source_id, url, requested_url, canonical_url FROM articles a
WHERE NOT EXISTS (SELECT 1 FROM url_keys k WHERE k.key = a.id AND k.source_id = a.source_id)
LIMIT ?
"""
_UNKEYED_PAGES = """
SELECT url_id, source_id, url, requested_url FROM raw_pages r
WHERE NOT EXISTS (SELECT 1 FROM url_keys k WHERE k.key = r.url_id AND k.source_id = r.source_id)
LIMIT ?
"""

Key = tuple[str, str]  # (url_keys.key, source_id)


def _article_row_keys(row: tuple[Any, ...]) -> list[Key]:
    """url_keys of an articles row (id, source_id, url, requested_url, canonical_url)."""
    article_id, source_id, *urls = row
    return [(article_id, source_id), *((url_key(u), source_id) for u in urls if u)]


def _page_row_keys(row: tuple[Any, ...]) -> list[Key]:
    """url_keys of a raw_pages row (url_id, source_id, url, requested_url)."""
    page_id, source_id, *urls = row
    return [(page_id, source_id), *((url_key(u), source_id) for u in urls if u)]


def _article_keys(articles: Iterable[Article]) -> list[Key]:
    """url_keys of articles about to be stored."""
    return [
        k
        for a in articles
        for k in _article_row_keys((a.id, a.source_id, a.url, a.requested_url, a.canonical_url))
    ]


def _page_keys(pages: Iterable[FetchedPage]) -> list[Key]:
    """url_keys of raw pages about to be stored."""
    return [
        k
        for p in pages
        for k in _page_row_keys((url_id(p.url), p.source_id, p.url, p.requested_url))
    ]


def _write_keys(con: duckdb.DuckDBPyConnection, keys: Iterable[Key]) -> None:
    """Add keys to url_keys (those already there are left alone), in the caller's
    transaction."""
    rows = [{"key": k, "source_id": src} for k, src in dict.fromkeys(keys)]
    write_rows(con, "INSERT OR IGNORE INTO url_keys SELECT key, source_id FROM batch", rows)


_ARTICLE_INSERT = """
INSERT INTO articles (id, url, requested_url, canonical_url, source_id, lang, declared_lang,
                      title, text, author, published_at, date_source, fetched_at,
                      content_hash, run_id, story_id)
SELECT id, url, requested_url, canonical_url, source_id, lang, declared_lang, title, text,
       author, published_at, date_source, fetched_at, content_hash, run_id, story_id
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


def _exact_copy_stories(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> None:
    """An exact copy belongs to the story of the text's first article.

    Signatures find long copies anyway; this also covers texts too short for a signature.
    """
    con.execute(
        """
        UPDATE articles SET story_id = d.story
        FROM (SELECT id, coalesce(story_id, id) AS story FROM articles) AS d
        WHERE articles.duplicate_of = d.id AND articles.id IN ?
          AND articles.story_id IS DISTINCT FROM d.story
        """,
        [list(ids)],
    )


# --- counted: one article per story and outlet ---------------------------------------------

# Which article of each (outlet, story) trend figures count: the first migration article by
# fetched_at, then id. Migration 007 backfilled articles.counted with this window (its SQL
# is frozen once released); the store keeps its own copy, and tests/pipeline/test_counted.py
# checks that a full refresh after the migration changes nothing. Every article not about
# migration is false (its own partition, never first).
_COUNTED_SELECT = """
SELECT a.id,
       a.is_migration IS TRUE
       AND row_number() OVER (PARTITION BY a.source_id, coalesce(a.story_id, a.id),
                                           a.is_migration IS TRUE
                              ORDER BY a.fetched_at, a.id) = 1 AS counted
FROM articles a {join}
"""
_COUNTED_UPDATE = """
UPDATE articles SET counted = r.counted
FROM ({select}) AS r
WHERE articles.id = r.id AND articles.counted IS DISTINCT FROM r.counted
"""
_GROUP_JOIN = "JOIN batch g ON g.source_id = a.source_id AND g.story = coalesce(a.story_id, a.id)"


def refresh_counted(con: duckdb.DuckDBPyConnection, ids: Sequence[str] | None = None) -> None:
    """Recompute articles.counted for the (outlet, story) groups of ``ids`` (all when None).

    Stored rather than computed in the view so that a period filter reaches the table (a
    window over the whole history made a report take half a minute on 2 million
    articles). Call it inside the transaction of the write that changed membership
    (is_migration, story_id) or order, so readers never see the two disagree; a batch
    touches only its own groups, so classifying 64 articles stays cheap on a large store.
    A write that moves articles between stories passes the groups from before the write
    too (``_counted_groups`` then ``_refresh_groups``).
    """
    if ids is None:
        con.execute(_COUNTED_UPDATE.format(select=_COUNTED_SELECT.format(join="")))
        return
    _refresh_groups(con, _counted_groups(con, ids))


def _counted_groups(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[tuple[str, str]]:
    """The (source_id, story) groups the articles ``ids`` belong to now."""
    if not ids:
        return []
    rows = con.execute(
        "SELECT DISTINCT source_id, coalesce(story_id, id) FROM articles WHERE id IN ?",
        [list(ids)],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _refresh_groups(con: duckdb.DuckDBPyConnection, groups: Sequence[tuple[str, str]]) -> None:
    """refresh_counted for these (source_id, story) groups."""
    rows = [{"source_id": src, "story": story} for src, story in dict.fromkeys(groups)]
    select = _COUNTED_SELECT.format(join=_GROUP_JOIN)
    write_rows(con, _COUNTED_UPDATE.format(select=select), rows)


# --- near-duplicate stories ---------------------------------------------------------------

_SIGNATURE_SCHEMA = pa.schema([("article_id", pa.string()), ("minhash", pa.list_(pa.uint32()))])


def _signed(row: Mapping[str, Any]) -> dedup.Signed:
    """A new article row as story assignment sees it (naive UTC fetched_at)."""
    return dedup.Signed(row["id"], naive_utc(row["fetched_at"]), dedup.signature(row["text"]))


def _plan_stories(
    con: duckdb.DuckDBPyConnection, new: Sequence[dedup.Signed]
) -> tuple[dict[str, str], pa.Table]:
    """The story of each article in ``new``, and the signatures to store.

    ``new``: articles to place in a story (new ones, or stored ones whose story is redone);
    they are no candidates themselves. Reads only, so the CPU work happens before the
    write transaction. Candidates are the stored articles fetched from ``dedup.WINDOW_DAYS``
    before the earliest new one up to the latest new one (an article never joins a story
    that began after it; ``dedup.assign_stories`` checks each pair); a candidate without
    a signature (stored before migration 003) gets one now, stored with the rest.
    """
    if not new:
        return {}, _signature_table([])
    since = min(a.fetched_at for a in new) - dedup.WINDOW
    until = max(a.fetched_at for a in new)
    ids = {a.id for a in new}
    signed = [c for c in _signed_candidates(con, since, until) if c.id not in ids]
    unsigned = [c for c in _unsigned_candidates(con, since, until) if c.id not in ids]
    stories = dedup.assign_stories([*signed, *unsigned], new)
    return stories, _signature_table([*new, *unsigned])


def _signed_candidates(
    con: duckdb.DuckDBPyConnection, since: datetime, until: datetime
) -> list[dedup.Signed]:
    """Stored articles fetched from ``since`` to ``until`` that have a current signature."""
    table = con.sql(
        "SELECT a.id, a.fetched_at, coalesce(a.story_id, a.id) AS story_id, s.minhash"
        " FROM articles a JOIN article_signatures s ON s.article_id = a.id"
        " WHERE a.fetched_at >= ? AND a.fetched_at <= ? AND len(s.minhash) = ?",
        params=[since, until, dedup.NUM_PERM],
    ).to_arrow_table()
    # One numpy matrix for all signatures instead of a Python list per row.
    matrix = pc.list_flatten(table["minhash"]).to_numpy().reshape(-1, dedup.NUM_PERM)
    ids, times, stories = (table[c].to_pylist() for c in ("id", "fetched_at", "story_id"))
    return [dedup.Signed(ids[n], times[n], matrix[n], stories[n]) for n in range(len(ids))]


def _unsigned_candidates(
    con: duckdb.DuckDBPyConnection, since: datetime, until: datetime
) -> list[dedup.Signed]:
    """Stored articles fetched from ``since`` to ``until`` without a signature (or one of
    another size), signed now."""
    rows = con.execute(
        "SELECT a.id, a.fetched_at, coalesce(a.story_id, a.id), a.text FROM articles a"
        " LEFT JOIN article_signatures s ON s.article_id = a.id"
        " WHERE a.fetched_at >= ? AND a.fetched_at <= ?"
        "   AND (s.article_id IS NULL OR (s.minhash IS NOT NULL AND len(s.minhash) <> ?))",
        [since, until, dedup.NUM_PERM],
    ).fetchall()
    return [dedup.Signed(i, at, dedup.signature(text), story) for i, at, story, text in rows]


def _signature_table(articles: Sequence[dedup.Signed]) -> pa.Table:
    """article_signatures rows (NULL minhash: too short to sign)."""
    rows = [
        {"article_id": a.id, "minhash": None if a.signature is None else a.signature.tolist()}
        for a in articles
    ]
    return pa.Table.from_pylist(rows, schema=_SIGNATURE_SCHEMA)


# --- raw HTML -----------------------------------------------------------------------------

_RAW_SCHEMA = pa.schema(
    [
        ("url_id", pa.string()),
        ("url", pa.string()),
        ("requested_url", pa.string()),
        ("source_id", pa.string()),
        ("encoding", pa.string()),
        ("fetched_at", pa.timestamp("us")),
        ("feed_title", pa.string()),
        ("feed_published", pa.timestamp("us")),
        ("html_bytes", pa.int64()),
        ("html_gz", pa.binary()),
        ("dropped", pa.string()),
        ("article_id", pa.string()),
        ("run_id", pa.string()),
    ]
)


def url_id(url: str) -> str:
    """raw_pages key: sha1 of the fetched URL, 16 hex digits (like articles.id)."""
    return hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def save_raw_pages(
    con: duckdb.DuckDBPyConnection,
    pages: Sequence[FetchedPage],
    article_ids: Mapping[str, str],
    maxsize: int,
    run_id: str | None = None,
) -> int:
    """Store the raw HTML of fetched pages, compressed, in one transaction; return how many.

    ``article_ids`` maps a page URL to the article it yielded (absent: extraction failed).
    A page already stored (a refetch, a rerun) is replaced, unless the stored row yielded
    an article and kept its body while the new fetch did not (over ``maxsize``, failed
    extraction, an empty body): a refetch never loses good HTML. HTML larger than
    ``maxsize`` bytes is recorded without its body, with the reason in ``dropped``. A run
    stores its pages through ``store_crawl`` instead, in the run's one transaction.
    """
    with transaction(con):
        return _save_raw_pages(con, pages, article_ids, maxsize, run_id)


def _save_raw_pages(
    con: duckdb.DuckDBPyConnection,
    pages: Sequence[FetchedPage],
    article_ids: Mapping[str, str],
    maxsize: int,
    run_id: str | None,
) -> int:
    """save_raw_pages inside the caller's transaction."""
    latest = {url_id(p.url): p for p in pages}  # one row per URL: the last fetch wins
    good = _good_pages(con, list(latest))
    unique = [
        p
        for key, p in latest.items()
        if key not in good or _is_good(p, article_ids.get(p.url), maxsize)
    ]
    for start in range(0, len(unique), RAW_WRITE_BATCH):
        rows = [
            _raw_row(p, article_ids.get(p.url), maxsize, run_id)
            for p in unique[start : start + RAW_WRITE_BATCH]
        ]
        table = pa.Table.from_pylist(rows, schema=_RAW_SCHEMA)
        write_rows(con, "INSERT OR REPLACE INTO raw_pages BY NAME SELECT * FROM batch", table)
    return len(unique)


def _good_pages(con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> set[str]:
    """The url_ids among ``keys`` stored with an article and a body."""
    if not keys:
        return set()
    rows = con.execute(
        "SELECT url_id FROM raw_pages"
        " WHERE url_id IN ? AND article_id IS NOT NULL AND html_gz IS NOT NULL",
        [list(keys)],
    ).fetchall()
    return {r[0] for r in rows}


def _is_good(page: FetchedPage, article_id: str | None, maxsize: int) -> bool:
    """A fetch worth keeping: it yielded an article and has a body within ``maxsize``."""
    size = len(page.html.encode("utf-8", "surrogatepass"))
    return article_id is not None and bool(page.html.strip()) and size <= maxsize


def _raw_row(
    page: FetchedPage, article_id: str | None, maxsize: int, run_id: str | None
) -> dict[str, Any]:
    """One raw_pages row; the HTML is kept as UTF-8 (surrogatepass: any str round-trips)."""
    data = page.html.encode("utf-8", "surrogatepass")
    kept = len(data) <= maxsize
    return {
        "url_id": url_id(page.url),
        "url": page.url,
        "requested_url": page.requested_url,
        "source_id": page.source_id,
        "encoding": page.encoding,
        "fetched_at": naive_utc(page.fetched_at),
        "feed_title": page.feed_title,
        "feed_published": naive_utc(page.feed_published),
        "html_bytes": len(data),
        "html_gz": gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0) if kept else None,
        "dropped": None if kept else f"larger than raw_html_maxsize ({maxsize} bytes)",
        "article_id": article_id,
        "run_id": run_id,
    }


# Keys first, bodies after: a query that reads html_gz of every matching row before its
# ORDER BY / LIMIT decompresses nothing but still moves every body through the sort.
_RAW_KEYS = """
SELECT url_id FROM raw_pages
WHERE url_id > ? AND dropped IS NULL
  AND (?::VARCHAR IS NULL OR source_id = ?)
  AND (?::TIMESTAMP IS NULL OR fetched_at >= ?)
  AND (NOT ? OR article_id IS NULL)
ORDER BY url_id
LIMIT ?
"""
_RAW_SELECT = """
SELECT url_id, source_id, url, requested_url, html_gz, encoding, fetched_at, feed_title,
       feed_published
FROM raw_pages
WHERE url_id IN ? AND html_gz IS NOT NULL
ORDER BY url_id
"""


def raw_pages(
    con: duckdb.DuckDBPyConnection,
    source_id: str | None = None,
    since: datetime | None = None,
    batch: int = 200,
    *,
    failed_only: bool = False,
) -> Iterator[list[FetchedPage]]:
    """The stored pages (HTML decompressed), ``batch`` at a time, for ``framewatch reextract``.

    Pages are read by key ranges (keyset pagination: the batch's keys first, then their
    bodies), one pair of queries per batch, so the caller may write (e.g.
    ``update_reextracted``) on the same connection between batches. ``failed_only``: only
    pages that yielded no article. Pages whose HTML was dropped are left out.
    """
    after, when = "", naive_utc(since)
    while True:
        keys = [
            r[0]
            for r in con.execute(
                _RAW_KEYS, [after, source_id, source_id, when, when, failed_only, batch]
            ).fetchall()
        ]
        if not keys:
            return
        rows = con.execute(_RAW_SELECT, [keys]).fetchall()
        if rows:
            yield [_page(row) for row in rows]
        after = keys[-1]


def _page(row: tuple[Any, ...]) -> FetchedPage:
    """A FetchedPage from a _RAW_SELECT row (times as aware UTC, like the crawler's)."""
    _, source_id, url, requested, html_gz, encoding, fetched_at, title, published = row
    return FetchedPage(
        source_id=source_id,
        url=url,
        requested_url=requested,
        html=gzip.decompress(html_gz).decode("utf-8", "surrogatepass"),
        encoding=encoding,
        fetched_at=as_utc(fetched_at),
        feed_title=title,
        feed_published=as_utc(published),
    )


def purge_raw_pages(con: duckdb.DuckDBPyConnection, older_than: datetime) -> int:
    """Drop the HTML of pages fetched before ``older_than``; return how many were dropped.

    Retention (``raw_html_retention_days``): the rows stay, with their metadata and article
    link, so the record of what was fetched survives; only the bodies go.
    """
    cutoff = naive_utc(older_than)
    with transaction(con):
        rows = con.execute(
            "UPDATE raw_pages SET html_gz = NULL, dropped = ?"
            " WHERE fetched_at < ? AND html_gz IS NOT NULL",
            [f"retention: fetched before {cutoff:%Y-%m-%d %H:%M}", cutoff],
        ).fetchall()
    return int(rows[0][0]) if rows else 0


# --- re-extraction ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReextractCounts:
    """What ``update_reextracted`` did."""

    updated: int  # stored articles rewritten in place
    reset: int  # of those, whose title, text or language changed: classification reset
    inserted: int  # articles stored for the first time (their page had failed extraction)


def update_reextracted(
    con: duckdb.DuckDBPyConnection, articles: Sequence[Article], run_id: str
) -> ReextractCounts:
    """Store the articles a new extraction of stored raw pages produced, in one transaction.

    A page that yielded an article before updates that article in place, under its old id
    even where the new extraction reads another canonical URL (a fixed extractor): the
    article is not duplicated under a new id. Stored articles are updated in place (title,
    text, author, date, language, canonical URL, hash). The classifier reads title, text and
    language (models/classify.py puts the title in the lead), so when one of those changed
    the article's classification is reset and the next classify pass redoes it; otherwise
    it stands. New ids (pages that failed extraction before) are inserted as a crawl would
    insert them.

    An article whose text changed is placed in a story again, like a new article (its old
    story and signature say nothing about the new text); so are the other members of a
    story it was the first article of, since that story's name no longer describes them.
    """
    unique = list({a.id: a for a in _under_page_ids(con, articles)}.values())
    dropped = _dropped_ids(con, [a.id for a in unique])
    unique = [a for a in unique if a.id not in dropped]  # a dropped text never comes back
    stored = _stored_inputs(con, [a.id for a in unique])
    existing = [a for a in unique if a.id in stored]
    changed = [a for a in existing if (a.title, a.text, a.lang) != stored[a.id][:3]]
    retold = {a.id: a.text for a in existing if a.text != stored[a.id][1]}
    rows = _new_article_rows(con, unique, run_id)
    restoried = [
        dedup.Signed(i, at, dedup.signature(retold.get(i, text)))
        for i, at, text in _story_members(con, [*retold], stored)
    ]
    stories, signatures = _plan_stories(con, [*restoried, *(_signed(r) for r in rows)])
    keys = _article_keys(unique)
    touched = [*(a.id for a in unique), *(a.id for a in restoried)]
    with transaction(con):
        # The groups these articles leave lose a member, the ones they join gain one.
        before = _counted_groups(con, touched)
        write_rows(con, _REEXTRACT_UPDATE, [_reextract_row(a) for a in existing])
        _reset_classification(con, [a.id for a in changed])
        write_rows(
            con,
            "UPDATE articles SET story_id = b.story_id FROM batch AS b WHERE articles.id = b.id",
            [{"id": a.id, "story_id": stories[a.id]} for a in restoried],
        )
        _insert_articles(con, rows, stories, signatures)
        _relink_duplicates(con)
        _exact_copy_stories(con, [*(a.id for a in restoried), *(r["id"] for r in rows)])
        _link_raw_pages(con, unique)
        _write_keys(con, keys)
        _refresh_groups(con, [*before, *_counted_groups(con, touched)])
    return ReextractCounts(len(existing), len(changed), len(rows))


def _dropped_ids(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> set[str]:
    """The ids among ``ids`` whose text retention or a purge dropped."""
    rows = con.execute(
        "SELECT id FROM articles WHERE list_contains(?, id) AND text_dropped_at IS NOT NULL",
        [list(ids)],
    ).fetchall()
    return {r[0] for r in rows}


def _under_page_ids(con: duckdb.DuckDBPyConnection, articles: Sequence[Article]) -> list[Article]:
    """The articles, each under the id its page yielded before (when it yielded one)."""
    if not articles:
        return []
    rows = con.execute(
        "SELECT url_id, article_id FROM raw_pages WHERE url_id IN ? AND article_id IS NOT NULL",
        [[url_id(a.url) for a in articles]],
    ).fetchall()
    before = dict(rows)
    return [replace(a, id=before.get(url_id(a.url), a.id)) for a in articles]


def _stored_inputs(
    con: duckdb.DuckDBPyConnection, ids: Sequence[str]
) -> dict[str, tuple[str, str, str, datetime]]:
    """(title, text, lang, fetched_at) of the stored articles among ``ids``; the first three
    are what the classifier read."""
    rows = con.execute(
        "SELECT id, title, text, lang, fetched_at FROM articles WHERE id IN ?", [list(ids)]
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def _story_members(
    con: duckdb.DuckDBPyConnection,
    ids: Sequence[str],
    stored: Mapping[str, tuple[str, str, str, datetime]],
) -> list[tuple[str, datetime, str]]:
    """(id, fetched_at, stored text) of the articles ``ids`` and of the other members of
    the stories they are the first article of."""
    if not ids:
        return []
    members = con.execute(
        "SELECT id, fetched_at, text FROM articles WHERE story_id IN ? AND id NOT IN ?",
        [list(ids), list(ids)],
    ).fetchall()
    return [*((i, stored[i][3], stored[i][1]) for i in ids), *members]


def _reextract_row(a: Article) -> dict[str, Any]:
    """The fields a re-extraction may change."""
    return {
        "id": a.id,
        "canonical_url": a.canonical_url,
        "title": a.title,
        "text": a.text,
        "author": a.author,
        "published_at": naive_utc(a.published_at),
        "date_source": a.date_source,
        "lang": a.lang,
        "content_hash": a.content_hash,
    }


_REEXTRACT_UPDATE = """
UPDATE articles SET canonical_url = b.canonical_url, title = b.title, text = b.text,
       author = b.author,
       published_at = b.published_at, date_source = b.date_source, lang = b.lang,
       content_hash = b.content_hash
FROM batch AS b WHERE articles.id = b.id
"""

CLASSIFICATION_TABLES = ("article_frames", "article_terms", "article_evidence", "article_quotes")


def _reset_classification(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> None:
    """Forget the classification of these articles, so the next classify pass redoes them."""
    if not ids:
        return
    for table in CLASSIFICATION_TABLES:
        con.execute(f"DELETE FROM {table} WHERE article_id IN ?", [list(ids)])
    con.execute(
        "UPDATE articles SET migration_score = NULL, is_migration = NULL, hostile_score = NULL,"
        " frame_group = NULL, model_version = NULL, classified_at = NULL WHERE id IN ?",
        [list(ids)],
    )


def _relink_duplicates(con: duckdb.DuckDBPyConnection) -> None:
    """Unlink copies whose text no longer matches their original, then link copies anew."""
    con.execute(
        """
        UPDATE articles SET duplicate_of = NULL
        FROM (SELECT id, content_hash FROM articles) AS d
        WHERE articles.duplicate_of = d.id AND articles.content_hash <> d.content_hash
        """
    )
    _mark_duplicates(con)


def _link_raw_pages(con: duckdb.DuckDBPyConnection, articles: Sequence[Article]) -> None:
    """Point each raw page at the article its extraction yielded."""
    rows = [{"url_id": url_id(a.url), "article_id": a.id} for a in articles]
    write_rows(
        con,
        "UPDATE raw_pages SET article_id = b.article_id FROM batch AS b"
        " WHERE raw_pages.url_id = b.url_id",
        rows,
    )


# --- retries ------------------------------------------------------------------------------

# Errors worth another try soon (docs/sources.md, "What the fetch log says"): a server error
# or overload, a timeout, a refused or cut connection. A 404, a robots.txt rule or a page
# that is too large fails the same way next time.
TRANSIENT_ERROR = r"^(HTTP (5[0-9][0-9]|408|429)$|timeout: |connection failed: )"


def sources_needing_full_fetch(con: duckdb.DuckDBPyConnection, since: datetime) -> frozenset[str]:
    """Outlets with an article page that failed transiently since ``since`` and has not been
    stored (as an article or a raw page) since it failed.

    Their feeds are then fetched without validators (``feeds.plan_polls``): a feed that
    answers 304 lists no links, so the failed pages would not be tried again until the
    feed changed.
    """
    rows = con.execute(
        """
        SELECT DISTINCT f.source_id FROM fetch_log f
        WHERE f.kind = 'article' AND f.fetched_at >= ? AND regexp_matches(f.error, ?)
          AND NOT EXISTS (SELECT 1 FROM articles a
                          WHERE a.source_id = f.source_id AND a.fetched_at >= f.fetched_at
                            AND (a.url = f.url OR a.requested_url = f.url))
          AND NOT EXISTS (SELECT 1 FROM raw_pages r
                          WHERE r.source_id = f.source_id AND r.fetched_at >= f.fetched_at
                            AND (r.url = f.url OR r.requested_url = f.url))
        """,
        [naive_utc(since), TRANSIENT_ERROR],
    ).fetchall()
    return frozenset(r[0] for r in rows if r[0] is not None)


# --- feed state ---------------------------------------------------------------------------


def feed_states(con: duckdb.DuckDBPyConnection) -> dict[str, FeedState]:
    """What earlier runs learnt about each feed, sitemap and home page URL, by URL.

    Times are aware UTC.
    """
    rows = con.execute(
        "SELECT url, source_id, etag, last_modified, last_full_fetch, last_success,"
        " consecutive_failures, disabled_at, last_attempt, last_error FROM feed_state"
    ).fetchall()
    return {row[0]: _feed_state(row) for row in rows}


def _feed_state(row: tuple[Any, ...]) -> FeedState:
    """A FeedState from a feed_state row."""
    url, source_id, etag, modified, full, success, failures, disabled, attempt, error = row
    return FeedState(
        url,
        source_id,
        etag,
        modified,
        as_utc(full),
        as_utc(success),
        failures,
        as_utc(disabled),
        last_attempt=as_utc(attempt),
        last_error=error,
    )


def update_feed_states(
    con: duckdb.DuckDBPyConnection,
    outcomes: Sequence[FetchOutcome],
    now: datetime,
    disable_after: int,
) -> None:
    """Fold a run's home page, feed and sitemap outcomes into feed_state (one transaction).

    See ``feeds.next_state`` for the transitions; a skipped poll changes nothing. A run
    does this inside ``store_crawl``'s transaction instead.
    """
    with transaction(con):
        _update_feed_states(con, outcomes, now, disable_after)


def _update_feed_states(
    con: duckdb.DuckDBPyConnection,
    outcomes: Sequence[FetchOutcome],
    now: datetime,
    disable_after: int,
) -> None:
    """update_feed_states inside the caller's transaction."""
    polled = [o for o in outcomes if o.kind in feeds.POLLED_KINDS and not feeds.is_skipped(o)]
    if not polled:
        return
    states = feed_states(con)
    for o in sorted(polled, key=lambda o: as_utc(o.fetched_at)):
        states[o.url] = feeds.next_state(states.get(o.url), o, disable_after)
    urls = dict.fromkeys(o.url for o in polled)
    rows = [_feed_state_row(states[url], now) for url in urls]
    write_rows(con, "INSERT OR REPLACE INTO feed_state BY NAME SELECT * FROM batch", rows)


def _feed_state_row(state: FeedState, now: datetime) -> dict[str, Any]:
    """A feed_state row (naive UTC times)."""
    row = {k: naive_utc(v) if isinstance(v, datetime) else v for k, v in asdict(state).items()}
    row["updated_at"] = naive_utc(now)
    return row


def articles_to_classify(
    con: duckdb.DuckDBPyConnection, model_version: str
) -> list[tuple[str, str, str, str]]:
    """(id, lang, title, text) of articles not yet classified by this model version.

    Articles whose text was dropped (retention, purge) keep the classification they had: a
    new model would judge them by their headline alone and change old figures.
    """
    return con.execute(
        f"SELECT id, lang, title, text FROM articles WHERE {PENDING} ORDER BY id",
        [model_version],
    ).fetchall()


def count_pending(con: duckdb.DuckDBPyConnection, model_version: str) -> int:
    """Articles ``articles_to_classify`` would return."""
    rows = con.execute(f"SELECT count(*) FROM articles WHERE {PENDING}", [model_version]).fetchall()
    return int(rows[0][0])


def save_framings(con: duckdb.DuckDBPyConnection, framings: Sequence[Framing]) -> None:
    """Replace the classification of these articles in one transaction."""
    if not framings:
        return
    ids = [f.article_id for f in framings]
    now = utc_now()
    with transaction(con):
        for table in ("article_frames", "article_terms", "article_evidence", "article_quotes"):
            con.execute(f"DELETE FROM {table} WHERE article_id IN ?", [ids])
        write_rows(
            con, "INSERT INTO article_frames BY NAME SELECT * FROM batch", _frame_rows(framings)
        )
        write_rows(
            con, "INSERT INTO article_terms BY NAME SELECT * FROM batch", _term_rows(framings)
        )
        write_rows(
            con,
            "INSERT INTO article_evidence BY NAME SELECT * FROM batch",
            _evidence_table(framings),
        )
        write_rows(
            con, "INSERT INTO article_quotes BY NAME SELECT * FROM batch", _quote_rows(framings)
        )
        write_rows(
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
        # The stories stay; only which of their articles are migration articles changes.
        refresh_counted(con, ids)


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
