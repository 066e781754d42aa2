"""One real run: demo newsroom on loopback -> scrapy -> trafilatura -> e5 -> DuckDB -> report."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.ingest import ingest_flow
from flows.report import report_flow
from pipeline.demo.newsroom import running_newsroom
from pipeline.sources import demo_sources_file
from pipeline.store import open_readonly

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_run(settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Two flow runs against the newsroom (the second must add nothing), then the reports."""
    base = tmp_path_factory.mktemp("e2e")
    s = settings.model_copy(update={"db": base / "e2e.duckdb", "staging": base / "staging"})
    with running_newsroom() as room:
        first = ingest_flow(demo_sources_file(), s, room.url)
        second = ingest_flow(demo_sources_file(), s, room.url)
    reports = report_flow(s, base / "reports")
    return s, first, second, reports


def fetch_log(db: Path) -> list[tuple[str, str | None, str | None]]:
    with open_readonly(db) as con:
        return con.execute("SELECT url, error, note FROM fetch_log").fetchall()


def test_first_run_stores_and_classifies_the_newsroom(demo_run) -> None:  # type: ignore[no-untyped-def]
    s, first, _, _ = demo_run
    assert first.articles_new >= 150
    assert first.articles_classified == first.articles_new
    with open_readonly(s.db) as con:
        langs = {r[0] for r in con.execute("SELECT DISTINCT lang FROM articles").fetchall()}
        migration = con.execute("SELECT count(*) FROM migration_articles").fetchone()[0]
        runs = con.execute("SELECT status FROM runs").fetchall()
    assert {"de", "it", "pt", "pl", "hr", "en", "es", "fr"} <= langs
    assert migration >= 30
    assert runs == [("completed",), ("completed",)]


def test_rerun_adds_nothing(demo_run) -> None:  # type: ignore[no-untyped-def]
    s, first, second, _ = demo_run
    assert second.articles_new == 0 and second.articles_classified == 0
    with open_readonly(s.db) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == first.articles_new


def test_every_deliberate_fault_is_recorded_with_its_reason(demo_run) -> None:  # type: ignore[no-untyped-def]
    s, *_ = demo_run
    rows = fetch_log(s.db)
    errors = [(u, e) for u, e, _ in rows if e]
    notes = [(u, n) for u, _, n in rows if n]
    assert any("removed-story" in u and e == "HTTP 404" for u, e in errors)
    assert any("slow-story" in u and e.startswith("timeout") for u, e in errors)
    assert any(u.endswith("extra.xml") and "malformed feed" in e for u, e in errors)
    assert any("cp1250" in n for _, n in notes)
    assert any("syndicated copy" in n for _, n in notes)


def test_the_spike_is_visible_and_reported(demo_run) -> None:  # type: ignore[no-untyped-def]
    s, _, _, reports = demo_run
    with open_readonly(s.db) as con:
        recent = con.execute(
            "SELECT count(*) FROM migration_articles m JOIN article_frames f"
            " ON f.article_id = m.id AND f.assigned AND f.frame = 'threat_public_order'"
            " WHERE m.city = 'Oberhausen' AND m.published_at >= now() - INTERVAL 7 DAY"
        ).fetchone()[0]
    assert recent >= 3
    html = next(p for p in reports if "oberhausen" in p.name).read_text(encoding="utf-8")
    assert "<svg" in html and "<script" not in html
    assert "Oberhausen" in html
