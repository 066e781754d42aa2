from datetime import UTC, datetime

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import store
from pipeline.records import Article, Cue, Evidence, Framing, Quote, Source, TermHit

SOURCE = Source("s1", "Outlet", "Oberhausen", "DE", "de", feeds=("http://x/rss",))


def article(i: int, text: str = "Ein Text über die Stadt. " * 20, source: str = "s1") -> Article:
    return Article(
        id=f"id{i:04d}",
        url=f"http://x/{i}",
        requested_url=f"http://x/{i}",
        canonical_url=f"http://x/{i}",
        source_id=source,
        lang="de",
        declared_lang="de",
        title=f"Titel {i}",
        text=text,
        author="A",
        published_at=datetime(2026, 11, 20, 8, tzinfo=UTC),
        date_source="feed",
        fetched_at=datetime(2026, 11, 21, tzinfo=UTC),
        content_hash=f"h{hash(text)}",
    )


def test_migrations_are_recorded_once(db: duckdb.DuckDBPyConnection) -> None:
    assert store.schema_version(db) == len(store.migrations())
    assert store.migrate(db) == []  # nothing left to apply on a second open


def test_rerun_does_not_duplicate(db: duckdb.DuckDBPyConnection) -> None:
    store.upsert_sources(db, [SOURCE])
    first = store.insert_articles(db, [article(1), article(2)], "r1")
    again = store.insert_articles(db, [article(1), article(2), article(3, "anders " * 50)], "r2")
    assert len(first) == 2 and again == ["id0003"]
    assert db.execute("SELECT count(*) FROM articles").fetchone() == (3,)


def test_identical_text_points_at_the_first_copy(db: duckdb.DuckDBPyConnection) -> None:
    store.insert_articles(db, [article(1), article(2)], "r1")
    rows = db.execute("SELECT id, duplicate_of FROM articles ORDER BY id").fetchall()
    assert rows == [("id0001", None), ("id0002", "id0001")]


def test_framings_round_trip_and_views(db: duckdb.DuckDBPyConnection) -> None:
    store.upsert_sources(db, [SOURCE])
    store.insert_articles(db, [article(1)], "r1")
    framing = Framing(
        article_id="id0001",
        lang="de",
        migration=True,
        migration_score=0.9,
        frames={"threat_public_order": 0.8, "hero_integration": 0.1},
        labels=("threat_public_order",),
        group="threat",
        hostile=0.2,
        evidence=(Evidence("threat_public_order", 0.8, 0, 10, "Ein Text ü"),),
        terms=(TermHit("metaphor", "welle", 3, 8, "Welle", "water"),),
        model_version="m1",
    )
    framing = Framing(
        **{
            **framing.__dict__,
            "evidence": (
                Evidence(
                    "threat_public_order",
                    0.8,
                    0,
                    10,
                    "Ein Text ü",
                    (Cue(4, 8, "Text", 0.6, "attribution"),),
                ),
                Evidence("threat_public_order", 0.5, 11, 20, "Zweiter S"),
            ),
            "quotes": (Quote(0, 8, "Ein Text", "Polizei", 11, 18, "police", "sagte"),),
            "evidence_counts": {"threat_public_order": 2, "hero_integration": 0},
        }
    )
    store.save_framings(db, [framing])
    store.save_framings(db, [framing])  # replacing, not appending
    assert db.execute("SELECT count(*) FROM article_frames").fetchone() == (2,)
    assert db.execute("SELECT count(*) FROM article_terms").fetchone() == (1,)
    frame = db.execute(
        "SELECT evidence, evidence_count FROM article_frames WHERE frame = 'threat_public_order'"
    ).fetchall()
    assert frame == [("Ein Text ü", 2)]  # the best sentence, not the runner-up
    evidence = db.execute("SELECT rank, score, cues FROM article_evidence ORDER BY rank").fetchall()
    assert [(r, s) for r, s, _ in evidence] == [(1, 0.8), (2, 0.5)]
    assert evidence[0][2] == [
        {"word": "Text", "start_char": 4, "end_char": 8, "weight": 0.6, "source": "attribution"}
    ]
    assert evidence[1][2] == []
    voices = db.execute("SELECT speaker_category, quotes FROM article_voices").fetchall()
    assert voices == [("police", 1)]
    week = db.execute("SELECT week, city, frame, articles, share FROM weekly_frames").fetchall()
    assert week == [("2026-W47", "Oberhausen", "threat_public_order", 1, 1.0)]
    assert store.articles_to_classify(db, "m1") == []


def test_a_failed_batch_leaves_nothing(db: duckdb.DuckDBPyConnection) -> None:
    store.insert_articles(db, [article(1)], "r1")
    bad = Framing(
        "id0001", "de", True, 0.9, {"x": float("nan")}, (), "none", 0.0, (), model_version=None
    )  # type: ignore[arg-type]  # NOT NULL violation
    with pytest.raises(duckdb.Error):
        store.save_framings(db, [bad])
    assert db.execute("SELECT count(*) FROM article_frames").fetchone() == (0,)
    assert db.execute("SELECT model_version FROM articles").fetchone() == (None,)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=400), title=st.text(max_size=80))
def test_any_text_round_trips(db: duckdb.DuckDBPyConnection, text: str, title: str) -> None:
    a = Article(
        **{
            **article(9).__dict__,
            "id": f"p{abs(hash((text, title)))}",
            "text": text,
            "title": title,
        }
    )
    store.insert_articles(db, [a], "r")
    assert db.execute("SELECT title, text FROM articles WHERE id = ?", [a.id]).fetchone() == (
        title,
        text,
    )


def test_schema_doc_is_current() -> None:
    from pathlib import Path

    from pipeline.schema_doc import generate

    doc = Path(__file__).parents[2] / "docs" / "schema.md"
    assert doc.read_text(encoding="utf-8") == generate(), (
        "docs/schema.md is stale: run `python -m pipeline.schema_doc > docs/schema.md`"
    )


def test_every_column_is_documented() -> None:
    from pipeline.schema_doc import generate

    assert "|  |" not in generate()


def test_reader_meets_a_running_writer_with_a_clear_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    path = tmp_path / "busy.duckdb"
    store.open_store(path).close()
    # Another process holds the read-write connection, as a running ingest does.
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(path)!r}); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        with pytest.raises(store.DatabaseBusy, match="running ingest"):
            store.open_readonly(path)
    finally:
        writer.kill()
        writer.wait()


def test_a_text_republished_by_one_outlet_counts_once_there(
    db: duckdb.DuckDBPyConnection,
) -> None:
    """Same text: twice in s2 (counts once) and once in s1 (counts once for s1)."""
    other = Source("s2", "Other", "Oberhausen", "DE", "de", feeds=("http://y/rss",))
    store.upsert_sources(db, [SOURCE, other])
    text = "Gleicher Agenturtext über die Unterkunft. " * 10
    store.insert_articles(
        db, [article(1, text), article(2, text, "s2"), article(3, text, "s2")], "r1"
    )
    frame = {"threat_fiscal": 0.9}
    store.save_framings(
        db,
        [
            Framing(
                f"id{i:04d}",
                "de",
                True,
                0.9,
                frame,
                ("threat_fiscal",),
                "threat",
                0.0,
                (),
                model_version="m",
            )
            for i in (1, 2, 3)
        ],
    )
    rows = db.execute(
        "SELECT source, articles, migration_articles FROM weekly_frames ORDER BY source"
    ).fetchall()
    assert rows == [("s1", 1, 1), ("s2", 1, 1)]
