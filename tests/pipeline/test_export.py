"""The Parquet/CSV export of the v1 views on a small real database, read back by DuckDB,
pyarrow.dataset and pandas.

The newsroom built here is also the data of tests/pipeline/test_queries.py: its figures are
counted by hand in the docstrings there.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.export import DATASETS, export
from pipeline.records import Framing, Quote, Source, TermHit
from pipeline.store import (
    finish_run,
    insert_articles,
    open_readonly,
    open_store,
    save_framings,
    start_run,
    upsert_sources,
)
from tests.factories import framing, make_article

# Thursday of ISO week 2026-W47, the newest publication time in the newsroom.
LAST = datetime(2026, 11, 19, 9, tzinfo=UTC)
LAST_WEEK = "2026-W47"
SOURCES = [
    Source("kurier", "Stadtkurier", "Oberhausen", "DE", "de"),
    Source("anzeiger", "Anzeiger", "Oberhausen", "DE", "de"),
    Source("gazeta", "Gazeta Gdańska", "Gdańsk", "PL", "pl"),
    Source("folha", "Folha da Cidade", "São Paulo", "BR", "pt"),
]
LANG = {s.id: s.lang for s in SOURCES}
TPO, HERO = "threat_public_order", "hero_integration"
# What the lexicons would say about the terms used below.
CATEGORY = {"metaphor": "water", "loaded_term": "guide"}
ALTERNATIVES = {
    "Illegale": ("Menschen ohne Aufenthaltstitel",),
    "nielegalni imigranci": ("migranci o nieuregulowanym statusie",),
}


@dataclass(frozen=True)
class Item:
    """One article of the newsroom and what the classifier found in it."""

    source: str
    weeks_back: int | None  # weeks before LAST; None: no publication date
    frame: str | None
    migration: bool = True
    voices: tuple[str, ...] = ()  # speaker categories of its quotations
    terms: tuple[tuple[str, str], ...] = ()  # (kind, term); the term stands in the text
    copy_of: str | None = None  # the same outlet republishes this article's text
    hostile: float = 0.2


def _before() -> dict[str, Item]:
    """Oberhausen, 4 to 11 weeks back: eight articles, one carrying public order."""
    return {
        f"b{w}": Item(("kurier", "anzeiger")[w % 2], w, TPO if w == 5 else HERO)
        for w in range(4, 12)
    }


ITEMS: dict[str, Item] = {
    # Oberhausen, the last four weeks: 6 counted migration articles, 4 with public order.
    "k0": Item(
        "kurier",
        0,
        TPO,
        voices=("police", "official"),
        terms=(("loaded_term", "Illegale"),),
        hostile=0.8,
    ),
    "k0copy": Item("kurier", 0, TPO, copy_of="k0"),  # same story, same outlet: not counted
    "k0n1": Item("kurier", 0, None, migration=False),
    "k0n2": Item("kurier", 0, None, migration=False),
    "a0": Item("anzeiger", 0, TPO, voices=("migrant",)),
    "a0h": Item("anzeiger", 0, HERO),
    "k1": Item("kurier", 1, TPO, terms=(("metaphor", "Flüchtlingswelle"),)),
    "a2": Item("anzeiger", 2, TPO),
    "k3": Item("kurier", 3, HERO),
    **_before(),
    "aX": Item("anzeiger", None, "victim_humanitarian"),  # no publication date
    # Gdańsk
    "g0a": Item(
        "gazeta",
        0,
        "victim_humanitarian",
        voices=("migrant", "ngo"),
        terms=(("loaded_term", "nielegalni imigranci"),),
    ),
    "g0b": Item(
        "gazeta",
        0,
        "threat_invasion",
        terms=(("loaded_term", "nielegalni imigranci"), ("metaphor", "fala migrantów")),
    ),
    "g0c": Item("gazeta", 0, "hero_contribution", voices=("official",)),
    "g1": Item("gazeta", 1, "victim_humanitarian"),
    # São Paulo
    "f0a": Item("folha", 0, "victim_discrimination", voices=("migrant",)),
    "f0b": Item("folha", 0, "hero_contribution", terms=(("metaphor", "onda migratória"),)),
}


def text_of(aid: str) -> str:
    """The article's text: its own words (the copy's are its original's) and its terms."""
    item = ITEMS[aid]
    original = item.copy_of or aid
    words = " ".join(term for _, term in ITEMS[original].terms)
    return f"Meldung {original} aus der Stadt. {words}".strip()


def published(item: Item) -> datetime | None:
    """Publication time: LAST minus whole weeks, so each lands on a Thursday."""
    return None if item.weeks_back is None else LAST - timedelta(weeks=item.weeks_back)


def build_newsroom(path: Path) -> Path:
    """Store the newsroom with the store's own writes and close the writer."""
    con = open_store(path)
    upsert_sources(con, SOURCES)
    start_run(con, "run-1", "sources/test.yaml")
    articles, framings = [], []
    for i, (aid, item) in enumerate(ITEMS.items()):
        text = text_of(aid)
        article = make_article(
            aid,
            item.source,
            text,
            published_at=published(item),
            fetched_at=LAST + timedelta(minutes=i),  # a copy is fetched after its original
            content_hash=f"h-{item.copy_of or aid}",
        )
        lang = LANG[item.source]
        articles.append(replace(article, lang=lang, declared_lang=lang))
        framings.append(_framing(aid, item, text, lang))
    insert_articles(con, articles, "run-1")
    save_framings(con, framings)
    finish_run(con, "run-1", "completed", articles_new=len(articles))
    con.close()
    return path


def _framing(aid: str, item: Item, text: str, lang: str) -> Framing:
    """The factory's framing with this item's terms and quotations."""
    terms = tuple(
        TermHit(
            kind,
            term,
            text.index(term),
            text.index(term) + len(term),
            term,
            CATEGORY[kind],
            ALTERNATIVES.get(term, ()),
        )
        for kind, term in item.terms
    )
    quotes = tuple(
        Quote(0, 7, "Meldung", f"Sprecher {i}", -1, -1, category, "sagte")
        for i, category in enumerate(item.voices)
    )
    base = framing(aid, text, item.frame, migration=item.migration, terms=terms)
    return replace(base, lang=lang, quotes=quotes, hostile=item.hostile)


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The newsroom database, built once per module; tests open it read-only."""
    return build_newsroom(tmp_path_factory.mktemp("newsroom") / "news.duckdb")


@pytest.fixture(scope="module")
def exported(newsroom: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The newsroom exported as Parquet once, for the read-back tests."""
    out = tmp_path_factory.mktemp("export")
    with open_readonly(newsroom) as con:
        export(con, out, "parquet")
    return out


def view_counts(db: Path, dataset: str) -> Counter[tuple[str, str]]:
    """Rows per (week, city) of a v1 view in the database."""
    with open_readonly(db) as con:
        rows = con.execute(f"SELECT week, city, count(*) FROM v1.{dataset} GROUP BY ALL").fetchall()
    return Counter({(w, c): n for w, c, n in rows})


def duckdb_counts(glob: str, reader: str = "read_parquet") -> Counter[tuple[str, str]]:
    """Rows per (week, city) of exported files, read by DuckDB with Hive partitioning."""
    rows = (
        duckdb.connect()
        .execute(
            f"SELECT week, city, count(*) FROM {reader}(?, hive_partitioning = true) GROUP BY ALL",
            [glob],
        )
        .fetchall()
    )
    return Counter({(w, c): n for w, c, n in rows})


def test_the_newsroom_covers_what_the_export_must_handle(newsroom: Path) -> None:
    """Guards the fixture: a city with a space and non-ASCII letters, an undated article,
    a republished copy and articles not about migration."""
    with open_readonly(newsroom) as con:
        cities = {c for (c,) in con.execute("SELECT DISTINCT city FROM v1.articles").fetchall()}
        flags = con.execute(
            "SELECT count(*) FILTER (WHERE week = 'unknown'),"
            " count(*) FILTER (WHERE is_migration AND NOT counted),"
            " count(*) FILTER (WHERE NOT is_migration) FROM v1.articles"
        ).fetchall()
    assert {"São Paulo", "Gdańsk", "Oberhausen"} <= cities
    assert flags == [(1, 1, 2)]


def test_layout_is_hive_partitioned_by_week_and_city(exported: Path) -> None:
    frames = exported / "frames"
    assert sorted(p.name for p in exported.iterdir()) == sorted(DATASETS)
    # Folder names are percent-encoded UTF-8; the readers decode them (tests below).
    assert list((frames / f"week={LAST_WEEK}" / "city=S%C3%A3o%20Paulo").glob("*.parquet"))
    assert list((frames / f"week={LAST_WEEK}" / "city=Gda%C5%84sk").glob("*.parquet"))
    assert list((exported / "articles" / "week=unknown" / "city=Oberhausen").glob("*.parquet"))
    assert not list(exported.glob("**/*HIVE_DEFAULT*"))
    assert not [p for p in exported.iterdir() if p.name.startswith(".")]  # staging removed


@pytest.mark.parametrize("dataset", DATASETS)
def test_duckdb_reads_back_the_rows_of_each_view(
    newsroom: Path, exported: Path, dataset: str
) -> None:
    expected = view_counts(newsroom, dataset)
    assert expected  # each view has rows in the newsroom, so the comparison means something
    assert duckdb_counts(str(exported / dataset / "**" / "*.parquet")) == expected


def test_exported_columns_are_the_views_columns(newsroom: Path, exported: Path) -> None:
    with open_readonly(newsroom) as con:
        view = con.execute("SELECT * FROM v1.frames LIMIT 0").description
    read = (
        duckdb.connect()
        .execute(
            "SELECT * FROM read_parquet(?, hive_partitioning = true) LIMIT 0",
            [str(exported / "frames" / "**" / "*.parquet")],
        )
        .description
    )
    # Partition columns come back last, as strings, as every Hive reader gives them.
    assert view is not None and read is not None
    assert sorted(d[0] for d in read) == sorted(d[0] for d in view)


def test_pyarrow_and_pandas_read_back_identical_values(newsroom: Path, exported: Path) -> None:
    expected = view_counts(newsroom, "frames")
    table = ds.dataset(exported / "frames", format="parquet", partitioning="hive").to_table()
    arrow = Counter(zip(table["week"].to_pylist(), table["city"].to_pylist(), strict=True))
    frame = pd.read_parquet(exported / "frames")
    pandas = Counter(zip(frame["week"].astype(str), frame["city"].astype(str), strict=True))
    assert arrow == expected
    assert pandas == expected


def test_pandas_filters_on_a_non_ascii_partition(exported: Path) -> None:
    frame = pd.read_parquet(exported / "articles", filters=[("city", "=", "São Paulo")])
    assert sorted(frame["id"]) == ["f0a", "f0b"]


def test_reexport_replaces_instead_of_adding(newsroom: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with open_readonly(newsroom) as con:
        export(con, out, "parquet")
        files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
        again = export(con, out, "parquet")
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == files
    assert {d.name: d.rows for d in again} == {
        d: sum(view_counts(newsroom, d).values()) for d in DATASETS
    }
    assert duckdb_counts(str(out / "terms" / "**" / "*.parquet")) == view_counts(newsroom, "terms")


def test_reexport_drops_partitions_that_no_longer_exist(tmp_path: Path) -> None:
    db = build_newsroom(tmp_path / "news.duckdb")
    out = tmp_path / "out"
    with open_readonly(db) as con:
        export(con, out, "parquet", ["articles"])
    con = open_store(db)
    con.execute("UPDATE sources SET city = 'Porto Alegre' WHERE id = 'folha'")
    con.close()
    with open_readonly(db) as con:
        export(con, out, "parquet", ["articles"])
    cities = {p.name for p in (out / "articles").glob("week=*/city=*")}
    assert "city=Porto%20Alegre" in cities and "city=S%C3%A3o%20Paulo" not in cities


def test_csv_has_a_header_and_the_same_partitions(newsroom: Path, tmp_path: Path) -> None:
    with open_readonly(newsroom) as con:
        (written,) = export(con, tmp_path, "csv", ["terms"])
    first = next(written.path.glob(f"week={LAST_WEEK}/city=Gda%C5%84sk/*.csv"))
    header = first.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:2] == ["article_id", "source_id"]  # week and city are the folders
    assert "term" in header and "week" not in header
    glob = str(written.path / "**" / "*.csv")
    assert duckdb_counts(glob, "read_csv") == view_counts(newsroom, "terms")


def test_unknown_format_or_dataset_writes_nothing(newsroom: Path, tmp_path: Path) -> None:
    with open_readonly(newsroom) as con:
        with pytest.raises(ValueError, match="unknown format"):
            export(con, tmp_path / "a", "xlsx")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="unknown dataset 'texts'"):
            export(con, tmp_path / "b", "parquet", ["articles", "texts"])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_exports_and_prints_a_table(newsroom: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["export", "--format", "parquet", "--out", str(tmp_path), "--db", str(newsroom)],
        env={"COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert result.exit_code == 0, result.output
    voices = sum(view_counts(newsroom, "voices").values())
    cells = [[c.strip() for c in line.split("│")[1:3]] for line in result.output.splitlines()]
    assert ["voices", str(voices)] in cells
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(DATASETS)


def test_cli_refuses_an_unknown_format(newsroom: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["export", "--format", "xml", "--out", str(tmp_path), "--db", str(newsroom)]
    )
    assert result.exit_code != 0 and "unknown format" in result.output


def test_a_failed_export_leaves_the_previous_one(newsroom: Path, tmp_path: Path) -> None:
    with open_readonly(newsroom) as con:
        export(con, tmp_path, "parquet", ["voices"])
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    with pytest.raises(duckdb.CatalogException):
        export(duckdb.connect(), tmp_path, "parquet", ["voices"])  # a database without v1
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == files
    assert [p.name for p in tmp_path.iterdir()] == ["voices"]  # no staging folder left
