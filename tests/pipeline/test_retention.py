"""Retention and purge on a real DuckDB file: what goes, what stays, and that every figure
and report stays the same."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from dashboards import queries
from dashboards.report import build_report, render
from models.labels import load_labels
from pipeline import aggregate, pack, retention, store
from pipeline.cli import app
from pipeline.records import (
    Annotation,
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
from tests import factories

NOW = datetime(2027, 6, 1, 12, tzinfo=UTC)
OLD = datetime(2026, 3, 3, 9, tzinfo=UTC)  # more than TEXT_DAYS before NOW
NEW = datetime(2027, 5, 25, 9, tzinfo=UTC)
OLD_WEEK = aggregate.days(date(2026, 3, 2), date(2026, 3, 9))
TEXT_DAYS, RAW_DAYS, LIMIT = 365, 180, 80
FRAME = "threat_public_order"
CUE = "kriminelle Banden"
MODEL = "test-model"
SOURCES = [
    Source("kurier", "Stadtkurier", "Oberhausen", "DE", "de", feeds=("http://kurier/rss",)),
    Source("anzeiger", "Anzeiger", "Oberhausen", "DE", "de", feeds=("http://anzeiger/rss",)),
]


@dataclass(frozen=True)
class Doc:
    """One test article: its record and where its parts stand in the text."""

    article: Article
    lead: str
    long: str
    quote: str
    speaker: str


def doc(aid: str, source: str, at: datetime, n: int, copy_of: str | None = None) -> Doc:
    """An article with a short lead, a long evidence sentence with the cue in the middle,
    and a long quotation by a private person (her name also in title and URL)."""
    lead = f"Bericht {n} aus der Stadt über die Lage am Bahnhof."
    # Words of its own in every five: no two test articles are near-duplicates of a story.
    long = (
        "Nach Angaben der Polizei "
        + f"zogen am späten Abend{n} " * 6
        + CUE
        + f" durch die Innenstadt{n}" * 6
        + " und verbreiteten Angst."
    )
    speaker = f"Gerda Privatfrau{n}"
    quote = f"Wir haben Angst um unsere Kinder{n}, " * 5 + "jeden Abend"
    text = "\n".join([lead, long, f'"{quote}", sagte Anwohnerin {speaker}.'])
    url = f"http://{source}/lokales/{speaker.lower().replace(' ', '-')}-{aid}"
    return Doc(
        Article(
            id=aid,
            url=url,
            requested_url=url + "?utm_source=rss",
            canonical_url=url,
            source_id=source,
            lang="de",
            declared_lang="de",
            title=f"Schlagzeile über {speaker}",
            text=text,
            author=f"Autorin {n}",
            published_at=at,
            date_source="feed",
            fetched_at=at,
            content_hash=f"h-{copy_of or aid}",
        ),
        lead,
        long,
        quote,
        speaker,
    )


def framing(d: Doc, score: float) -> Framing:
    """FRAME assigned with the long sentence (cue inside) as best evidence and the lead as the
    second; every other label scored low on the lead; one term, one quotation."""
    text = d.article.text
    lead, long = (text.index(d.lead), len(d.lead)), (text.index(d.long), len(d.long))
    cue = text.index(CUE)
    codes = load_labels().codes
    evidence = [
        Evidence(
            FRAME,
            score,
            long[0],
            sum(long),
            d.long,
            (Cue(cue, cue + len(CUE), CUE, 0.8, "attribution"),),
        ),
        Evidence(
            FRAME, 0.4, lead[0], sum(lead), d.lead, (Cue(0, 7, "Bericht", 0.1, "attribution"),)
        ),
        *(Evidence(c, 0.05, lead[0], sum(lead), d.lead) for c in codes if c != FRAME),
    ]
    q, s = text.index(d.quote), text.index(d.speaker)
    return Framing(
        article_id=d.article.id,
        lang="de",
        migration=True,
        migration_score=0.9,
        frames={c: (score if c == FRAME else 0.05) for c in codes},
        labels=(FRAME,),
        group="threat",
        hostile=0.3,
        evidence=tuple(evidence),
        terms=(TermHit("metaphor", "flut", cue, cue + 10, "kriminelle", "water"),),
        quotes=(
            Quote(
                q, q + len(d.quote), d.quote, d.speaker, s, s + len(d.speaker), "citizen", "sagte"
            ),
        ),
        model_version=MODEL,
        evidence_counts={FRAME: 1},
    )


def page(a: Article) -> FetchedPage:
    """The raw page an article came from."""
    html = f"<html><title>{a.title}</title><body>{a.text}</body></html>"
    return FetchedPage(a.source_id, a.url, a.requested_url, html, "utf-8", a.fetched_at, a.title)


OLD1 = doc("old1", "kurier", OLD, 1)
OLD2 = doc("old2", "kurier", OLD + timedelta(days=1), 2)
COPY = doc("copy1", "anzeiger", OLD + timedelta(days=1), 3, copy_of="old1")  # same hash
NEW1 = doc("new1", "kurier", NEW, 4)
NEW2 = doc("new2", "anzeiger", NEW, 5)
DOCS = [OLD1, OLD2, COPY, NEW1, NEW2]
SCORES = {"old1": 0.95, "old2": 0.9, "copy1": 0.85, "new1": 0.9, "new2": 0.8}


def build(con: duckdb.DuckDBPyConnection) -> None:
    """Sources, articles with raw pages and fetch log, classification, an alert quoting the
    old articles, and a reviewer's annotation."""
    store.upsert_sources(con, SOURCES)
    for d in DOCS:  # one crawl per article, in order, so the copy is noted as a copy
        a = d.article
        outcome = FetchOutcome(a.source_id, a.url, "article", 200, None, a.fetched_at)
        store.store_crawl(con, "run1", [a], [outcome], pages=[page(a)])
    store.save_framings(con, [framing(d, SCORES[d.article.id]) for d in DOCS])
    examples = [
        {"article_id": d.article.id, "title": d.article.title, "url": d.article.url,
         "outlet": "Stadtkurier", "published_at": OLD.replace(tzinfo=None), "sentence": d.long}
        for d in (OLD1, OLD2)
    ]  # fmt: skip
    con.execute(
        "INSERT INTO alerts (id, created_at, period_start, period_end, scope, city, lang, kind,"
        " subject, articles, total, share, baseline_articles, baseline_total, baseline_share,"
        " evidence, query) VALUES ('al1', now(), ?, ?, 'city', 'Oberhausen', 'de', 'frame', ?,"
        " 3, 3, 1.0, 0, 0, 0.0, ?, 'SELECT 1')",
        [OLD_WEEK.start, OLD_WEEK.end, FRAME, examples],
    )
    note = Annotation("rev1", "Reviewerin", OLD1.long, "de", "old1", True, "threat", (FRAME,))
    store.add_annotations(con, [note])


@pytest.fixture()
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = store.open_store(tmp_path / "r.duckdb")
    build(connection)
    yield connection
    connection.close()


def figures(con: duckdb.DuckDBPyConnection) -> tuple[object, ...]:
    """Every figure retention and purge must leave alone."""
    codes = list(load_labels().codes)
    return (
        con.execute("SELECT * FROM weekly_frames ORDER BY ALL").fetchall(),
        con.execute("SELECT * FROM article_voices ORDER BY ALL").fetchall(),
        con.execute(
            "SELECT article_id, frame, score, assigned, evidence_count FROM article_frames"
            " ORDER BY ALL"
        ).fetchall(),
        con.execute(
            "SELECT id, is_migration, migration_score, hostile_score, frame_group, story_id,"
            " duplicate_of, content_hash FROM articles ORDER BY id"
        ).fetchall(),
        aggregate.frame_trends(con, OLD_WEEK, codes),
        aggregate.frame_trends(con, aggregate.last_days(NEW.date()), codes),
        aggregate.totals(con, OLD_WEEK),
        aggregate.metaphor_counts(con, OLD_WEEK.start, OLD_WEEK.end, aggregate.Scope()),
    )


def retain(con: duckdb.DuckDBPyConnection, **kw: int) -> retention.RetentionCounts:
    args = {"text_days": TEXT_DAYS, "raw_days": RAW_DAYS, "excerpt_chars": LIMIT, **kw}
    return retention.apply_retention(con, NOW, **args)


RANK_1 = "SELECT sentence FROM article_evidence WHERE article_id = ? AND frame = ? AND rank = 1"


def one(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> tuple[object, ...]:
    rows = con.execute(sql, list(params)).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


# --- excerpts -----------------------------------------------------------------------------


@given(
    st.text(alphabet=st.sampled_from("ab c\nä."), max_size=300),
    st.integers(min_value=0, max_value=120),
    st.integers(min_value=-5, max_value=320),
    st.integers(min_value=0, max_value=40),
)
def test_excerpt_is_a_substring_within_the_limit(text: str, limit: int, at: int, size: int) -> None:
    a, b = retention.excerpt(text, limit, (at, at + size))
    assert 0 <= a <= b <= len(text)
    assert b - a <= limit
    if len(text) <= limit:
        assert (a, b) == (0, len(text))
    start, end = max(0, min(at, len(text))), max(0, min(at + size, len(text)))
    if end - start < limit:  # the cue stays whole when it fits
        assert a <= start and end <= b


def test_excerpt_cuts_at_word_boundaries_around_the_focus() -> None:
    text = "eins zwei drei vier fünf sechs sieben acht neun zehn"
    focus = text.index("fünf")
    a, b = retention.excerpt(text, 16, (focus, focus + 4))
    assert text[a:b] == "vier fünf sechs"
    assert retention.excerpt(text, 0) == (0, 0)


# --- retention ----------------------------------------------------------------------------


def test_retention_drops_old_texts_and_raw_html_and_keeps_new_ones(
    con: duckdb.DuckDBPyConnection,
) -> None:
    before = figures(con)
    counts = retain(con)
    assert counts.texts == 3 and counts.raw_pages == 3 and counts.signatures == 3
    rows = con.execute(
        "SELECT id, text = '', author = '', text_dropped_at IS NOT NULL, title FROM articles"
    ).fetchall()
    for aid, no_text, no_author, stamped, title in rows:
        old = {d.article.id: d.article.fetched_at for d in DOCS}[aid] < NOW - timedelta(days=365)
        assert (no_text, no_author, stamped) == (old, old, old)
        assert title == {d.article.id: d.article.title for d in DOCS}[aid]  # headlines stay
    html = dict(con.execute("SELECT article_id, html_gz IS NULL FROM raw_pages").fetchall())
    assert html == {"old1": True, "old2": True, "copy1": True, "new1": False, "new2": False}
    signed = {r[0] for r in con.execute("SELECT article_id FROM article_signatures").fetchall()}
    assert signed == {"new1", "new2"}
    assert figures(con) == before


def test_evidence_excerpts_stay_around_the_cue_at_their_old_offsets(
    con: duckdb.DuckDBPyConnection,
) -> None:
    retain(con)
    rows = con.execute(
        "SELECT sentence, start_char, end_char, cues FROM article_evidence"
        " WHERE article_id = 'old1' AND frame = ? AND rank = 1",
        [FRAME],
    ).fetchall()
    sentence, start, end, cues = rows[0]
    assert len(OLD1.long) > LIMIT >= len(sentence) > LIMIT // 2
    assert CUE in sentence and sentence in OLD1.long
    assert OLD1.article.text[start:end] == sentence  # offsets into the text as it was
    assert [c["word"] for c in cues] == [CUE]
    frame = one(
        con,
        "SELECT evidence, start_char, end_char FROM article_frames WHERE article_id = 'old1'"
        " AND frame = ?",
        FRAME,
    )
    assert frame == (sentence, start, end)  # the frame's sentence is cut like its evidence
    kept = one(con, RANK_1, "new1", FRAME)
    assert kept == (NEW1.long,)


def test_quotes_lose_speakers_and_length_but_keep_their_category(
    con: duckdb.DuckDBPyConnection,
) -> None:
    retain(con)
    quote, speaker, category, start = one(
        con,
        "SELECT quote, speaker, speaker_category, start_char FROM article_quotes"
        " WHERE article_id = 'old2'",
    )
    assert (speaker, category) == ("", "citizen")
    assert len(quote) <= LIMIT and OLD2.quote.startswith(quote)
    assert OLD2.article.text[start : start + len(quote)] == quote
    assert one(con, "SELECT speaker FROM article_quotes WHERE article_id = 'new1'") == (
        NEW1.speaker,
    )


def test_alert_examples_are_cut_too(con: duckdb.DuckDBPyConnection) -> None:
    counts = retain(con)
    (evidence,) = one(con, "SELECT evidence FROM alerts WHERE id = 'al1'")
    assert counts.alerts == 2
    for e, d in zip(evidence, (OLD1, OLD2), strict=True):
        assert 0 < len(e["sentence"]) <= LIMIT and e["sentence"] in d.long
        assert e["title"].startswith("Schlagzeile")  # headlines stay, as in articles


def test_retention_is_idempotent(con: duckdb.DuckDBPyConnection) -> None:
    retain(con)
    snapshot = [
        con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("articles", "article_evidence", "article_frames", "article_quotes", "alerts")
    ]
    again = retain(con)
    assert again == retention.RetentionCounts()
    assert snapshot == [
        con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("articles", "article_evidence", "article_frames", "article_quotes", "alerts")
    ]


def test_zero_days_keeps_forever_and_raw_html_never_outlives_the_text(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert retain(con, text_days=0, raw_days=0) == retention.RetentionCounts()
    counts = retain(con, text_days=TEXT_DAYS, raw_days=0)
    assert counts.texts == 3 and counts.raw_pages == 3


def test_an_interrupted_retention_leaves_whole_articles(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    cut_alerts = retention._cut_alerts

    def failing(c: duckdb.DuckDBPyConnection, ids: list[str], limit: int) -> int:
        calls.append(ids)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed in the second batch
        return cut_alerts(c, ids, limit)

    monkeypatch.setattr(retention, "_cut_alerts", failing)
    with pytest.raises(KeyboardInterrupt):
        retain(con, batch=1)
    done, undone = calls[0][0], calls[1][0]
    assert one(con, "SELECT text = '' FROM articles WHERE id = ?", done) == (True,)
    assert one(con, "SELECT text = '' FROM articles WHERE id = ?", undone) == (False,)
    full = {d.article.id: d.long for d in DOCS}[undone]
    assert one(con, RANK_1, undone, FRAME) == (full,)
    monkeypatch.undo()
    assert retain(con).texts == 2  # the rest, on the next run


def test_examples_show_the_kept_excerpt_and_packs_skip_dropped_texts(
    con: duckdb.DuckDBPyConnection,
) -> None:
    old = ["old1", "old2", "copy1"]
    assert [e.article_id for e in aggregate.examples(con, OLD_WEEK, FRAME)] == old
    assert pack.candidates(con, [FRAME], OLD_WEEK, "de")
    retain(con)
    shown = aggregate.examples(con, OLD_WEEK, FRAME)
    assert [e.article_id for e in shown] == old
    for e in shown:
        assert CUE in e.evidence and len(e.evidence) <= LIMIT and (e.before, e.after) == ("", "")
    assert pack.candidates(con, [FRAME], OLD_WEEK, "de") == []
    assert retain(con, excerpt_chars=0) == retention.RetentionCounts()  # nothing left to do
    new_week = aggregate.last_days(NEW.date())
    assert [c.article_id for c in pack.candidates(con, [FRAME], new_week, "de")] == ["new1", "new2"]


def test_examples_skip_a_dropped_text_without_excerpt(tmp_path: Path) -> None:
    con = store.open_store(tmp_path / "z.duckdb")
    try:
        build(con)
        retain(con, excerpt_chars=0)
        assert aggregate.examples(con, OLD_WEEK, FRAME) == []
        new_week = aggregate.last_days(NEW.date())
        assert [e.article_id for e in aggregate.examples(con, new_week, FRAME)] == ["new1", "new2"]
    finally:
        con.close()


# --- purge --------------------------------------------------------------------------------

TEXT_COLUMNS = "title, text, author, url, requested_url, canonical_url"
REASON = "DSR-2027-04"


def purge(
    con: duckdb.DuckDBPyConnection,
    url: str | None = None,
    source: str | None = None,
    before: datetime | None = None,
) -> retention.PurgeCounts:
    return retention.purge(
        con, url=url, source=source, before=before, reason=REASON, requested_by="Datenschutz"
    )


def test_purge_by_url_removes_every_copy_of_the_content(con: duckdb.DuckDBPyConnection) -> None:
    before = figures(con)
    a = OLD1.article
    counts = purge(con, url=a.requested_url)  # the feed's URL, tracking parameter and all
    assert (counts.articles, counts.raw_pages, counts.alerts, counts.annotations) == (1, 1, 1, 1)
    title, text, author, url, requested, canonical = one(
        con, f"SELECT {TEXT_COLUMNS} FROM articles WHERE id = 'old1'"
    )
    assert (title, text, author) == ("", "", "")
    assert {url, requested, canonical} == {retention.mark(a.url), retention.mark(a.requested_url)}
    assert one(con, "SELECT text FROM articles WHERE id = 'copy1'") == (COPY.article.text,)
    assert figures(con) == before  # classification, counting and stories unchanged
    dump = database_text(con)
    for secret in ("Privatfrau1", "privatfrau1", a.url, OLD1.long, OLD1.quote, "Abend1"):
        assert secret not in dump
    assert "Privatfrau2" in dump  # the dump does hold the others
    log = one(con, "SELECT url_key, source_id, fetched_before, articles, reason FROM purge_log")
    assert log == (url_key(a.url), None, None, 1, REASON)


def database_text(con: duckdb.DuckDBPyConnection) -> str:
    """Every text value of every table, raw HTML decompressed, as one string."""
    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT internal").fetchall()
    parts = []
    for (table,) in tables:
        for row in con.execute(f"SELECT * FROM {table}").fetchall():
            parts += [gzip.decompress(v).decode() if isinstance(v, bytes) else str(v) for v in row]
    return "\n".join(parts)


def test_purge_marks_urls_in_the_fetch_log_and_its_notes(con: duckdb.DuckDBPyConnection) -> None:
    a = OLD1.article
    naming = "SELECT count(*) FROM fetch_log WHERE contains(coalesce(note, '') || ' ' || url, ?)"
    assert one(con, naming, a.url) == (2,)  # its own row, and the copy's "same text as <url>"
    counts = purge(con, url=a.url)
    assert counts.fetch_log == 2
    assert one(con, naming, a.url) == (0,)
    assert one(con, "SELECT count(*) FROM fetch_log WHERE url = ?", retention.mark(a.url)) == (1,)


def test_purge_keeps_the_url_known_so_no_crawl_brings_it_back(
    con: duckdb.DuckDBPyConnection,
) -> None:
    a = OLD1.article
    con.execute("DELETE FROM url_keys")  # as if stored before url_keys existed
    purge(con, url=a.url)
    known = store.known_keys(con, ["kurier"])
    for form in (a.url, a.requested_url, a.canonical_url):
        assert url_key(form) in known
        assert url_key(form) in retention.purged_keys(con, ["kurier"])
    assert url_key(OLD2.article.url) in known  # the others keyed by the backfill, as before
    assert url_key(OLD2.article.url) not in retention.purged_keys(con, ["kurier"])
    outcome = FetchOutcome("kurier", a.url, "article", 200, None, NOW)
    assert store.store_crawl(con, "run2", [a], [outcome]) == []  # the id is taken
    assert one(con, "SELECT title, text FROM articles WHERE id = 'old1'") == ("", "")


def test_purge_by_source_and_by_date(con: duckdb.DuckDBPyConnection) -> None:
    before = figures(con)
    counts = purge(con, source="anzeiger")
    assert counts.articles == 2 and counts.raw_pages == 2
    emptied = con.execute("SELECT id FROM articles WHERE purge_id IS NOT NULL ORDER BY id")
    assert emptied.fetchall() == [("copy1",), ("new2",)]
    counts = purge(con, before=OLD + timedelta(hours=1))
    assert counts.articles == 1  # old1 only: copy1 is purged already
    assert one(con, "SELECT text <> '' FROM articles WHERE id = 'old2'") == (True,)
    assert figures(con) == before
    logged = con.execute("SELECT source_id, fetched_before, articles FROM purge_log").fetchall()
    date_limit = (OLD + timedelta(hours=1)).replace(tzinfo=None)
    assert set(logged) == {("anzeiger", None, 2), (None, date_limit, 1)}


def test_purge_is_idempotent_and_needs_a_selector(con: duckdb.DuckDBPyConnection) -> None:
    purge(con, url=OLD1.article.url)
    state = con.execute("SELECT * FROM articles ORDER BY id").fetchall()
    again = purge(con, url=OLD1.article.url)
    assert (again.articles, again.raw_pages, again.evidence, again.fetch_log) == (0, 0, 0, 0)
    assert con.execute("SELECT * FROM articles ORDER BY id").fetchall() == state
    with pytest.raises(ValueError, match="needs"):
        retention.purge(con, reason="x", requested_by="y")


def test_purged_articles_leave_lists_examples_and_alerts(con: duckdb.DuckDBPyConnection) -> None:
    filters = queries.Filters(OLD_WEEK)
    assert "old1" in [r.id for r in queries.list_articles(con, filters)]
    purge(con, url=OLD1.article.url)
    assert "old1" not in [r.id for r in queries.list_articles(con, filters)]
    assert queries.count_articles(con, filters) == 2
    assert queries.article(con, "old1") is None and queries.article(con, "old2") is not None
    assert [e.article_id for e in aggregate.examples(con, OLD_WEEK, FRAME)] == ["old2", "copy1"]
    (evidence,) = one(con, "SELECT evidence FROM alerts WHERE id = 'al1'")
    assert [e["article_id"] for e in evidence] == ["old2"]
    assert "old1" not in [c.article_id for c in pack.candidates(con, [FRAME], OLD_WEEK, "de")]


def test_a_report_after_a_purge_has_the_same_figures_and_no_trace(
    con: duckdb.DuckDBPyConnection,
) -> None:
    report = build_report(con, OLD_WEEK, "de")
    html = render(report, "html")
    assert OLD1.article.title in html  # the test would see it
    purge(con, url=OLD1.article.url)
    after = build_report(con, OLD_WEEK, "de")
    assert (after.totals, after.trends, after.voices) == (
        report.totals,
        report.trends,
        report.voices,
    )
    html = render(after, "html") + render(after, "md")
    for secret in (OLD1.article.title, OLD1.article.url, OLD1.speaker, "Privatfrau1"):
        assert secret not in html
    assert OLD2.article.title in html  # the others still shown


# --- compaction ---------------------------------------------------------------------------


def test_compact_removes_what_a_purge_left_in_freed_blocks(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    con = store.open_store(path)
    con.execute("SET force_compression = 'uncompressed'")  # so the bytes can be searched
    build(con)
    con.execute("CHECKPOINT")
    purge(con, url=OLD1.article.url)
    con.execute("CHECKPOINT")
    marker = OLD1.long.encode()
    assert marker in path.read_bytes()  # DuckDB freed the old blocks without overwriting them
    expected = figures(con)
    retention.compact(con, path)
    data = path.read_bytes()
    assert marker not in data and OLD2.long.encode() in data
    assert not path.with_name(path.name + ".compacting").exists()
    assert not path.with_name(path.name + ".wal").exists()
    con = store.open_store(path)
    try:
        assert figures(con) == expected
        assert store.schema_version(con) == store.migrations()[-1][0]
        assert con.execute("SELECT count(*) FROM v1.articles").fetchall() == [(len(DOCS),)]
    finally:
        con.close()


# --- migration ----------------------------------------------------------------------------


def database_at(path: Path, version: int) -> None:
    """An empty database with the migrations up to ``version`` only."""
    factories.database_at(path, version)


@pytest.mark.parametrize("version", [4, 5])
def test_migration_006_upgrades_an_older_database(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.duckdb"
    database_at(path, version)
    con = store.open_store(path)
    try:
        build(con)
        assert store.schema_version(con) >= 6
        kept = "SELECT count(*) FROM articles WHERE text_dropped_at IS NULL"
        assert one(con, kept) == (len(DOCS),)
        assert retain(con).texts == 3
        assert purge(con, source="kurier").articles == 3
    finally:
        con.close()


# --- command line -------------------------------------------------------------------------


@pytest.fixture()
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli.duckdb"
    con = store.open_store(path)
    build(con)
    con.close()
    return path


def invoke(db: Path, *args: str, stdin: str | None = None, **settings: str) -> Result:
    env = {"FRAMEWATCH_DB": str(db), "COLUMNS": "200", "NO_COLOR": "1", **settings}
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


def test_cli_purge_asks_first_and_refuses_no_selector(db_file: Path) -> None:
    assert invoke(db_file, "purge").exit_code != 0
    refused = invoke(db_file, "purge", "--url", OLD1.article.url, stdin="n\n")
    assert refused.exit_code != 0
    assert "would purge 1 articles and 1 raw pages" in refused.output
    assert OLD1.article.title in refused.output
    done = invoke(db_file, "purge", "--url", OLD1.article.url, "--reason", "DSR-1", "--yes")
    assert done.exit_code == 0, done.output
    assert "1 articles and 1 raw pages emptied" in done.output
    for path in (db_file, store.snapshot_path(db_file)):  # the readers' copy too
        with duckdb.connect(str(path), read_only=True) as con:
            assert one(con, "SELECT title FROM articles WHERE id = 'old1'") == ("",)
            assert one(con, "SELECT reason, articles FROM purge_log") == ("DSR-1", 1)


def test_cli_retention_applies_the_settings(db_file: Path) -> None:
    # The command runs at the real time: the test's old articles are old enough for this.
    days = (datetime.now(UTC) - OLD).days - 7
    env = {"FRAMEWATCH_TEXT_RETENTION_DAYS": str(days), "FRAMEWATCH_EXCERPT_CHARS": "100"}
    result = invoke(db_file, "retention", **env)
    assert result.exit_code == 0, result.output
    assert "texts dropped: 3, raw pages dropped: 3" in result.output
    with duckdb.connect(str(db_file), read_only=True) as con:
        assert one(con, "SELECT string_agg(id ORDER BY id) FROM articles WHERE text = ''") == (
            "copy1,old1,old2",
        )
        (longest,) = one(con, "SELECT max(length(sentence)) FROM article_evidence")
        assert longest == len(NEW1.long)  # the new ones keep theirs
        dropped = "SELECT max(length(sentence)) FROM article_evidence WHERE article_id LIKE 'old%'"
        (cut,) = one(con, dropped)
        assert isinstance(cut, int) and 50 < cut <= 100


def test_cli_purge_upgrades_an_older_database_first(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    database_at(path, 5)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO sources VALUES ('kurier', 'K', 'O', 'DE', 'de', [], [], true, now())")
    con.execute(
        "INSERT INTO articles (id, url, requested_url, canonical_url, source_id, lang,"
        " declared_lang, title, text, author, date_source, fetched_at, content_hash, run_id)"
        " VALUES ('a1', 'http://k/1', 'http://k/1', 'http://k/1', 'kurier', 'de', 'de',"
        " 'Titel', 'Text', '', 'none', '2026-01-01', 'h', 'r')"
    )
    con.close()
    result = invoke(path, "purge", "--source", "kurier", "--yes", "--no-compact")
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(path), read_only=True) as con:
        assert one(con, "SELECT title, text FROM articles") == ("", "")
