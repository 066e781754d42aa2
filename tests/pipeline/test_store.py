from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import dedup, store
from pipeline.records import (
    Article,
    Cue,
    Evidence,
    FetchedPage,
    FetchOutcome,
    Framing,
    Quote,
    Source,
    TermHit,
)
from pipeline.urls import url_key
from tests.factories import make_article
from tests.pipeline.test_dedup import EDITED, SAME_EVENT, SYNDICATED, WIRE

SOURCE = Source("s1", "Outlet", "Oberhausen", "DE", "de", feeds=("http://x/rss",))


def article(i: int, text: str = "Ein Text über die Stadt. " * 20, source: str = "s1") -> Article:
    return make_article(
        f"id{i:04d}", source, text, title=f"Titel {i}", url=f"http://x/{i}", author="A"
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
        "id0001",
        "de",
        True,
        0.9,
        {"x": float("nan")},
        (),
        "none",
        0.0,
        (),
        model_version=None,  # type: ignore[arg-type]  # NOT NULL violation
    )
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


def test_reader_meets_a_running_writer_with_a_clear_message(tmp_path: Path) -> None:
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


# --- issue 4: migration 003, raw pages, re-extraction, feed state, stories ----------------

MIGRATIONS = Path(__file__).parents[2] / "pipeline" / "migrations"


def long_text(tag: object) -> str:
    """A text long enough for a signature; different tags give different stories."""
    return " ".join(f"Absatz {n} über {tag} und die Unterkunft in der Stadt." for n in range(20))


def old_database(path: Path) -> None:
    """A database as migrations 001 and 002 left it, with a few classified articles."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL)"
    )
    for version, name in ((1, "001_initial.sql"), (2, "002_evidence_voice_annotations.sql")):
        con.execute((MIGRATIONS / name).read_text(encoding="utf-8"))
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    con.execute(
        "INSERT INTO sources VALUES ('s1', 'Outlet', 'Oberhausen', 'DE', 'de', [], [], true,"
        " now()), ('s2', 'Other', 'Oberhausen', 'DE', 'de', [], [], true, now())"
    )
    # id0002 repeats id0001's text in s1 (counted once there); id0003 carries it in s2.
    for i, source, text_hash, day in (
        (1, "s1", "same", 20),
        (2, "s1", "same", 21),
        (3, "s2", "same", 21),
        (4, "s1", "other", 21),
    ):
        con.execute(
            "INSERT INTO articles (id, url, requested_url, canonical_url, source_id, lang,"
            " declared_lang, title, text, author, published_at, date_source, fetched_at,"
            " content_hash, duplicate_of, run_id, is_migration, model_version)"
            " VALUES (?, ?, ?, ?, ?, 'de', 'de', 't', ?, '', ?, 'feed', ?, ?, NULL, 'r0',"
            " true, 'm')",
            [
                f"id{i:04d}",
                f"http://x/{i}",
                f"http://x/{i}",
                f"http://x/{i}",
                source,
                long_text(text_hash),
                datetime(2026, 11, 20, 8),
                datetime(2026, 11, day, i),
                text_hash,
            ],
        )
        con.execute(
            "INSERT INTO article_frames VALUES (?, 'threat_fiscal', 0.9, true, NULL, NULL,"
            " NULL, 'm', 1)",
            [f"id{i:04d}"],
        )
    con.close()


WEEKLY = "SELECT source, articles, migration_articles FROM weekly_frames ORDER BY source"


def test_migration_003_upgrades_an_existing_database_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    old_database(path)
    with duckdb.connect(str(path)) as con:
        before = con.execute(WEEKLY).fetchall()
    assert before == [("s1", 2, 2), ("s2", 1, 1)]
    con = store.open_store(path)
    try:
        assert store.schema_version(con) == len(store.migrations())  # 003 and every later one
        assert con.execute("SELECT count(*) FROM article_frames").fetchone() == (4,)
        stories = con.execute("SELECT id, story_id FROM articles ORDER BY id").fetchall()
        # exact copies form one story named after the first copy; the rest their own
        assert stories == [
            ("id0001", "id0001"),
            ("id0002", "id0001"),
            ("id0003", "id0001"),
            ("id0004", "id0004"),
        ]
        assert con.execute(WEEKLY).fetchall() == before  # the figures do not move
        counted = con.execute(
            "SELECT id, story_id, counted FROM migration_articles ORDER BY id"
        ).fetchall()
        assert [c for _, _, c in counted] == [True, False, True, True]
    finally:
        con.close()


def page(
    i: int, html: str = "<html><body>" + "<p>Absatz</p>" * 200 + "</body></html>"
) -> FetchedPage:
    return FetchedPage(
        source_id="s1",
        url=f"http://x/{i}",
        requested_url=f"http://x/feed-link/{i}",
        html=html,
        encoding="cp1250",
        fetched_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
        feed_title=f"Feed title {i}",
        feed_published=datetime(2026, 11, 21, 7, tzinfo=UTC),
    )


def all_pages(db: duckdb.DuckDBPyConnection, **kw: Any) -> list[FetchedPage]:
    return [p for batch in store.raw_pages(db, **kw) for p in batch]


def test_raw_pages_round_trip_compressed(db: duckdb.DuckDBPyConnection) -> None:
    pages = [page(1), page(2)]
    assert store.save_raw_pages(db, pages, {"http://x/1": "id0001"}, maxsize=1_000_000) == 2
    sizes = db.execute(
        "SELECT html_bytes, octet_length(html_gz), article_id FROM raw_pages ORDER BY url"
    ).fetchall()
    assert [(b, a) for b, _, a in sizes] == [(2626, "id0001"), (2626, None)]
    assert all(gz < b / 10 for b, gz, _ in sizes)  # repetitive markup compresses well
    assert sorted(all_pages(db), key=lambda p: p.url) == pages
    assert [p.url for p in all_pages(db, failed_only=True)] == ["http://x/2"]


def test_a_page_over_maxsize_is_recorded_without_its_body(db: duckdb.DuckDBPyConnection) -> None:
    store.save_raw_pages(db, [page(1), page(2, "<p>kurz</p>")], {}, maxsize=100)
    rows = db.execute(
        "SELECT url, html_bytes, html_gz IS NULL, dropped FROM raw_pages ORDER BY url"
    ).fetchall()
    assert rows == [
        ("http://x/1", 2626, True, "larger than raw_html_maxsize (100 bytes)"),
        ("http://x/2", 11, False, None),
    ]
    assert [p.url for p in all_pages(db)] == ["http://x/2"]


def test_a_refetch_replaces_the_stored_page(db: duckdb.DuckDBPyConnection) -> None:
    store.save_raw_pages(db, [page(1)], {}, maxsize=10_000)
    newer = FetchedPage(**{**page(1).__dict__, "html": "<p>neu</p>"})
    store.save_raw_pages(db, [newer, newer], {"http://x/1": "id0001"}, maxsize=10_000)
    assert db.execute("SELECT count(*), any_value(article_id) FROM raw_pages").fetchone() == (
        1,
        "id0001",
    )
    assert [p.html for p in all_pages(db)] == ["<p>neu</p>"]


def test_raw_pages_reads_in_batches_filtered(db: duckdb.DuckDBPyConnection) -> None:
    later = [
        FetchedPage(**{**page(i).__dict__, "fetched_at": datetime(2026, 12, 1, tzinfo=UTC)})
        for i in range(3, 8)
    ]
    other = FetchedPage(**{**page(9).__dict__, "source_id": "s2"})
    store.save_raw_pages(db, [page(1), page(2), *later, other], {}, maxsize=10_000)
    batches = list(store.raw_pages(db, batch=2))
    assert [len(b) for b in batches] == [2, 2, 2, 2]
    since = all_pages(db, since=datetime(2026, 11, 30, tzinfo=UTC))
    assert sorted(p.url for p in since) == [f"http://x/{i}" for i in range(3, 8)]
    assert [p.url for p in all_pages(db, source_id="s2")] == ["http://x/9"]


# Any text, lone surrogates included (st.text() and st.characters() leave them out).
ANY_TEXT = st.lists(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=300).map(
    "".join
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(html=ANY_TEXT)
def test_any_html_round_trips_exactly(db: duckdb.DuckDBPyConnection, html: str) -> None:
    # a page decoded with errors="surrogateescape" carries lone surrogates: it must survive
    store.save_raw_pages(db, [page(1, html)], {}, maxsize=10_000)
    assert [p.html for p in all_pages(db)] == [html]


def test_purge_drops_old_bodies_and_keeps_the_record(db: duckdb.DuckDBPyConnection) -> None:
    old = FetchedPage(**{**page(1).__dict__, "fetched_at": datetime(2026, 1, 1, tzinfo=UTC)})
    store.save_raw_pages(db, [old, page(2)], {"http://x/1": "id0001"}, maxsize=10_000)
    assert store.purge_raw_pages(db, datetime(2026, 6, 1, tzinfo=UTC)) == 1
    assert store.purge_raw_pages(db, datetime(2026, 6, 1, tzinfo=UTC)) == 0
    rows = db.execute(
        "SELECT url, html_gz IS NULL, dropped, article_id FROM raw_pages ORDER BY url"
    ).fetchall()
    assert rows == [
        ("http://x/1", True, "retention: fetched before 2026-06-01 00:00", "id0001"),
        ("http://x/2", False, None, None),
    ]


def test_a_page_that_failed_extraction_is_known_and_not_fetched_again(
    db: duckdb.DuckDBPyConnection,
) -> None:
    store.store_crawl(db, "r1", [], [], pages=[page(1)])
    known = store.known_keys(db, ["s1"])
    assert {url_key("http://x/1"), url_key("http://x/feed-link/1")} <= known
    assert url_key("http://x/1?utm_source=feed#top") in known  # canonical forms match
    assert url_key("http://x/2") not in known
    assert store.known_keys(db, ["s2"]) == frozenset()  # keys are per outlet


def test_every_url_form_of_an_article_is_known(db: duckdb.DuckDBPyConnection) -> None:
    a = Article(
        **{
            **article(1).__dict__,
            "url": "http://x/1?ref=rss",
            "requested_url": "http://feeds.x/~r/1",
            "canonical_url": "http://x/artikel-1",
        }
    )
    b = article(2, source="s2")
    store.store_crawl(db, "r1", [a, b], [])
    known = store.known_keys(db, ["s1"])
    assert {url_key(u) for u in ("http://x/1", "http://feeds.x/~r/1", "http://x/artikel-1")} <= (
        known
    )
    assert url_key(b.url) not in known
    assert url_key(b.url) in store.known_keys(db, ["s1", "s2"])


def test_rows_stored_before_url_keys_are_keyed_once(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    old_database(path)  # articles from migrations 001 + 002, without keys
    con = store.open_store(path)
    try:
        assert con.execute("SELECT count(*) FROM url_keys").fetchone() == (0,)
        store.save_raw_pages(con, [page(7)], {}, maxsize=10_000)
        con.execute("DELETE FROM url_keys")  # as if stored outside the store
        assert store.backfill_url_keys(con, batch=2) == 5  # 4 articles, 1 page, 2 at a time
        assert store.backfill_url_keys(con) == 0  # idempotent: nothing left to key
        known = store.known_keys(con, ["s1", "s2"])
        assert {url_key(f"http://x/{i}") for i in (1, 2, 3, 4, 7)} <= known
        assert url_key("http://x/feed-link/7") in known
        assert store.known_keys(con, ["s2"]) >= {url_key("http://x/3")}
        count = con.execute("SELECT count(*) FROM url_keys").fetchone()
        store.known_keys(con, ["s1"])
        assert con.execute("SELECT count(*) FROM url_keys").fetchone() == count
    finally:
        con.close()


def test_store_crawl_is_one_transaction(db: duckdb.DuckDBPyConnection) -> None:
    ok = FetchOutcome("s1", "http://x/rss", "feed", 200, None, datetime.now(UTC), etag='"e"')
    # fetch_log takes a row without an outlet, feed_state does not: the LAST write fails
    bad = FetchOutcome(None, "http://x/atom", "feed", 200, None, datetime.now(UTC))  # type: ignore[arg-type]
    with pytest.raises(duckdb.ConstraintException, match=r"feed_state\.source_id"):
        store.store_crawl(db, "r1", [article(1)], [ok, bad], pages=[page(1)])
    for table in ("articles", "article_signatures", "raw_pages", "fetch_log", "feed_state"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
    assert store.store_crawl(db, "r2", [article(1)], [ok], pages=[page(1)]) == ["id0001"]


def framing(i: int) -> Framing:
    return Framing(
        f"id{i:04d}",
        "de",
        True,
        0.9,
        {"threat_fiscal": 0.9},
        ("threat_fiscal",),
        "threat",
        0.1,
        (Evidence("threat_fiscal", 0.9, 0, 3, "Ein"),),
        terms=(TermHit("metaphor", "welle", 0, 3, "Ein", "water"),),
        quotes=(Quote(0, 3, "Ein", "", -1, -1, "unknown", ":"),),
        model_version="m1",
    )


def test_reextraction_resets_classification_only_when_the_text_changed(
    db: duckdb.DuckDBPyConnection,
) -> None:
    store.upsert_sources(db, [SOURCE])
    store.store_crawl(
        db,
        "r1",
        [article(1, long_text(1)), article(2, long_text(2))],
        [],
        pages=[page(1), page(2), page(3)],
    )
    store.save_framings(db, [framing(1), framing(2)])
    same = Article(**{**article(1, long_text(1)).__dict__, "author": "Neue Autorin"})
    edited = Article(**{**article(2).__dict__, "text": long_text("zwei"), "content_hash": "h2b"})
    revived = article(3, long_text(3))  # page 3 failed extraction before
    counts = store.update_reextracted(db, [same, edited, revived], "r2")
    assert counts == store.ReextractCounts(updated=2, reset=1, inserted=1)
    rows = db.execute(
        "SELECT id, author, content_hash, model_version FROM articles ORDER BY id"
    ).fetchall()
    assert rows == [
        ("id0001", "Neue Autorin", article(1, long_text(1)).content_hash, "m1"),
        ("id0002", "A", "h2b", None),
        ("id0003", "A", revived.content_hash, None),
    ]
    for table in store.CLASSIFICATION_TABLES:
        ids = db.execute(f"SELECT DISTINCT article_id FROM {table}").fetchall()
        assert ids == [("id0001",)], table
    assert [a[0] for a in store.articles_to_classify(db, "m1")] == ["id0002", "id0003"]
    linked = db.execute("SELECT url, article_id FROM raw_pages ORDER BY url").fetchall()
    assert linked == [("http://x/1", "id0001"), ("http://x/2", "id0002"), ("http://x/3", "id0003")]
    assert db.execute("SELECT count(*) FROM article_signatures").fetchone() == (3,)


def test_reextraction_unlinks_a_copy_whose_text_changed(db: duckdb.DuckDBPyConnection) -> None:
    text = long_text("gleich")
    store.insert_articles(db, [article(1, text), article(2, text)], "r1")
    changed = Article(**{**article(2).__dict__, "text": long_text("anders"), "content_hash": "x"})
    assert db.execute("SELECT story_id FROM articles WHERE id = 'id0002'").fetchone() == ("id0001",)
    store.update_reextracted(db, [changed], "r2")
    rows = db.execute("SELECT id, duplicate_of, story_id FROM articles ORDER BY id").fetchall()
    assert rows == [("id0001", None, "id0001"), ("id0002", None, "id0002")]


def stories(db: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return db.execute("SELECT id, story_id FROM articles ORDER BY id").fetchall()


def reextracted(i: int, text: str) -> Article:
    return article(i, text)  # same page, same id; only the text differs


@pytest.mark.parametrize("banner", [long_text("Cookies"), "Wir verwenden Cookies."])
def test_reextraction_splits_pages_that_were_all_a_cookie_banner(
    db: duckdb.DuckDBPyConnection, banner: str
) -> None:
    store.insert_articles(db, [article(i, banner) for i in (1, 2, 3)], "r1")
    assert {s for _, s in stories(db)} == {"id0001"}
    store.update_reextracted(db, [reextracted(i, long_text(i)) for i in (1, 2, 3)], "r2")
    assert stories(db) == [("id0001", "id0001"), ("id0002", "id0002"), ("id0003", "id0003")]


@pytest.mark.parametrize("banner", [long_text("Cookies"), "Wir verwenden Cookies."])
def test_reextraction_joins_pages_whose_texts_became_identical(
    db: duckdb.DuckDBPyConnection, banner: str
) -> None:
    store.insert_articles(db, [article(i, long_text(i)) for i in (1, 2, 3)], "r1")
    assert len({s for _, s in stories(db)}) == 3
    store.update_reextracted(db, [reextracted(i, banner) for i in (3, 2, 1)], "r2")
    assert stories(db) == [("id0001", "id0001"), ("id0002", "id0001"), ("id0003", "id0001")]


def test_the_rest_of_a_story_whose_first_article_changed_is_placed_again(
    db: duckdb.DuckDBPyConnection,
) -> None:
    text = long_text("gleich")
    store.insert_articles(db, [article(i, text) for i in (1, 2, 3)], "r1")
    store.update_reextracted(db, [reextracted(1, long_text("neu"))], "r2")
    # id0002 and id0003 still share a story, but no longer one named after id0001
    assert stories(db) == [("id0001", "id0001"), ("id0002", "id0002"), ("id0003", "id0002")]


def test_reextraction_with_a_new_canonical_url_updates_the_article_in_place(
    db: duckdb.DuckDBPyConnection,
) -> None:
    first = article(1, long_text(1))
    store.store_crawl(db, "r1", [first], [], pages=[page(1)])
    store.save_framings(db, [framing(1)])
    fixed = Article(
        **{
            **first.__dict__,
            "id": "new-id",
            "canonical_url": "http://x/artikel-1",
            "text": long_text("korrigiert"),
        }
    )
    counts = store.update_reextracted(db, [fixed], "r2")
    assert counts == store.ReextractCounts(updated=1, reset=1, inserted=0)
    rows = db.execute("SELECT id, canonical_url, text FROM articles").fetchall()
    assert rows == [("id0001", "http://x/artikel-1", long_text("korrigiert"))]
    assert db.execute("SELECT article_id FROM raw_pages").fetchall() == [("id0001",)]
    assert url_key("http://x/artikel-1") in store.known_keys(db, ["s1"])


@pytest.mark.parametrize(
    ("html", "article_ids", "maxsize"),
    [
        ("<html>" + "x" * 20_000 + "</html>", {"http://x/1": "id0001"}, 10_000),  # too large
        (page(1).html, {}, 10_000),  # extraction failed this time
        ("", {"http://x/1": "id0001"}, 10_000),  # no body
    ],
)
def test_a_refetch_never_replaces_good_html_with_worse(
    db: duckdb.DuckDBPyConnection, html: str, article_ids: dict[str, str], maxsize: int
) -> None:
    store.save_raw_pages(db, [page(1)], {"http://x/1": "id0001"}, maxsize=10_000)
    worse = FetchedPage(
        **{**page(1).__dict__, "html": html, "fetched_at": datetime(2026, 12, 1, tzinfo=UTC)}
    )
    store.save_raw_pages(db, [worse], article_ids, maxsize=maxsize)
    assert db.execute("SELECT article_id, dropped FROM raw_pages").fetchall() == [("id0001", None)]
    assert [p.html for p in all_pages(db)] == [page(1).html]


def test_a_refetch_of_a_failed_page_replaces_it_even_without_an_article(
    db: duckdb.DuckDBPyConnection,
) -> None:
    store.save_raw_pages(db, [page(1)], {}, maxsize=10_000)
    newer = FetchedPage(**{**page(1).__dict__, "html": "<p>neu</p>"})
    store.save_raw_pages(db, [newer], {}, maxsize=10_000)
    assert [p.html for p in all_pages(db)] == ["<p>neu</p>"]


def test_reextracting_an_old_page_does_not_join_a_later_story(
    db: duckdb.DuckDBPyConnection,
) -> None:
    t = datetime(2026, 11, 1, tzinfo=UTC)
    old = Article(**{**article(1, long_text("alt")).__dict__, "fetched_at": t})
    later = Article(**{**article(2, WIRE).__dict__, "fetched_at": t + timedelta(days=3)})
    copy = Article(**{**article(3, SYNDICATED).__dict__, "fetched_at": t + timedelta(days=4)})
    store.insert_articles(db, [old, later, copy], "r1")
    assert stories(db)[1:] == [("id0002", "id0002"), ("id0003", "id0002")]
    # the fixed extractor finds the wire story in the old page too: it stays its own story
    store.update_reextracted(db, [Article(**{**old.__dict__, "text": EDITED})], "r2")
    assert stories(db) == [("id0001", "id0001"), ("id0002", "id0002"), ("id0003", "id0002")]


def fail(url: str, error: str | None, at: datetime, status: int | None = None) -> FetchOutcome:
    return FetchOutcome(url.split("/")[2], url, "article", status, error, at)


def test_sources_whose_articles_failed_transiently_need_a_full_fetch(
    db: duckdb.DuckDBPyConnection,
) -> None:
    t = datetime(2026, 11, 21, 6, tzinfo=UTC)
    store.log_fetches(
        db,
        "r1",
        [
            fail("http://a/1", "HTTP 503", t, 503),
            fail("http://b/1", "timeout: no complete answer within 30 s", t),
            fail("http://c/1", "connection failed: Connection refused", t),
            fail("http://d/1", "HTTP 429", t, 429),
            fail("http://e/1", "HTTP 404", t, 404),  # permanent
            fail("http://f/1", "Forbidden by robots.txt", t),  # permanent
            fail("http://g/1", "HTTP 500", t - timedelta(days=2), 500),  # before `since`
            fail("http://h/1", "HTTP 502", t, 502),  # stored since: a later run got it
        ],
    )
    later = FetchedPage(
        **{**page(1).__dict__, "source_id": "h", "url": "http://h/1", "requested_url": "http://h/1"}
    )
    store.save_raw_pages(db, [later], {}, maxsize=10_000)  # fetched 09:00, after the failure
    since = t - timedelta(hours=1)
    assert store.sources_needing_full_fetch(db, since) == {"a", "b", "c", "d"}


def feed(status: int | None, error: str | None, at: datetime, **kw: Any) -> FetchOutcome:
    return FetchOutcome("s1", "http://x/rss", "feed", status, error, at, **kw)


def test_feed_state_follows_the_runs(db: duckdb.DuckDBPyConnection) -> None:
    t = datetime(2026, 11, 1, tzinfo=UTC)
    store.store_crawl(db, "r1", [], [feed(200, None, t, etag='"e1"', last_modified="L")])
    state = store.feed_states(db)["http://x/rss"]
    assert (state.etag, state.last_modified, state.last_full_fetch) == ('"e1"', "L", t)
    for i in range(1, 4):
        store.store_crawl(
            db, f"f{i}", [], [feed(None, "timeout", t + timedelta(hours=i))], disable_after=3
        )
    state = store.feed_states(db)["http://x/rss"]
    assert (state.consecutive_failures, state.disabled_at) == (3, t + timedelta(hours=3))
    assert state.etag == '"e1"' and state.last_success == t
    skipped = feed(None, None, t + timedelta(days=1), note="skipped: disabled after 3")
    store.store_crawl(db, "r5", [], [skipped], disable_after=3)
    assert store.feed_states(db)["http://x/rss"] == state
    store.update_feed_states(db, [feed(304, None, t + timedelta(days=9))], store.utc_now(), 3)
    state = store.feed_states(db)["http://x/rss"]
    assert (state.consecutive_failures, state.disabled_at) == (0, None)
    assert state.last_success == t + timedelta(days=9) and state.last_full_fetch == t


def test_article_outcomes_do_not_touch_feed_state(db: duckdb.DuckDBPyConnection) -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    outcome = FetchOutcome("s1", "http://x/1", "article", 404, "HTTP 404", at)
    store.store_crawl(db, "r1", [], [outcome])
    assert store.feed_states(db) == {}


def test_near_copies_share_a_story_and_count_once_per_outlet(
    db: duckdb.DuckDBPyConnection,
) -> None:
    other = Source("s2", "Other", "Oberhausen", "DE", "de", feeds=("http://y/rss",))
    store.upsert_sources(db, [SOURCE, other])
    first = article(1, WIRE)
    store.store_crawl(db, "r1", [first], [])
    later = first.fetched_at + timedelta(hours=5)
    republished = Article(**{**article(2, EDITED).__dict__, "fetched_at": later})
    syndicated = Article(**{**article(3, SYNDICATED, "s2").__dict__, "fetched_at": later})
    event = Article(**{**article(4, SAME_EVENT, "s2").__dict__, "fetched_at": later})
    store.store_crawl(db, "r2", [republished, syndicated, event], [])
    stories = db.execute("SELECT id, story_id FROM articles ORDER BY id").fetchall()
    assert stories == [
        ("id0001", "id0001"),
        ("id0002", "id0001"),
        ("id0003", "id0001"),
        ("id0004", "id0004"),
    ]
    notes = db.execute(
        "SELECT url, note FROM fetch_log WHERE run_id = 'r2' ORDER BY url"
    ).fetchall()
    assert notes == [
        ("http://x/2", "near-duplicate of http://x/1 (s1): same story"),
        ("http://x/3", "near-duplicate of http://x/1 (s1): same story"),
    ]
    store.save_framings(
        db,
        [
            Framing(**{**framing(i).__dict__, "evidence": (), "terms": (), "quotes": ()})
            for i in (1, 2, 3, 4)
        ],
    )
    assert db.execute(WEEKLY).fetchall() == [("s1", 1, 1), ("s2", 2, 2)]


def test_short_exact_copies_share_a_story(db: duckdb.DuckDBPyConnection) -> None:
    short = "Kurze Meldung der Polizei über einen Einbruch in der Innenstadt."
    store.insert_articles(db, [article(1, short), article(2, short, "s2")], "r1")
    assert db.execute("SELECT story_id FROM articles ORDER BY id").fetchall() == [
        ("id0001",),
        ("id0001",),
    ]


def test_articles_stored_before_signatures_are_signed_when_in_the_window(
    db: duckdb.DuckDBPyConnection,
) -> None:
    store.insert_articles(db, [article(1, WIRE)], "r1")
    db.execute("DELETE FROM article_signatures")  # as after migration 003
    later = Article(
        **{**article(2, SYNDICATED).__dict__, "fetched_at": datetime(2026, 11, 25, tzinfo=UTC)}
    )
    store.insert_articles(db, [later], "r2")
    assert db.execute("SELECT story_id FROM articles WHERE id = 'id0002'").fetchone() == ("id0001",)
    assert db.execute("SELECT count(*) FROM article_signatures").fetchone() == (2,)


def test_a_copy_after_the_window_is_a_new_story(db: duckdb.DuckDBPyConnection) -> None:
    store.insert_articles(db, [article(1, WIRE)], "r1")
    late = datetime(2026, 11, 21, tzinfo=UTC) + timedelta(days=dedup.WINDOW_DAYS + 1)
    store.insert_articles(
        db, [Article(**{**article(2, SYNDICATED).__dict__, "fetched_at": late})], "r2"
    )
    assert db.execute("SELECT story_id FROM articles WHERE id = 'id0002'").fetchone() == ("id0002",)
