"""articles.counted (migration 007) stays what the window in migration_articles computed.

Until migration 007 the view computed ``counted`` with a window over all migration articles;
now the store keeps it on articles. After every write that can change a story's migration
articles (crawl, classification both ways, re-extraction, purge) the stored column must equal
that old window, and a full ``refresh_counted`` (the store's own copy of the window) must
change nothing. The upgrade from schema 006 must fill it with exactly the old view's values.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import duckdb

from pipeline import retention, store
from pipeline.records import Article, Framing, Source
from tests import factories
from tests.factories import framing as make_framing
from tests.factories import make_article
from tests.pipeline.test_store import long_text

SOURCES = [
    Source("s1", "Eins", "Oberhausen", "DE", "de", feeds=("http://s1/rss",)),
    Source("s2", "Zwei", "Oberhausen", "DE", "de", feeds=("http://s2/rss",)),
]

# migration_articles.counted as migration 003 defined it (the window the column replaces).
OLD_WINDOW = """
SELECT a.id,
       row_number() OVER (PARTITION BY a.source_id, coalesce(a.story_id, a.id)
                          ORDER BY a.fetched_at, a.id) = 1 AS counted
FROM articles a JOIN sources s ON s.id = a.source_id
WHERE a.is_migration
ORDER BY a.id
"""


def article(i: int, text: str, source: str = "s1", hours: int = 0) -> Article:
    """Article id000<i>, fetched ``hours`` after the factory's fetch time."""
    a = make_article(f"id{i:04d}", source, text, url=f"http://{source}/{i}")
    return Article(**{**a.__dict__, "fetched_at": a.fetched_at + timedelta(hours=hours)})


def classify(db: duckdb.DuckDBPyConnection, ids: dict[str, bool]) -> None:
    """Store a classification for each id: about migration or not."""
    texts = dict(db.execute("SELECT id, text FROM articles WHERE id IN ?", [[*ids]]).fetchall())
    framings: list[Framing] = [
        make_framing(i, texts[i], "threat_public_order" if m else None, migration=m)
        for i, m in ids.items()
    ]
    store.save_framings(db, framings)


def counted_ids(db: duckdb.DuckDBPyConnection) -> list[str]:
    """The ids migration_articles counts."""
    rows = db.execute("SELECT id FROM migration_articles WHERE counted ORDER BY id").fetchall()
    return [r[0] for r in rows]


def assert_consistent(db: duckdb.DuckDBPyConnection) -> None:
    """Stored counted equals the old window; others are false; a full refresh changes nothing."""
    view = db.execute("SELECT id, counted FROM migration_articles ORDER BY id").fetchall()
    assert view == db.execute(OLD_WINDOW).fetchall()
    others = "SELECT count(*) FROM articles WHERE counted IS NOT false AND is_migration IS NOT true"
    assert db.execute(others).fetchall() == [(0,)]
    before = db.execute("SELECT id, counted FROM articles ORDER BY id").fetchall()
    store.refresh_counted(db)
    assert db.execute("SELECT id, counted FROM articles ORDER BY id").fetchall() == before


def copies(db: duckdb.DuckDBPyConnection) -> None:
    """One wire story: first in s1 (1), republished by s1 (2), syndicated to s2 twice (3, 5);
    and another story in s1 (4)."""
    store.upsert_sources(db, SOURCES)
    wire = long_text("Draht")
    store.insert_articles(db, [article(1, wire), article(4, long_text("anders"))], "r1")
    later = [article(2, wire, "s1", 2), article(3, wire, "s2", 3), article(5, wire, "s2", 4)]
    store.insert_articles(db, later, "r2")


def test_a_crawl_of_copies_stores_nothing_counted_until_classified(
    db: duckdb.DuckDBPyConnection,
) -> None:
    copies(db)
    assert db.execute("SELECT count(*) FROM articles WHERE counted").fetchall() == [(0,)]
    assert_consistent(db)
    classify(db, {f"id{i:04d}": True for i in (1, 2, 3, 4, 5)})
    assert counted_ids(db) == ["id0001", "id0003", "id0004"]
    assert_consistent(db)


def test_classification_flipping_both_ways_moves_the_count(db: duckdb.DuckDBPyConnection) -> None:
    copies(db)
    classify(db, {f"id{i:04d}": True for i in (1, 2, 3, 4, 5)})
    classify(db, {"id0001": False, "id0003": False})
    assert counted_ids(db) == ["id0002", "id0004", "id0005"]
    assert_consistent(db)
    classify(db, {"id0001": True})
    assert counted_ids(db) == ["id0001", "id0004", "id0005"]
    assert_consistent(db)


def test_random_classification_batches_keep_the_column_right(
    db: duckdb.DuckDBPyConnection,
) -> None:
    copies(db)
    rng = random.Random(7)
    ids = [f"id{i:04d}" for i in (1, 2, 3, 4, 5)]
    for _ in range(25):
        batch = rng.sample(ids, rng.randint(1, 3))
        classify(db, {i: rng.random() < 0.6 for i in batch})
        assert_consistent(db)


def test_reextraction_that_changes_stories_moves_the_count(db: duckdb.DuckDBPyConnection) -> None:
    copies(db)
    classify(db, {f"id{i:04d}": True for i in (1, 2, 3, 4, 5)})
    # 3 (counted in s2) gets its own text: its classification is reset and 5 counts in s2.
    store.update_reextracted(db, [article(3, long_text("neu"), "s2", 3)], "r3")
    assert counted_ids(db) == ["id0001", "id0004", "id0005"]
    assert_consistent(db)
    # The story's first article changes: the rest of the story (2, 5) is placed again.
    store.update_reextracted(db, [article(1, long_text("umgeschrieben"))], "r4")
    stories = db.execute("SELECT id, story_id FROM articles WHERE id IN ('id0002', 'id0005')")
    assert {s for _, s in stories.fetchall()} != {"id0001"}
    assert counted_ids(db) == ["id0002", "id0004", "id0005"]
    assert_consistent(db)


def test_a_purge_changes_no_count(db: duckdb.DuckDBPyConnection) -> None:
    copies(db)
    classify(db, {f"id{i:04d}": True for i in (1, 2, 3, 4, 5)})
    before = counted_ids(db)
    retention.purge(db, url="http://s1/1", reason="case 1", requested_by="test")
    assert db.execute("SELECT title FROM articles WHERE id = 'id0001'").fetchall() == [("",)]
    assert counted_ids(db) == before
    assert_consistent(db)


# Schema 006 rows: one story first in s1 (a1), republished there (a2), syndicated to s2 (a3)
# after an s2 copy that is not about migration (a6); an article not about migration (a4);
# one written without a story (a5: its own story); one not classified yet (a7).
ROWS_AT_006 = [
    "INSERT INTO sources VALUES ('s1', 'Eins', 'Oberhausen', 'DE', 'de', [], [], true,"
    " '2026-11-01'), ('s2', 'Zwei', 'Gdańsk', 'PL', 'pl', [], [], true, '2026-11-01')",
    "INSERT INTO articles (id, url, requested_url, canonical_url, source_id, lang,"
    " declared_lang, title, text, author, published_at, date_source, fetched_at, content_hash,"
    " run_id, is_migration, story_id) VALUES"
    " ('a1', 'u1', 'u1', 'u1', 's1', 'de', 'de', 't', 'x', '', NULL, 'none', '2026-11-18 06:01',"
    "  'h1', 'r', true, 'a1'),"
    " ('a2', 'u2', 'u2', 'u2', 's1', 'de', 'de', 't', 'x', '', NULL, 'none', '2026-11-18 07:00',"
    "  'h1', 'r', true, 'a1'),"
    " ('a3', 'u3', 'u3', 'u3', 's2', 'de', 'de', 't', 'x', '', NULL, 'none', '2026-11-18 08:00',"
    "  'h1', 'r', true, 'a1'),"
    " ('a6', 'u6', 'u6', 'u6', 's2', 'de', 'de', 't', 'x', '', NULL, 'none', '2026-11-18 07:30',"
    "  'h1', 'r', false, 'a1'),"
    " ('a4', 'u4', 'u4', 'u4', 's1', 'de', 'de', 't', 'y', '', NULL, 'none', '2026-11-18 06:00',"
    "  'h4', 'r', false, 'a4'),"
    " ('a5', 'u5', 'u5', 'u5', 's1', 'de', 'de', 't', 'z', '', NULL, 'none', '2026-11-18 06:00',"
    "  'h5', 'r', true, NULL),"
    " ('a7', 'u7', 'u7', 'u7', 's2', 'de', 'de', 't', 'x', '', NULL, 'none', '2026-11-18 05:00',"
    "  'h1', 'r', NULL, 'a1')",
]


def database_at_006(path: Path) -> None:
    """A database that migrations 001-006 made, with ROWS_AT_006 in it."""
    factories.database_at(path, 6, ROWS_AT_006)


def test_the_upgrade_from_006_fills_counted_as_the_old_view_computed(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    database_at_006(path)
    with duckdb.connect(str(path)) as old:
        expected = old.execute("SELECT id, counted FROM migration_articles ORDER BY id").fetchall()
    assert expected == [("a1", True), ("a2", False), ("a3", True), ("a5", True)]
    db = store.open_store(path)
    try:
        assert store.schema_version(db) == 7
        view = db.execute("SELECT id, counted FROM migration_articles ORDER BY id").fetchall()
        assert view == expected
        assert_consistent(db)
    finally:
        db.close()
