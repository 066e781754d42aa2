"""Reviewers' corrections: read from JSONL, checked against the label set, stored in DuckDB.

A trainer or analyst who disagrees with a label writes the corrected line in the same format
as an evaluation dataset; ``framewatch annotate`` imports it and ``framewatch train`` learns
from it next time. Fields left out were not judged.

The dashboard's review form makes the same corrections one article at a time (``Review``).
When a running ingest holds the database, a review waits in a spool file next to it and is
stored by the next review that finds the database free, or by ``framewatch annotate`` /
``train`` (``import_spooled_reviews``). The spool is plain JSON lines under a file lock: a
line that cannot be read (a crash mid-write, a hand edit) is moved to ``<spool>.rejected``
and logged, and never holds back the lines after it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from models.labels import load_labels
from models.metrics import GROUPS
from pipeline.records import Annotation
from pipeline.store import DatabaseBusy, add_annotations, writing
from pipeline.timeutil import naive_utc

log = logging.getLogger(__name__)


def parse_annotation(row: dict[str, Any], reviewer: str, where: str) -> Annotation:
    """One JSON line as an Annotation; unknown labels or groups are refused with the line."""
    codes = set(load_labels().codes)
    labels = row.get("labels")
    if labels is not None and not isinstance(labels, list):
        raise ValueError(f"{where}: labels must be a list")
    if labels is not None and not set(labels) <= codes:
        raise ValueError(f"{where}: unknown labels {sorted(set(labels) - codes)}")
    group = row.get("group")
    if group is not None and group not in GROUPS:
        raise ValueError(f"{where}: group must be one of {', '.join(GROUPS)}")
    if not str(row.get("text", "")).strip():
        raise ValueError(f"{where}: no text")
    if not row.get("id"):
        raise ValueError(f"{where}: no id (a stable id lets a later file correct this line)")
    try:
        migration, hostile = _opt_bool(row.get("migration")), _opt_bool(row.get("hostile"))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    return Annotation(
        id=str(row["id"]),
        reviewer=str(row.get("reviewer") or reviewer or "unknown"),
        text=str(row["text"]),
        lang=str(row.get("lang") or "xx"),
        article_id=row.get("article_id"),
        migration=migration,
        group=group,
        labels=None if labels is None else tuple(labels),
        hostile=hostile,
        note=str(row.get("note") or ""),
    )


def _opt_bool(value: Any) -> bool | None:
    """None stays None (not judged); only JSON true/false are judgements."""
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"expected true, false or null, got {value!r}")


def read_annotations(path: Path, reviewer: str = "") -> list[Annotation]:
    """Every non-empty line of a corrections file; a bad line stops the import, named."""
    out: dict[str, Annotation] = {}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                note = parse_annotation(json.loads(line), reviewer, f"{path.name}:{number}")
                if note.id in out:
                    raise ValueError(f"{path.name}:{number}: id {note.id!r} repeated")
                out[note.id] = note
    return list(out.values())


@dataclass(frozen=True)
class Review:
    """One reviewer's judgement of one article in the dashboard.

    Only the judgement travels (it is what may have to wait in the spool); the text it
    applies to is read from the article when the review is stored. ``at`` is when the
    reviewer made it (naive UTC), so a review that waited is stored with its own time.
    """

    article_id: str
    reviewer: str
    migration: bool
    labels: tuple[str, ...]
    note: str = ""
    at: datetime | None = None

    @property
    def id(self) -> str:
        """Stable per article and reviewer: a second review by the same person replaces the
        first, while two reviewers' judgements stay side by side."""
        who = hashlib.sha1(self.reviewer.strip().casefold().encode()).hexdigest()[:12]
        return f"review-{self.article_id}-{who}"


MAX_NOTE = 2000


def check_review(review: Review) -> Review:
    """The review if it names a reviewer and only known labels; ValueError otherwise."""
    if not review.reviewer.strip():
        raise ValueError("a review needs the reviewer's name")
    unknown = set(review.labels) - set(load_labels().codes)
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}")
    if len(review.note) > MAX_NOTE:
        raise ValueError(f"the note is longer than {MAX_NOTE} characters")
    return review


# The evidence sentences of an article's assigned frames plus any frames listed in the second
# parameter: the dashboard highlights the assigned ones (an empty list), and a review is
# stored on the sentences of the frames the model assigned and those the reviewer ticked, so
# a correction that adds a frame is not stored on another frame's sentences only. Every
# label has a best sentence; only assigned (or judged) ones are shown, or a label scored
# 0.02 would mark most of the text.
EVIDENCE_SQL = """
SELECT e.frame, e.rank, e.score, e.sentence, e.start_char, e.end_char, e.cues
FROM article_evidence e
JOIN article_frames f ON f.article_id = e.article_id AND f.frame = e.frame
WHERE e.article_id = ? AND (f.assigned OR list_contains(CAST(? AS VARCHAR[]), e.frame))
ORDER BY e.start_char, e.frame, e.rank
"""
REVIEW_ARTICLE_SQL = "SELECT title, text, lang FROM articles WHERE id = ?"
REVIEW_SCORES_SQL = "SELECT frame, score FROM article_frames WHERE article_id = ?"


def review_text(
    con: duckdb.DuckDBPyConnection, article_id: str, labels: tuple[str, ...] = ()
) -> tuple[str, str] | None:
    """The text a review judges and its language: the title and the evidence sentences of
    the model's frames and the reviewer's ``labels``, or the title and the lead paragraph
    when there are none (the training example must be text the reviewer actually read).
    None: no article."""
    rows = con.execute(REVIEW_ARTICLE_SQL, [article_id]).fetchall()
    if not rows:
        return None
    title, text, lang = rows[0]
    found = con.execute(EVIDENCE_SQL, [article_id, list(labels)]).fetchall()
    sentences = list(dict.fromkeys(row[3] for row in found))  # one sentence, several frames
    body = sentences or [text.strip().split("\n", 1)[0]]
    return "\n".join([title, *body]), str(lang)


def review_annotation(con: duckdb.DuckDBPyConnection, review: Review) -> Annotation | None:
    """The review as a training example (None when the article no longer exists).

    Not about migration means no frame applies; otherwise the group is that of the
    strongest judged label by the model's scores, as the classifier itself decides it.
    """
    labels = review.labels if review.migration else ()
    found = review_text(con, review.article_id, labels)
    if found is None:
        return None
    text, lang = found
    scores = dict(con.execute(REVIEW_SCORES_SQL, [review.article_id]).fetchall())
    group = load_labels().strongest_group({c: scores.get(c, 0.0) for c in labels}, labels)
    return Annotation(
        id=review.id,
        reviewer=review.reviewer.strip(),
        text=text,
        lang=lang,
        article_id=review.article_id,
        migration=review.migration,
        group=group,
        labels=tuple(labels),
        note=review.note,
    )


def store_reviews(con: duckdb.DuckDBPyConnection, reviews: list[Review]) -> int:
    """Store reviews as annotations, each with its own time; return how many.

    Stored one by one in the order given, so a later review of the same id replaces an
    earlier one (``add_annotations`` takes one time per call).
    """
    stored = 0
    for review in reviews:
        note = review_annotation(con, review)
        if note is None:
            log.warning("review of %s dropped: the article is gone", review.article_id)
            continue
        stored += add_annotations(con, [note], at=review.at)
    return stored


# --- the spool: reviews waiting while an ingest holds the database ----------------------


def spool_path(db: Path) -> Path:
    """Where reviews wait while the database is busy: next to it, ``<db>.reviews.jsonl``."""
    return db.with_name(db.name + ".reviews.jsonl")


def _sibling(spool: Path, suffix: str) -> Path:
    """A file beside the spool: ``.lock``, ``.importing``, ``.rejected``."""
    return spool.with_name(spool.name + suffix)


@contextmanager
def spool_lock(spool: Path) -> Iterator[None]:
    """An exclusive lock (flock on ``<spool>.lock``) between appending and taking the spool,
    across threads and processes: a review appended while the spool is being taken is
    neither lost nor split."""
    spool.parent.mkdir(parents=True, exist_ok=True)
    with _sibling(spool, ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _append_lines(path: Path, lines: list[bytes]) -> None:
    """Append lines to a file, starting on a fresh line even when the file's last line was
    left unterminated (a crash mid-write), so a new line is never glued to a broken one."""
    with path.open("a+b") as fh:
        fh.seek(0, 2)
        if fh.tell():
            fh.seek(-1, 2)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write(b"".join(line.rstrip(b"\n") + b"\n" for line in lines))
        fh.flush()


def spool_line(review: Review) -> bytes:
    """A review as one spool line (JSON, its time in ISO format)."""
    row = {
        "article_id": review.article_id,
        "reviewer": review.reviewer,
        "migration": review.migration,
        "labels": list(review.labels),
        "note": review.note,
        "at": review.at.isoformat() if review.at else None,
    }
    return json.dumps(row, ensure_ascii=False).encode("utf-8")


def spool_review(path: Path, review: Review) -> None:
    """Append a review to the spool, under the spool's lock."""
    with spool_lock(path):
        _append_lines(path, [spool_line(review)])


def import_spooled_reviews(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Store the reviews waiting in the spool and empty it; return how many were stored.

    The spool is first moved aside under the lock, so a review appended meanwhile starts a
    new spool instead of being lost. Lines that cannot be read go to ``<spool>.rejected``
    (logged) and the others are stored; a failed store leaves the moved file for the next
    attempt (storing is idempotent: the review id decides).
    """
    taken = _take_spool(path)
    if taken is None:
        return 0
    reviews, rejected = parse_spool(taken.read_bytes())
    if rejected:
        with spool_lock(path):
            _append_lines(_sibling(path, ".rejected"), rejected)
        log.error(
            "%d unreadable spooled reviews moved to %s", len(rejected), path.name + ".rejected"
        )
    stored = store_reviews(con, reviews)
    taken.unlink()
    return stored


def _take_spool(path: Path) -> Path | None:
    """Move the spool to ``<spool>.importing`` (after a leftover one); None when empty."""
    taken = _sibling(path, ".importing")
    with spool_lock(path):
        if path.exists() and taken.exists():
            _append_lines(taken, path.read_bytes().splitlines())
            path.unlink()
        elif path.exists():
            path.replace(taken)
    return taken if taken.exists() else None


def parse_spool(data: bytes) -> tuple[list[Review], list[bytes]]:
    """The readable reviews of a spool, in order, and the lines that could not be read."""
    reviews: list[Review] = []
    rejected: list[bytes] = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            reviews.append(_spooled(line))
        except (ValueError, KeyError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
            log.error("spooled review on line %d not readable: %s", number, exc)
            rejected.append(line)
    return reviews, rejected


def _spooled(line: bytes) -> Review:
    """One spool line as a checked Review (a line without a time is stored as of now)."""
    row = json.loads(line.decode("utf-8"))
    if not isinstance(row, dict) or not isinstance(row.get("labels") or [], list):
        raise ValueError("not a review")
    at = row.get("at")
    return check_review(
        Review(
            article_id=str(row["article_id"]),
            reviewer=str(row["reviewer"]),
            migration=bool(row["migration"]),
            labels=tuple(str(code) for code in row.get("labels") or ()),
            note=str(row.get("note") or ""),
            at=naive_utc(datetime.fromisoformat(at)) if at else None,
        )
    )


def import_spool_of(db: Path) -> int:
    """Store the dashboard's waiting reviews into the database at ``db``; return how many.

    Opens the database read-write only when a spool is waiting (and the database exists),
    so commands that merely read do not migrate or lock it for nothing. While an ingest
    writes, the reviews keep waiting (logged, 0).
    """
    spool = spool_path(db)
    if not db.exists() or not (spool.exists() or _sibling(spool, ".importing").exists()):
        return 0
    try:
        with writing(db) as con:  # the writer lock: never beside a running ingest or purge
            return import_spooled_reviews(con, spool)
    except DatabaseBusy as exc:
        log.warning("spooled reviews wait for the next run: %s", exc)
        return 0
