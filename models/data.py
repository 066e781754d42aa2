"""Training and evaluation examples: one sentence each, from JSONL files or reviewers.

Sources (see models/MODEL_CARD.md): the project's seed sentences in every language
(``models/data/seeds``); from ``../shared/data/dev`` StereoImmigrants (Spanish parliamentary
sentences with a threat/victim/hero taxonomy) for frames and groups, IWG (German) and a fixed
sample of HatEval (English) for hostility; and reviewers' corrections from the database's
``annotations`` table. ``None`` in a field means "this example says nothing about that
target", so every head trains only on examples that inform it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

log = logging.getLogger(__name__)

SEEDS_DIR = Path(__file__).parent / "data" / "seeds"
HATEVAL_SAMPLE = 3000  # class-balanced sample: enough signal, minutes less embedding
STEREO_FILE = "stereoimmigrants_train.jsonl"
IWG_FILE = "iwg_refugees_de.jsonl"
HATEVAL_FILE = "hateval_en_train.jsonl"


@dataclass(frozen=True)
class Example:
    """One sentence with what is known about it."""

    id: str
    text: str
    lang: str
    source: str  # seed | stereoimmigrants | iwg | hateval | annotation | <dataset name>
    group_id: str  # the source document: examples sharing it stay in one CV fold
    labels: tuple[str, ...] | None
    unsure: tuple[str, ...]  # labels neither positive nor negative (StereoImmigrants' 'any')
    group: str | None  # threat | victim | hero | none
    migration: bool | None
    hostile: bool | None


def read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    """Rows of a JSONL file."""
    with path.open(encoding="utf-8") as fh:
        yield from (json.loads(line) for line in fh if line.strip())


def example_from_row(row: dict[str, Any], source: str) -> Example:
    """An Example from a dataset line (the ``framewatch eval`` format, seeds, annotations).

    Lines carry ``{"id","text","lang","group","labels"}`` and/or ``{"hostile"}``; optional
    ``labels_any`` (alternatives: left out of training and scoring for that line, neither
    positive nor negative), ``migration`` and ``doc_id`` (the CV group).
    """
    labels = row.get("labels")
    group = row.get("group")
    migration = row.get("migration")
    if migration is None and group is not None and group != "none":
        migration = True  # a framed sentence is about migration
    hostile = row.get("hostile")
    return Example(
        id=str(row["id"]),
        text=str(row["text"]),
        lang=str(row.get("lang") or "xx"),
        source=source,
        group_id=f"{source}-{row.get('doc_id', row['id'])}",
        # Frames are judged when labels are given, or when the group says "no frame".
        labels=tuple(labels) if labels is not None else (() if group == "none" else None),
        unsure=tuple(row.get("labels_any") or ()),
        group=None if group is None else str(group),
        migration=None if migration is None else bool(migration),
        hostile=None if hostile is None else bool(hostile),
    )


def load_dataset(path: Path, source: str | None = None) -> list[Example]:
    """Every line of a JSONL dataset as Examples."""
    return [example_from_row(r, source or path.stem) for r in read_jsonl(path)]


def load_seeds(folder: Path = SEEDS_DIR) -> list[Example]:
    """The project's own seed sentences, all languages."""
    return [e for path in sorted(folder.glob("*.jsonl")) for e in load_dataset(path, "seed")]


def load_stereoimmigrants(path: Path) -> list[Example]:
    """StereoImmigrants: frames and groups; stereotype sentences count as migration-relevant.

    Its non-stereotype sentences come from speeches about immigration too, but not every one
    of them is about migration: they carry no relevance label (``example_from_row``).
    """
    return [example_from_row(dict(r, lang="es"), "stereoimmigrants") for r in read_jsonl(path)]


def load_hostility(iwg: Path, hateval: Path, sample: int = HATEVAL_SAMPLE) -> list[Example]:
    """IWG (all) and a balanced, hash-ordered (so: fixed) sample of HatEval."""
    out = [
        example_from_row(
            {"id": r["id"], "text": r["text"], "lang": "de", "hostile": r["hostile"]}, "iwg"
        )
        for r in read_jsonl(iwg)
    ]
    rows = sorted(read_jsonl(hateval), key=lambda r: hashlib.sha1(r["id"].encode()).hexdigest())
    for flag in (True, False):
        picked = [r for r in rows if bool(r["hostile"]) is flag][: sample // 2]
        out += [
            example_from_row(
                {"id": r["id"], "text": r["text"], "lang": "en", "hostile": flag}, "hateval"
            )
            for r in picked
        ]
    return out


def load_annotations(db: Path | None) -> list[Example]:
    """Reviewers' corrections from the database's ``annotations`` table, when there is one."""
    if db is None or not db.exists():
        return []
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:  # a running pipeline holds the lock: train without them
        log.warning("annotations not read from %s: %s", db, exc)
        return []
    try:
        if not con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'annotations'"
        ).fetchall()[0][0]:
            return []
        rows = con.execute(
            "SELECT id, text, lang, frame_group, labels, migration, hostile, article_id "
            "FROM annotations ORDER BY id"
        ).fetchall()
    finally:
        con.close()
    return [_annotation(r) for r in rows]


def _annotation(row: tuple[Any, ...]) -> Example:
    """One annotations row as an Example (its article is its CV group)."""
    id_, text, lang, group, labels, migration, hostile, article_id = row
    data = {
        "id": id_,
        "text": text,
        "lang": lang,
        "group": group,
        "labels": labels,
        "migration": migration,
        "hostile": hostile,
        "doc_id": article_id or id_,
    }
    return example_from_row(data, "annotation")


def load_training_data(dev_dir: Path | None, db: Path | None = None) -> list[Example]:
    """Seeds always; the shared development sets when present; reviewers' corrections."""
    examples = load_seeds()
    if dev_dir is not None and (dev_dir / STEREO_FILE).exists():
        examples += load_stereoimmigrants(dev_dir / STEREO_FILE)
        examples += load_hostility(dev_dir / IWG_FILE, dev_dir / HATEVAL_FILE)
    else:
        log.warning("no development data at %s: training on seed sentences only", dev_dir)
    return examples + load_annotations(db)


def digest(examples: Sequence[Example]) -> str:
    """A fingerprint of the training data: the gate refuses figures of other data."""
    h = hashlib.sha256()
    for e in sorted(examples, key=lambda e: (e.source, e.id)):
        fields = (
            e.source,
            e.id,
            e.text,
            e.lang,
            e.labels,
            e.unsure,
            e.group,
            e.migration,
            e.hostile,
        )
        h.update(json.dumps(fields, ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:16]
