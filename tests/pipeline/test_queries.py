"""Every SQL block of docs/queries.md runs against the test newsroom and returns rows; some
figures are checked against counts made by hand from tests/pipeline/test_export.py's ITEMS.

Hand counts (Oberhausen = kurier + anzeiger; k0copy republishes k0 and is not counted):
- Oberhausen, 2026-W47: counted migration articles k0, a0, a0h; public order in k0, a0.
- Oberhausen, last four weeks: k0, a0, a0h, k1, a2, k3 (public order: k0, a0, k1, a2);
  the eight weeks before: b4..b11 (public order: b5 only).
- Counted migration articles quoting a migrant: anzeiger a0 of 8 (a0, a0h, a2, b5, b7,
  b9, b11, aX), gazeta g0a of 4, folha f0a of 2, kurier none of 7.
- Stadtkurier hostility: k0 0.8, its six other counted articles 0.2: mean 2.0 / 7.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.export import export
from pipeline.store import open_readonly
from tests.pipeline.test_export import LAST_WEEK, TPO, build_newsroom

DOC = Path(__file__).parents[2] / "docs" / "queries.md"
BLOCK = re.compile(r"```(sql|python)\n(.*?)```", re.S)
NAME = re.compile(r"-- name: (\w+)\n")
# Python blocks for libraries framewatch does not install: shown, not run.
NOT_INSTALLED = ("import polars", "from pyspark")

Rows = list[dict[str, Any]]


def blocks(lang: str) -> list[str]:
    """The code blocks of one language in docs/queries.md, in order."""
    return [code for kind, code in BLOCK.findall(DOC.read_text(encoding="utf-8")) if kind == lang]


def queries() -> dict[str, str]:
    """The SQL blocks by the name on their first line."""
    found = {}
    for sql in blocks("sql"):
        match = NAME.match(sql)
        assert match, f"an SQL block of docs/queries.md lacks '-- name: ...':\n{sql}"
        assert match.group(1) not in found, f"two queries named {match.group(1)}"
        found[match.group(1)] = sql
    return found


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the newsroom database and its Parquet export in ./export, as the
    document assumes."""
    base = tmp_path_factory.mktemp("analyst")
    db = build_newsroom(base / "news.duckdb")
    with open_readonly(db) as con:
        export(con, base / "export", "parquet")
    return base


@pytest.fixture()
def in_workdir(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run from the work folder: the export's relative paths resolve there."""
    monkeypatch.chdir(workdir)
    yield workdir


def run(workdir: Path, sql: str) -> Rows:
    """Run a query on a read-only connection, as an analyst would; rows as dicts."""
    with open_readonly(workdir / "news.duckdb") as con:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def test_the_document_has_eight_to_twelve_named_queries() -> None:
    assert 8 <= len(queries()) <= 12


@pytest.mark.parametrize("name", sorted(queries()))
def test_every_query_returns_rows(in_workdir: Path, name: str) -> None:
    assert run(in_workdir, queries()[name]), f"{name} returned no rows on the newsroom"


def test_frame_shares_count_each_story_once(in_workdir: Path) -> None:
    rows = run(in_workdir, queries()["frame_shares"])
    (row,) = [
        r for r in rows if (r["city"], r["week"], r["frame"]) == ("Oberhausen", LAST_WEEK, TPO)
    ]
    # k0 and a0 of k0, a0, a0h; counting the copy k0copy would give 3 of 4.
    assert (row["articles"], row["migration_articles"], row["share"]) == (2, 3, 0.667)


def test_rising_frames_puts_the_rise_first(in_workdir: Path) -> None:
    first = run(in_workdir, queries()["rising_frames"])[0]
    assert (first["city"], first["frame"]) == ("Oberhausen", TPO)
    assert (first["recent_articles"], first["recent_share"], first["before_share"]) == (
        6,
        0.667,
        0.125,
    )


def test_migrant_voices_per_outlet(in_workdir: Path) -> None:
    rows = run(in_workdir, queries()["migrant_voices"])
    found = {r["source_name"]: (r["migration_articles"], r["quoting_migrants"]) for r in rows}
    assert found == {
        "Folha da Cidade": (2, 1),
        "Gazeta Gdańska": (4, 1),
        "Anzeiger": (8, 1),
        "Stadtkurier": (7, 0),
    }
    assert [r["share"] for r in rows] == [0.5, 0.25, 0.125, 0.0]


def test_who_speaks_shares_add_up_per_city(in_workdir: Path) -> None:
    rows = run(in_workdir, queries()["who_speaks"])
    for city in {r["city"] for r in rows}:
        assert sum(r["share"] for r in rows if r["city"] == city) == pytest.approx(1, abs=0.01)
    assert {
        (r["city"], r["speaker_category"], r["quotes"]) for r in rows if r["city"] != "Oberhausen"
    } == {
        ("Gdańsk", "migrant", 1),
        ("Gdańsk", "ngo", 1),
        ("Gdańsk", "official", 1),
        ("São Paulo", "migrant", 1),
    }


def test_loaded_terms_by_language(in_workdir: Path) -> None:
    rows = run(in_workdir, queries()["loaded_terms"])
    assert [(r["lang"], r["term"], r["articles"], r["outlets"]) for r in rows] == [
        ("de", "Illegale", 1, ["kurier"]),
        ("pl", "nielegalni imigranci", 2, ["gazeta"]),
    ]
    assert rows[1]["alternatives"] == ["migranci o nieuregulowanym statusie"]


def test_hostility_per_outlet(in_workdir: Path) -> None:
    rows = run(in_workdir, queries()["hostility"])
    assert rows[0]["source_name"] == "Stadtkurier"
    assert (rows[0]["mean_hostility"], rows[0]["hostile_articles"]) == (round(2.0 / 7, 3), 1)


def test_the_parquet_query_matches_the_database(in_workdir: Path) -> None:
    sql = queries()["parquet_frame_shares"]
    on_db = re.sub(r"read_parquet\([^)]*\)", "v1.frames", sql)
    assert on_db != sql
    assert run(in_workdir, sql) == run(in_workdir, on_db)


def test_python_blocks_run(in_workdir: Path) -> None:
    runnable = [b for b in blocks("python") if not any(m in b for m in NOT_INSTALLED)]
    assert runnable, "the pandas example disappeared"
    for code in runnable:
        scope: dict[str, Any] = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, str(DOC), "exec"), scope)  # our own document
    # The pandas block: Gdańsk, 2026-W47: g0a of g0a, g0b, g0c carries victim_humanitarian.
    assert scope["shares"][(LAST_WEEK, "victim_humanitarian")] == pytest.approx(1 / 3)
