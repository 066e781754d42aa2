"""The ``framewatch`` command line on a real DuckDB file (typer's CliRunner, no mocks)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from pipeline.cli import app
from pipeline.records import Article, Source
from pipeline.store import insert_articles, open_readonly, open_store, upsert_sources

SOURCE = Source("ruhr", "Ruhr-Blatt", "Oberhausen", "DE", "de", feeds=("http://x/rss",))
N_ARTICLES = 3


def article(i: int) -> Article:
    text = f"Artikel Nummer {i} über den Stadtrat, mit genug Text für einen Eintrag. " * 5
    return Article(
        id=f"a{i:03d}",
        url=f"http://x/{i}",
        requested_url=f"http://x/{i}",
        canonical_url=f"http://x/{i}",
        source_id="ruhr",
        lang="de",
        declared_lang="de",
        title=f"Titel {i}, mit Komma",
        text=text,
        author="R",
        published_at=datetime(2026, 11, 17, 9, i, tzinfo=UTC),
        date_source="feed",
        fetched_at=datetime(2026, 11, 18, tzinfo=UTC),
        content_hash=f"hash{i}",
    )


@pytest.fixture()
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli.duckdb"
    con = open_store(path)
    upsert_sources(con, [SOURCE])
    insert_articles(con, [article(i) for i in range(N_ARTICLES)], "run1")
    con.close()  # the CLI opens it read-only; DuckDB refuses a second, different config
    return path


def invoke(db: Path, *args: str) -> Result:
    env = {"FRAMEWATCH_DB": str(db), "COLUMNS": "200", "NO_COLOR": "1"}
    return CliRunner().invoke(app, list(args), env=env)


def test_sql_json(db_file: Path) -> None:
    result = invoke(db_file, "sql", "SELECT count(*) AS n FROM articles", "--format", "json")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert [json.loads(line) for line in lines] == [{"n": N_ARTICLES}]


def test_sql_json_one_object_per_row(db_file: Path) -> None:
    result = invoke(
        db_file,
        "sql",
        "SELECT id, title, published_at FROM articles ORDER BY id",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert [r["id"] for r in rows] == [f"a{i:03d}" for i in range(N_ARTICLES)]
    assert rows[0]["published_at"].startswith("2026-11-17")


def test_sql_csv_has_a_header(db_file: Path) -> None:
    result = invoke(db_file, "sql", "SELECT id, title FROM articles ORDER BY id", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["id", "title"]
    assert rows[1:] == [[f"a{i:03d}", f"Titel {i}, mit Komma"] for i in range(N_ARTICLES)]


def test_sql_table_shows_the_value(db_file: Path) -> None:
    result = invoke(db_file, "sql", "SELECT count(*) AS n FROM articles")
    assert result.exit_code == 0, result.output
    assert "n" in result.output and str(N_ARTICLES) in result.output


def test_sql_refuses_writes(db_file: Path) -> None:
    result = invoke(db_file, "sql", "DELETE FROM articles")
    assert result.exit_code != 0
    message = f"{result.output} {result.exception}".lower()
    assert "read-only" in message or "read only" in message, message
    with open_readonly(db_file) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (N_ARTICLES,)


def test_sql_on_missing_database_names_framewatch_run(tmp_path: Path) -> None:
    missing = tmp_path / "nothing" / "here.duckdb"
    result = invoke(missing, "sql", "SELECT 1")
    assert result.exit_code != 0
    assert "framewatch run" in f"{result.output} {result.exception}"
    assert not missing.exists()  # a read-only command must not create the database


COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_commands_are_discovered() -> None:
    assert {"sql", "classify", "report", "run", "demo"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(command: str, tmp_path: Path) -> None:
    result = invoke(tmp_path / "none.duckdb", command, "--help")
    assert result.exit_code == 0, result.output
    example = [line for line in result.output.splitlines() if "Example:" in line]
    assert example, result.output
    assert f"framewatch {command}" in example[0]


PAGES = Path(__file__).parent / "fixtures" / "pages"


def test_extract_prints_one_json_line_per_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><p>Nothing here.</p></body></html>", encoding="utf-8")
    files = [PAGES / "hr-posavski-glasnik.html", PAGES / "fr-courrier-du-lac.html.gz", empty]
    result = invoke(tmp_path / "none.duckdb", "extract", *map(str, files))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert [r["file"] for r in rows] == [str(f) for f in files]
    hr, fr, nothing = rows
    assert hr["lang"] == "hr" and "Đurić" in hr["text"] and hr["date_source"] == "page:jsonld"
    assert fr["lang"] == "fr" and fr["error"] is None and fr["published_at"]
    assert nothing["error"] and not nothing["text"]


def test_extract_refuses_one_url_for_several_files(tmp_path: Path) -> None:
    page = str(PAGES / "hr-posavski-glasnik.html")
    result = invoke(tmp_path / "none.duckdb", "extract", page, page, "--url", "http://x/1")
    assert result.exit_code == 2 and "one file" in result.output  # a usage error, said why
