"""Reviewers' corrections: read from JSONL, checked against the label set, stored in DuckDB.

A trainer or analyst who disagrees with a label writes the corrected line in the same format
as an evaluation dataset; ``framewatch annotate`` imports it and ``framewatch train`` learns
from it next time. Fields left out were not judged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.labels import load_labels
from models.metrics import GROUPS
from pipeline.records import Annotation


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
