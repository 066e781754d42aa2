"""Reviewers' corrections: file -> database -> training examples, without duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from models.data import load_annotations
from pipeline.annotations import read_annotations
from pipeline.store import add_annotations


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


ROWS = [
    {
        "id": "r1",
        "text": "Die Flut der Asylanten muss gestoppt werden.",
        "lang": "de",
        "group": "threat",
        "labels": ["threat_invasion"],
        "hostile": True,
        "article_id": "a1",
    },
    {"id": "r2", "text": "Il sindaco ha inaugurato la scuola.", "lang": "it", "migration": False},
]


def test_corrections_round_trip_into_training_examples(
    tmp_path: Path, db: duckdb.DuckDBPyConnection
) -> None:
    notes = read_annotations(_write(tmp_path / "c.jsonl", ROWS), reviewer="anna")
    assert add_annotations(db, notes) == 2
    assert add_annotations(db, notes) == 2  # re-import replaces by id
    assert db.execute("SELECT count(*) FROM annotations").fetchall() == [(2,)]
    path = Path(
        db.execute("SELECT path FROM duckdb_databases() WHERE NOT internal").fetchall()[0][0]
    )
    db.close()
    examples = {e.id: e for e in load_annotations(path)}
    first, second = examples["r1"], examples["r2"]
    assert first.labels == ("threat_invasion",) and first.group == "threat"
    assert first.hostile is True and first.migration is True  # a framed sentence is relevant
    assert first.group_id == "annotation-a1"
    assert second.labels is None and second.group is None and second.hostile is None
    assert second.migration is False


def test_unknown_label_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = [{"id": "x", "text": "t", "lang": "en", "labels": ["threat_aliens"]}]
    with pytest.raises(ValueError, match=r"c.jsonl:1: unknown labels \['threat_aliens'\]"):
        read_annotations(_write(tmp_path / "c.jsonl", bad))


def test_no_database_means_no_annotations(tmp_path: Path) -> None:
    assert load_annotations(tmp_path / "absent.duckdb") == []
    assert load_annotations(None) == []


def test_a_group_without_labels_judges_no_frame_only_for_none(tmp_path: Path) -> None:
    from models.data import example_from_row

    threat = example_from_row({"id": "a", "text": "t", "group": "threat"}, "x")
    none = example_from_row({"id": "b", "text": "t", "group": "none"}, "x")
    assert threat.labels is None and threat.group == "threat"  # frames not judged
    assert none.labels == () and none.migration is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"text": "t", "lang": "en"}, "no id"),
        ({"id": "x", "text": "t", "hostile": "false"}, "expected true, false or null"),
        ({"id": "x", "text": "t", "labels": "threat_jobs"}, "labels must be a list"),
    ],
)
def test_bad_lines_are_refused(tmp_path: Path, row: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_annotations(_write(tmp_path / "c.jsonl", [row]))


def test_a_repeated_id_in_one_file_is_refused(tmp_path: Path) -> None:
    rows = [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}]
    with pytest.raises(ValueError, match=r"c\.jsonl:2: id 'x' repeated"):
        read_annotations(_write(tmp_path / "c.jsonl", rows))
