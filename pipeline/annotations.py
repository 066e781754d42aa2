"""Reviewers' corrections: read from JSONL, checked against the label set, stored in DuckDB.

A trainer or analyst who disagrees with a label writes the corrected line in the same format
as an evaluation dataset; ``framewatch annotate`` imports it and ``framewatch train`` learns
from it next time. Fields left out were not judged.

The dashboard's review form makes the same corrections one article at a time (``Review``).
When a running ingest holds the database, a review waits in a spool file next to it and is
stored by the next review that finds the database free (``import_spooled_reviews``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from models.labels import load_labels
from models.metrics import GROUPS
from pipeline.records import Annotation
from pipeline.store import add_annotations

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
    applies to is read from the article when the review is stored.
    """

    article_id: str
    reviewer: str
    migration: bool
    labels: tuple[str, ...]
    note: str = ""

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


# The sentences the dashboard highlights: the evidence of the frames the model assigned.
REVIEW_TEXT_SQL = """
SELECT DISTINCT e.start_char, e.sentence FROM article_evidence e
JOIN article_frames f ON f.article_id = e.article_id AND f.frame = e.frame AND f.assigned
WHERE e.article_id = ? ORDER BY e.start_char
"""
REVIEW_ARTICLE_SQL = "SELECT title, text, lang FROM articles WHERE id = ?"
REVIEW_SCORES_SQL = "SELECT frame, score FROM article_frames WHERE article_id = ?"


def review_text(con: duckdb.DuckDBPyConnection, article_id: str) -> tuple[str, str] | None:
    """The text a review judges and its language: the title and the evidence sentences
    shown highlighted, or the title and the lead paragraph when no frame was assigned
    (the training example must be text the reviewer actually read). None: no article."""
    rows = con.execute(REVIEW_ARTICLE_SQL, [article_id]).fetchall()
    if not rows:
        return None
    title, text, lang = rows[0]
    sentences = [s for _, s in con.execute(REVIEW_TEXT_SQL, [article_id]).fetchall()]
    body = sentences or [text.strip().split("\n", 1)[0]]
    return "\n".join([title, *body]), str(lang)


def review_annotation(con: duckdb.DuckDBPyConnection, review: Review) -> Annotation | None:
    """The review as a training example (None when the article no longer exists).

    Not about migration means no frame applies; otherwise the group is that of the
    strongest judged label by the model's scores, as the classifier itself decides it.
    """
    found = review_text(con, review.article_id)
    if found is None:
        return None
    text, lang = found
    labels = review.labels if review.migration else ()
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
    """Store reviews as annotations (a later review of the same id wins); return how many."""
    notes: dict[str, Annotation] = {}
    for review in reviews:
        note = review_annotation(con, review)
        if note is None:
            log.warning("review of %s dropped: the article is gone", review.article_id)
            continue
        notes[note.id] = note
    return add_annotations(con, list(notes.values())) if notes else 0


def spool_path(db: Path) -> Path:
    """Where reviews wait while the database is busy: next to it, ``<db>.reviews.jsonl``."""
    return db.with_name(db.name + ".reviews.jsonl")


def spool_review(path: Path, review: Review) -> None:
    """Append a review to the spool (one JSON line; appends of one line do not interleave)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(review), ensure_ascii=False) + "\n")


def import_spooled_reviews(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Store the reviews waiting in the spool and empty it; return how many were stored.

    The spool is first renamed aside, so a review appended meanwhile starts a new spool
    instead of being lost; a failed import leaves the renamed file for the next attempt.
    """
    taken = _take_spool(path)
    if taken is None:
        return 0
    reviews = [_spooled(line) for line in taken.read_text(encoding="utf-8").splitlines() if line]
    stored = store_reviews(con, reviews)
    taken.unlink()
    return stored


def _take_spool(path: Path) -> Path | None:
    """Move the spool to ``<spool>.importing`` (after a leftover one); None when empty."""
    taken = path.with_name(path.name + ".importing")
    if path.exists() and taken.exists():
        with taken.open("a", encoding="utf-8") as out:
            out.write(path.read_text(encoding="utf-8"))
        path.unlink()
    elif path.exists():
        path.replace(taken)
    return taken if taken.exists() else None


def _spooled(line: str) -> Review:
    """One spool line as a checked Review."""
    row = json.loads(line)
    return check_review(
        Review(
            article_id=str(row["article_id"]),
            reviewer=str(row["reviewer"]),
            migration=bool(row["migration"]),
            labels=tuple(row.get("labels") or ()),
            note=str(row.get("note") or ""),
        )
    )
