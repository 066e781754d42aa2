"""Alert detection on a small real database built with the store's own writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from models.labels import load_labels
from pipeline import aggregate, alerts, store
from pipeline.aggregate import (
    BASELINE_PERIODS,
    Period,
    frame_trends,
    iso_week,
    metaphor_counts,
)
from pipeline.config import Settings
from pipeline.records import Alert, Article, Framing, Source, TermHit
from tests import factories
from tests.factories import framing

PERIOD = iso_week("2026-W47")
CODES = list(load_labels().codes)
SCRIPT = "<script>alert(1)</script>"
SOURCES = [
    Source("kurier", "Stadtkurier", "Oberhausen", "DE", "de"),
    Source("anzeiger", "Anzeiger", "Oberhausen", "DE", "de"),
    Source("gazette", "Dublin Gazette", "Dublin", "IE", "en"),
    Source("vjesnik", "Vjesnik", "Zagreb", "HR", "hr"),
    Source("progres", "Le Progrès", "Lyon", "FR", "fr"),
    Source("tribune", "La Tribune", "Lyon", "FR", "fr"),
]
METAPHOR = "flüchtlingswelle"
METAPHOR_SENTENCE = "Der Stadtrat sprach von einer Flüchtlingswelle am Bahnhof."
PAYLOAD_TITLE = f"Angriff {SCRIPT} am Markt"


def at(days_after_start: int) -> datetime:
    """A time inside the period (0..6) or before it (negative: baseline)."""
    return PERIOD.start + timedelta(days=days_after_start, hours=9)


class Newsroom:
    """Articles and framings to store; each article is its own story (short distinct texts)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix  # of the article ids, so that two newsrooms can share a store
        self.articles: list[Article] = []
        self.framings: list[Framing] = []

    def add(
        self,
        source: str,
        day: int,
        frame: str | None,
        *,
        migration: bool = True,
        metaphor: bool = False,
        title: str | None = None,
        model: str = "m1",
    ) -> None:
        aid = f"{self.prefix}{source}-{len(self.articles):03d}"
        lead = f"Meldung {aid} über Zuwanderung."
        body = f"{lead}\n{METAPHOR_SENTENCE} Mehr dazu folgt." if metaphor else lead
        url = f"https://{source}.example/{aid}"
        self.articles.append(
            Article(
                aid,
                url,
                url,
                url,
                source,
                "de",
                "de",
                title or f"Titel {aid}",
                body,
                "R",
                at(day),
                "feed",
                at(day),
                f"h-{aid}",
            )
        )
        terms = (metaphor_hit(body),) if metaphor else ()
        self.framings.append(
            framing(aid, body, frame, migration=migration, terms=terms, model=model)
        )

    def counts(self, city: str, frame: str, period: Period) -> tuple[int, int]:
        """(articles carrying ``frame``, migration articles) of a city's outlets in the
        period, counted from what was added: the figures an alert must report."""
        outlets = {s.id for s in SOURCES if s.city == city}
        labels = [
            f.labels
            for a, f in zip(self.articles, self.framings, strict=True)
            if a.source_id in outlets
            and f.migration
            and a.published_at is not None
            and period.start <= a.published_at < period.end
        ]
        return sum(frame in found for found in labels), len(labels)


def metaphor_hit(body: str) -> TermHit:
    """The lexicon's match of the metaphor in an article's body."""
    start = body.index("Flüchtlingswelle")
    return TermHit(
        "metaphor", METAPHOR, start, start + len("Flüchtlingswelle"), "Flüchtlingswelle", "water"
    )


def newsroom() -> Newsroom:
    """Oberhausen: public order and a metaphor rise city-wide. Dublin: stable. Zagreb: too few
    articles to tell. Lyon: security threats rise in one outlet only, not in the city."""
    n = Newsroom()
    n.add("kurier", 1, "threat_public_order", metaphor=True, title=PAYLOAD_TITLE)
    for i in range(5):
        n.add(("kurier", "anzeiger")[i % 2], i, "threat_public_order", metaphor=i < 4)
    n.add("anzeiger", 2, "hero_integration")
    n.add("kurier", 3, None, migration=False)
    for i in range(24):
        frame = "threat_public_order" if i < 2 else "hero_integration"
        n.add(("kurier", "anzeiger")[i % 2], -1 - 2 * i, frame, metaphor=i == 0)
    for i in range(6):
        n.add("gazette", i, "victim_humanitarian" if i < 2 else "hero_contribution")
    for i in range(30):
        n.add("gazette", -1 - i, "victim_humanitarian" if i < 10 else "hero_contribution")
    for i in range(3):
        n.add("vjesnik", i, "threat_public_order")
    for i in range(20):
        n.add("vjesnik", -1 - 2 * i, "hero_integration")
    for i in range(5):
        n.add("progres", i, "threat_security")
    for i in range(10):
        n.add("progres", -1 - 4 * i, "threat_security" if i == 0 else "hero_integration")
    for i in range(20):
        n.add("tribune", i % 7, "threat_security" if i < 10 else "hero_integration")
    for i in range(40):
        n.add("tribune", -1 - i, "threat_security" if i < 20 else "hero_integration")
    return n


def build_db(path: Path) -> None:
    """The newsroom stored through the store, as an ingest run stores it."""
    con = store.open_store(path)
    n = newsroom()
    store.upsert_sources(con, SOURCES)
    store.insert_articles(con, n.articles, "run1")
    store.save_framings(con, n.framings)
    con.close()


@pytest.fixture()
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    build_db(tmp_path / "alerts.duckdb")
    return store.open_store(tmp_path / "alerts.duckdb")


def keys(found: list[Alert]) -> set[tuple[str, str, str | None, str, str]]:
    return {(a.scope, a.city, a.source_id, a.kind, a.subject) for a in found}


def test_rising_frame_and_metaphor_alert_a_city(con: duckdb.DuckDBPyConnection) -> None:
    found = alerts.detect_alerts(con, PERIOD)
    assert ("city", "Oberhausen", None, "frame", "threat_public_order") in keys(found)
    assert ("city", "Oberhausen", None, "metaphor", METAPHOR) in keys(found)
    order = next(a for a in found if a.subject == "threat_public_order" and a.scope == "city")
    baseline = Period(PERIOD.shifted(BASELINE_PERIODS).start, PERIOD.start, "baseline")
    room = newsroom()
    assert (order.articles, order.total) == room.counts("Oberhausen", order.subject, PERIOD)
    assert (order.baseline_articles, order.baseline_total) == room.counts(
        "Oberhausen", order.subject, baseline
    )
    assert order.p_value is not None and order.p_value < 0.05
    assert order.lang == "de" and order.model_versions == ("m1",)
    assert "article_frames" in order.query and "m.city = ?" in order.query


def add_edge_cases(con: duckdb.DuckDBPyConnection) -> None:
    """Articles where grouped and per-scope queries could part: on the edges of the period
    and of the baseline, undated, republished by the same outlet (not counted), and with
    the text dropped and no evidence excerpt (no example)."""
    n, base_start = Newsroom("edge-"), PERIOD.shifted(BASELINE_PERIODS).start
    edges = (PERIOD.start, PERIOD.end, base_start, base_start - timedelta(microseconds=1), None)
    for when in edges:
        n.add("kurier", 0, "threat_public_order", metaphor=True)
        n.articles[-1] = replace(n.articles[-1], published_at=when)
    for _ in range(3):
        n.add("tribune", 2, "threat_security", metaphor=True, model="m2")
    copy = replace(n.articles[-1], id="edge-copy", url="https://tribune.example/copy")
    n.articles.append(replace(copy, requested_url=copy.url, canonical_url=copy.url))
    n.framings.append(replace(n.framings[-1], article_id="edge-copy"))
    store.insert_articles(con, n.articles, "run2")
    store.save_framings(con, n.framings)
    dropped = n.articles[-3].id  # a counted one: it could have been an example
    con.execute("UPDATE articles SET text = '', text_dropped_at = now() WHERE id = ?", [dropped])
    con.execute("UPDATE article_frames SET evidence = '' WHERE article_id = ?", [dropped])


def test_grouped_counts_are_each_targets_own(con: duckdb.DuckDBPyConnection) -> None:
    """detect_alerts counts (and picks examples of) every city and outlet at once; the report,
    one scope: the same figures and examples."""
    add_edge_cases(con)
    not_counted = "SELECT count(*) FROM articles WHERE id LIKE 'edge-%' AND NOT counted"
    assert con.execute(not_counted).fetchall() == [(1,)]  # one of the republished pair
    found, base = alerts.targets(con), PERIOD.shifted(BASELINE_PERIODS).start
    shown = 0
    assert {t.level for t in found} == {"city", "source_id"}
    for t in found:
        grouped, scope = aggregate.grouped_counts(con, PERIOD, t.level), t.filter()
        assert grouped.totals(t.key) == aggregate.totals(con, PERIOD, scope)
        assert grouped.model_versions(t.key) == aggregate.model_versions(con, PERIOD, scope)
        for kind, count in (("frames", aggregate.frame_counts), ("metaphors", metaphor_counts)):
            assert grouped.of(kind, t.key, True) == count(con, PERIOD.start, PERIOD.end, scope)
            assert grouped.of(kind, t.key, False) == count(con, base, PERIOD.start, scope)
        pairs = [(t.key, code) for code in CODES]
        examples = aggregate.grouped_examples(con, PERIOD, t.level, pairs)
        for code in CODES:
            assert examples.get((t.key, code), []) == aggregate.examples(con, PERIOD, code, scope)
        shown += sum(len(e) for e in examples.values())
    assert shown > 20  # the comparison is not between empty lists


def test_stable_and_too_few_give_no_alert(con: duckdb.DuckDBPyConnection) -> None:
    cities = {a.city for a in alerts.detect_alerts(con, PERIOD)}
    assert "Dublin" not in cities  # 2 of 6 vs 10 of 30: no change
    assert "Zagreb" not in cities  # 3 of 3 vs 0 of 20, but 3 articles are too few


def test_an_outlet_rise_alerts_the_outlet_not_the_city(con: duckdb.DuckDBPyConnection) -> None:
    lyon = keys([a for a in alerts.detect_alerts(con, PERIOD) if a.city == "Lyon"])
    assert lyon == {("outlet", "Lyon", "progres", "frame", "threat_security")}
    alert = next(a for a in alerts.detect_alerts(con, PERIOD) if a.source_id == "progres")
    assert alert.outlet == "Le Progrès" and alert.lang == "fr"
    assert {e.outlet for e in alert.evidence} == {"Le Progrès"}


def test_evidence_comes_with_every_alert(con: duckdb.DuckDBPyConnection) -> None:
    found = alerts.detect_alerts(con, PERIOD)
    order = next(a for a in found if a.subject == "threat_public_order" and a.scope == "city")
    assert len(order.evidence) == 3
    assert all(e.url.startswith("https://") and e.sentence for e in order.evidence)
    dates = [e.published_at for e in order.evidence if e.published_at]
    assert len(dates) == 3 and all(PERIOD.start <= d < PERIOD.end for d in dates)
    metaphor = next(a for a in found if a.kind == "metaphor" and a.scope == "city")
    assert [e.sentence for e in metaphor.evidence] == [METAPHOR_SENTENCE] * 3


def test_metaphor_sentence_is_the_sentence_around_the_term() -> None:
    text = "Erster Absatz.\nEins davor. Die Welle kam. Danach etwas.\nLetzter."
    start = text.index("Welle")
    assert alerts.sentence_around(text, "de", start, start + 5) == "Die Welle kam."


def test_saving_twice_stores_each_alert_once(con: duckdb.DuckDBPyConnection) -> None:
    found = alerts.detect_alerts(con, PERIOD)
    assert alerts.save_alerts(con, found) == len(found) > 0
    assert alerts.save_alerts(con, alerts.detect_alerts(con, PERIOD)) == 0
    # A daily run one day later covers an overlapping period: the same rise, not a new one.
    later = Period(PERIOD.start + timedelta(days=1), PERIOD.end + timedelta(days=1), "later")
    assert alerts.save_alerts(con, alerts.detect_alerts(con, later)) == 0
    assert con.execute("SELECT count(*) FROM alerts").fetchall() == [(len(found),)]


def test_rerun_keeps_the_delivery_record(con: duckdb.DuckDBPyConnection) -> None:
    found = alerts.detect_alerts(con, PERIOD)
    alerts.save_alerts(con, found)
    alerts.mark_notified(con, [found[0].id], ["email"], None)
    alerts.save_alerts(con, found)
    ((notified_at, channels),) = con.execute(
        "SELECT notified_at, channels FROM alerts WHERE id = ?", [found[0].id]
    ).fetchall()
    assert notified_at is not None and channels == ["email"]
    assert found[0].id not in {a.id for a in alerts.pending_alerts(con)}


def test_stored_alert_reads_back_equal(con: duckdb.DuckDBPyConnection) -> None:
    found = alerts.detect_alerts(con, PERIOD)
    alerts.save_alerts(con, found)
    back = {a.id: a for a in alerts.pending_alerts(con)}
    for a in found:
        assert replace(back[a.id], created_at=None) == a


def test_a_model_change_between_baseline_and_period_is_shown(tmp_path: Path) -> None:
    n = Newsroom()
    for i in range(6):
        n.add("kurier", i, "threat_public_order", model="m2")
    for i in range(20):
        n.add("kurier", -1 - i, "hero_integration")
    con = store.open_store(tmp_path / "m.duckdb")
    store.upsert_sources(con, SOURCES[:1])
    store.insert_articles(con, n.articles, "r")
    store.save_framings(con, n.framings)
    (alert,) = alerts.detect_alerts(con, PERIOD)
    assert alert.model_versions == ("m1", "m2")


def test_the_analyst_view_unnests_the_evidence(con: duckdb.DuckDBPyConnection) -> None:
    found = alerts.detect_alerts(con, PERIOD)
    alerts.save_alerts(con, found)
    rows = con.execute("SELECT count(*), count(DISTINCT alert_id) FROM alert_evidence").fetchall()
    assert rows == [(sum(len(a.evidence) for a in found), len(found))]


def single_source_db(path: Path, now: list[str | None], before: int) -> duckdb.DuckDBPyConnection:
    """One outlet: the period's articles with the given frames, ``before`` articles of the
    baseline (eight weeks) without any frame."""
    n = Newsroom()
    for i, frame in enumerate(now):
        n.add("kurier", i % 7, frame)
    for i in range(before):
        n.add("kurier", -1 - i % 56, None)
    con = store.open_store(path)
    store.upsert_sources(con, SOURCES[:1])
    store.insert_articles(con, n.articles, "r")
    store.save_framings(con, n.framings)
    return con


def test_one_article_is_not_a_rise(tmp_path: Path) -> None:
    con = single_source_db(tmp_path / "one.duckdb", ["threat_public_order"] + [None] * 5, 200)
    (trend,) = [t for t in frame_trends(con, PERIOD, CODES) if t.frame == "threat_public_order"]
    assert trend.verdict == "rising" and trend.articles == 1  # the test alone would alert
    assert alerts.detect_alerts(con, PERIOD) == []


def test_three_articles_are_enough(tmp_path: Path) -> None:
    now = ["threat_public_order"] * alerts.MIN_ALERT_ARTICLES + [None] * 5
    con = single_source_db(tmp_path / "three.duckdb", now, 200)
    (alert,) = alerts.detect_alerts(con, PERIOD)
    assert (alert.subject, alert.articles, alert.baseline_articles) == (
        "threat_public_order",
        3,
        0,
    )


def test_a_failing_alert_run_is_logged_and_noted_not_raised(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store.start_run(con, "run-1", "sources.yaml")
    con.execute("DROP VIEW alert_evidence")
    con.execute("DROP TABLE alerts")  # a broken database: any step of the alerts fails
    summary = alerts.run_alerts_safely(con, Settings(db=tmp_path / "x"), PERIOD, "run-1")
    assert summary.error is not None and "alerts" in summary.error
    assert summary.new == summary.delivered == 0
    ((note,),) = con.execute("SELECT note FROM runs WHERE id = 'run-1'").fetchall()
    assert note == summary.error
    assert "alerts failed" in caplog.text


# --- migration 004 on a database at schema 003 ----------------------------------------------

MIGRATIONS = Path(__file__).parents[2] / "pipeline" / "migrations"


def test_migration_004_upgrades_a_database_at_003(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    source = (
        "INSERT INTO sources VALUES ('s1', 'Outlet', 'Oberhausen', 'DE', 'de', [], [], true, now())"
    )
    factories.database_at(path, 3, [source])
    con = store.open_store(path)
    try:
        assert store.schema_version(con) >= 4
        assert con.execute("SELECT count(*) FROM sources").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM alerts").fetchall() == [(0,)]
        assert alerts.pending_alerts(con) == []
    finally:
        con.close()
