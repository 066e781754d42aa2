"""Schema upgrades in place, and the analyst interface (schema v1) as a contract.

A database made by the schema before the analyst views (migrations 001-004, filled with the
SQL that version wrote) is opened by the current store: every later migration applies, no
row changes, and the v1 views answer on the old rows. The v1 views' columns are pinned in
tests/fixtures/v1_contract.json, so no change to them can pass unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from models.labels import load_labels
from pipeline import store
from tests import factories

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "tests" / "fixtures" / "v1_contract.json"
BEFORE_ANALYST_VIEWS = 4  # the schema version this file upgrades from

# What schema 004 held after one run: two outlets; a migration article, its copy republished
# by the same outlet, an article not about migration and one not yet classified.
OLD_ROWS = [
    "INSERT INTO sources VALUES"
    " ('kurier', 'Stadtkurier', 'Oberhausen', 'DE', 'de', ['http://k/rss'], [], true,"
    "  '2026-11-01'),"
    " ('gazeta', 'Gazeta Gdańska', 'Gdańsk', 'PL', 'pl', [], [], true, '2026-11-01')",
    "INSERT INTO runs VALUES ('run1', '2026-11-18 06:00', '2026-11-18 06:10', 'completed',"
    " 'sources/x.yaml', 4, 0, 4, 4, 'm1', NULL)",
    "INSERT INTO articles (id, url, requested_url, canonical_url, source_id, lang, declared_lang,"
    " title, text, author, published_at, date_source, fetched_at, content_hash, duplicate_of,"
    " run_id, migration_score, is_migration, hostile_score, frame_group, model_version,"
    " classified_at, story_id) VALUES"
    " ('a1', 'http://k/1', 'http://k/1', 'http://k/1', 'kurier', 'de', 'de', 'Titel 1',"
    "  'Text eins', '', '2026-11-17 08:00', 'feed', '2026-11-18 06:01', 'h1', NULL, 'run1',"
    "  0.9, true, 0.7, 'threat', 'm1', '2026-11-18 06:05', 'a1'),"
    " ('a2', 'http://k/2', 'http://k/2', 'http://k/2', 'kurier', 'de', 'de', 'Titel 1',"
    "  'Text eins', '', '2026-11-17 09:00', 'feed', '2026-11-18 06:02', 'h1', 'a1', 'run1',"
    "  0.9, true, 0.7, 'threat', 'm1', '2026-11-18 06:05', 'a1'),"
    " ('a3', 'http://g/3', 'http://g/3', 'http://g/3', 'gazeta', 'pl', 'pl', 'Tytuł',"
    "  'Tekst', '', NULL, 'none', '2026-11-18 06:03', 'h3', NULL, 'run1',"
    "  0.1, false, 0.0, 'none', 'm1', '2026-11-18 06:05', 'a3'),"
    " ('a4', 'http://g/4', 'http://g/4', 'http://g/4', 'gazeta', 'pl', 'pl', 'Nowy',"
    "  'Tekst nowy', '', '2026-11-18 05:00', 'page', '2026-11-18 06:04', 'h4', NULL, 'run1',"
    "  NULL, NULL, NULL, NULL, NULL, NULL, 'a4')",
    "INSERT INTO article_frames VALUES"
    " ('a1', 'threat_public_order', 0.8, true, 'Text eins', 0, 9, 'm1', 1),"
    " ('a1', 'hero_integration', 0.1, false, 'Text eins', 0, 9, 'm1', 0),"
    " ('a2', 'threat_public_order', 0.8, true, 'Text eins', 0, 9, 'm1', 1),"
    " ('a2', 'hero_integration', 0.1, false, 'Text eins', 0, 9, 'm1', 0)",
    "INSERT INTO article_terms VALUES"
    " ('a1', 'loaded_term', 'Illegale', 'Illegale', 0, 8, 'guide', ['Menschen ohne Papiere'])",
    "INSERT INTO article_quotes VALUES"
    " ('a1', 0, 'Wir bleiben', 0, 11, 'eine Bewohnerin', 12, 27, 'migrant', 'sagte', 'm1')",
]
OLD_TABLES = ("sources", "runs", "articles", "article_frames", "article_terms", "article_quotes")


def database_at(path: Path, version: int) -> None:
    """A database with migrations up to ``version`` only, holding OLD_ROWS."""
    factories.database_at(path, version, OLD_ROWS)


def snapshot(con: duckdb.DuckDBPyConnection, columns: dict[str, list[str]]) -> dict[str, Any]:
    """Every row of the old tables, restricted to the columns the old schema had."""
    return {
        table: con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL").fetchall()
        for table, cols in columns.items()
    }


def old_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The columns of each old table, in order."""
    return {
        table: [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main'"
                " AND table_name = ? ORDER BY column_index",
                [table],
            ).fetchall()
        ]
        for table in OLD_TABLES
    }


Upgraded = tuple[duckdb.DuckDBPyConnection, dict[str, list[str]], dict[str, Any]]


@pytest.fixture()
def upgraded(tmp_path: Path) -> Iterator[Upgraded]:
    """A schema-004 database opened by the current store, with the old tables' columns
    and rows from before."""
    path = tmp_path / "old.duckdb"
    database_at(path, BEFORE_ANALYST_VIEWS)
    with duckdb.connect(str(path), read_only=True) as old:
        assert store.schema_version(old) == BEFORE_ANALYST_VIEWS
        columns = old_columns(old)
        before = snapshot(old, columns)
    con = store.open_store(path)
    yield con, columns, before
    con.close()


def test_upgrade_applies_every_later_migration_and_keeps_every_row(upgraded: Upgraded) -> None:
    con, columns, before = upgraded
    assert store.schema_version(con) == store.migrations()[-1][0] > BEFORE_ANALYST_VIEWS
    assert all(before.values())  # every old table had rows to lose
    # Later migrations may add columns; the old ones keep their names and every value.
    assert snapshot(con, columns) == before


def test_v1_views_answer_on_the_upgraded_rows(upgraded: Upgraded) -> None:
    con, _, _ = upgraded
    articles = con.execute(
        "SELECT id, week, city, is_migration, counted FROM v1.articles ORDER BY id"
    ).fetchall()
    assert articles == [
        ("a1", "2026-W47", "Oberhausen", True, True),
        ("a2", "2026-W47", "Oberhausen", True, False),  # the copy: same story, same outlet
        ("a3", "unknown", "Gdańsk", False, False),
        ("a4", "2026-W47", "Gdańsk", None, False),
    ]
    assert con.execute("SELECT count(*) FROM v1.frames").fetchall() == [(4,)]
    assert con.execute("SELECT term, alternatives FROM v1.terms").fetchall() == [
        ("Illegale", ["Menschen ohne Papiere"])
    ]
    assert con.execute("SELECT speaker_category, quotes FROM v1.voices").fetchall() == [
        ("migrant", 1)
    ]
    assert con.execute(
        "SELECT week, city, source_id, frame, articles, migration_articles FROM v1.weekly_frames"
    ).fetchall() == [("2026-W47", "Oberhausen", "kurier", "threat_public_order", 1, 1)]
    assert con.execute("SELECT id, status FROM v1.runs").fetchall() == [("run1", "completed")]
    assert con.execute("SELECT api, schema_version FROM v1.api_info").fetchall() == [
        ("v1", store.migrations()[-1][0])
    ]


def v1_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """{view: {column: type}} of schema v1, columns in order."""
    found: dict[str, dict[str, str]] = {}
    for view, column, dtype in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns()"
        " WHERE schema_name = 'v1' ORDER BY table_name, column_index"
    ).fetchall():
        found.setdefault(view, {})[column] = dtype
    return found


def contract_breaches(
    pinned: dict[str, dict[str, str]], actual: dict[str, dict[str, str]]
) -> list[str]:
    """What breaks the contract: a pinned view or column gone, renamed, moved or retyped."""
    problems = []
    for view, columns in pinned.items():
        have = list(actual.get(view, {}).items())
        if view not in actual:
            problems.append(f"v1.{view} is gone")
        elif have[: len(columns)] != list(columns.items()):
            problems.append(f"v1.{view}: pinned {list(columns.items())}, now {have}")
    return problems


def test_v1_keeps_its_contract(tmp_path: Path) -> None:
    """Refuses any silent change to v1: breaking ones need v2; additions need recording."""
    pinned = json.loads(CONTRACT.read_text(encoding="utf-8"))["views"]
    with store.open_store(tmp_path / "new.duckdb") as con:
        actual = v1_columns(con)
    breaches = contract_breaches(pinned, actual)
    assert not breaches, (
        "schema v1 is a published contract: its views and columns never disappear, are never "
        "renamed, moved or retyped. Keep v1 as it is and put the change in a new schema v2 "
        "(CREATE SCHEMA v2 in a new migration) beside it.\n" + "\n".join(breaches)
    )
    assert actual == pinned, (
        "v1 gained views or columns. Adding at the end of a view is allowed: record it in "
        f"{CONTRACT.relative_to(REPO)} (and docs/schema.md). Now:\n"
        + json.dumps(actual, indent=2, ensure_ascii=False)
    )


def test_the_contract_check_catches_breaking_changes() -> None:
    pinned = {"frames": {"article_id": "VARCHAR", "score": "DOUBLE"}}
    assert contract_breaches(pinned, {"frames": {"article_id": "VARCHAR", "score": "DOUBLE"}}) == []
    assert contract_breaches(pinned, {"frames": {"article_id": "VARCHAR", "score": "FLOAT"}})
    assert contract_breaches(pinned, {"frames": {"score": "DOUBLE", "article_id": "VARCHAR"}})
    assert contract_breaches(pinned, {"frames": {"article_id": "VARCHAR"}})
    assert contract_breaches(pinned, {}) == ["v1.frames is gone"]
    # An added column at the end is no breach (the equality check asks to record it).
    added = {"frames": {"article_id": "VARCHAR", "score": "DOUBLE", "new": "INTEGER"}}
    assert contract_breaches(pinned, added) == []


def test_every_v1_view_and_column_is_documented(db: duckdb.DuckDBPyConnection) -> None:
    views = db.execute(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = 'v1'"
        " AND coalesce(comment, '') = ''"
    ).fetchall()
    columns = db.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'v1'"
        " AND coalesce(comment, '') = ''"
    ).fetchall()
    assert views == [] and columns == []


def test_v1_answers_when_the_file_is_attached_under_another_name(tmp_path: Path) -> None:
    """The views name main's objects with their schema, so they resolve inside the file
    even when an analyst ATTACHes it beside other data."""
    path = tmp_path / "old.duckdb"
    database_at(path, BEFORE_ANALYST_VIEWS)
    store.open_store(path).close()
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS fw (READ_ONLY)")
    assert con.execute("SELECT count(*) FROM fw.v1.frames").fetchall() == [(4,)]
    assert con.execute("SELECT count(*) FROM fw.v1.weekly_frames").fetchall() == [(1,)]


def test_frame_groups_are_the_code_prefix() -> None:
    """v1.frames documents a frame's group as the part of its code before the first
    underscore; the label set must keep that true."""
    assert all(label.code.split("_")[0] == label.group for label in load_labels().labels)
