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
from pipeline.records import Annotation

GROUPS = ("threat", "victim", "hero", "none")


def parse_annotation(row: dict[str, Any], reviewer: str, where: str) -> Annotation:
    """One JSON line as an Annotation; unknown labels or groups are refused with the line."""
    codes = set(load_labels().codes)
    labels = row.get("labels")
    if labels is not None and not set(labels) <= codes:
        raise ValueError(f"{where}: unknown labels {sorted(set(labels) - codes)}")
    group = row.get("group")
    if group is not None and group not in GROUPS:
        raise ValueError(f"{where}: group must be one of {', '.join(GROUPS)}")
    if not str(row.get("text", "")).strip():
        raise ValueError(f"{where}: no text")
    return Annotation(
        id=str(row.get("id") or where),
        reviewer=str(row.get("reviewer") or reviewer or "unknown"),
        text=str(row["text"]),
        lang=str(row.get("lang") or "xx"),
        article_id=row.get("article_id"),
        migration=_opt_bool(row.get("migration")),
        group=group,
        labels=None if labels is None else tuple(labels),
        hostile=_opt_bool(row.get("hostile")),
        note=str(row.get("note") or ""),
    )


def _opt_bool(value: Any) -> bool | None:
    """None stays None (not judged); anything else is a boolean."""
    return None if value is None else bool(value)


def read_annotations(path: Path, reviewer: str = "") -> list[Annotation]:
    """Every non-empty line of a corrections file; a bad line stops the import, named."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                out.append(parse_annotation(json.loads(line), reviewer, f"{path.name}:{number}"))
    return out
