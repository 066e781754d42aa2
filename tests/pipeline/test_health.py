"""Source health on small databases with known histories."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline import health, store
from pipeline.records import FetchOutcome, Source, SourceHealth
from tests.factories import make_article

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def day(n: float) -> datetime:
    """``n`` days before NOW."""
    return NOW - timedelta(days=n)


def outlet(con: duckdb.DuckDBPyConnection, source_id: str) -> None:
    store.upsert_sources(
        con,
        [
            Source(
                source_id, source_id.title(), "Oberhausen", "DE", "de", (f"http://{source_id}/rss",)
            )
        ],
    )


def poll(
    con: duckdb.DuckDBPyConnection, source_id: str, at: datetime, error: str | None = None
) -> None:
    """One run's request of the outlet's feed, through the store as a run writes it."""
    status = None if error else 200
    outcome = FetchOutcome(source_id, f"http://{source_id}/rss", "feed", status, error, at)
    store.store_crawl(con, f"run-{source_id}-{at:%j%H}", [], [outcome])


def daily_polls(con: duckdb.DuckDBPyConnection, source_id: str, days: Iterable[float]) -> None:
    """Polls ``days`` days ago, oldest first (as runs happen)."""
    for n in sorted(days, reverse=True):
        poll(con, source_id, day(n))


def articles(con: duckdb.DuckDBPyConnection, source_id: str, times: Iterable[datetime]) -> None:
    rows = [
        make_article(
            f"{source_id}-{i}",
            source_id,
            f"Meldung {i} von {source_id}.",
            published_at=at,
            fetched_at=at,
            content_hash=f"{source_id}-{i}",
        )
        for i, at in enumerate(times)
    ]
    store.insert_articles(con, rows, "r")


def pages(
    con: duckdb.DuckDBPyConnection, source_id: str, at: datetime, fetched: int, failed: int
) -> None:
    """Article pages as a run logs them: the crawler's row, then an extraction error row
    (pipeline/ingest.py) for the pages that yielded no article, and a note on one page."""
    rows = [
        FetchOutcome(source_id, f"http://{source_id}/p{i}", "article", 200, None, at)
        for i in range(fetched)
    ]
    rows += [
        FetchOutcome(source_id, f"http://{source_id}/p{i}", "article", 200, "no article text", at)
        for i in range(failed)
    ]
    rows.append(
        FetchOutcome(source_id, f"http://{source_id}/p0", "article", 200, None, at, note="note")
    )
    store.log_fetches(con, f"pages-{at:%j}", rows)


def check(con: duckdb.DuckDBPyConnection, source_id: str) -> SourceHealth:
    found = [h for h in health.source_health(con, NOW) if h.source_id == source_id]
    assert len(found) == 1
    return found[0]


def steady(con: duckdb.DuckDBPyConnection, source_id: str, per_day: int, days: int = 40) -> None:
    """An outlet crawled daily (half a day ago last) for ``days`` days, ``per_day`` articles
    a day, none of them on a window boundary."""
    outlet(con, source_id)
    daily_polls(con, source_id, [n + 0.5 for n in range(days)])
    spread = [(i + 0.5) / per_day for i in range(per_day)]
    articles(con, source_id, [day(n + d) for n in range(days) for d in spread])


def test_a_steady_outlet_is_ok(db: duckdb.DuckDBPyConnection) -> None:
    steady(db, "ok", per_day=2)
    pages(db, "ok", day(1), fetched=10, failed=1)
    h = check(db, "ok")
    assert (h.status, h.flags) == ("ok", ())
    assert h.articles_per_day == pytest.approx(2.0)
    assert h.baseline_per_day == pytest.approx(2.0)
    assert (h.pages_fetched, h.extraction_failures) == (10, 1)
    assert h.last_success == day(0.5) and h.last_article == day(0.25)
    assert (h.name, h.city, h.consecutive_failures, h.feeds_disabled) == ("Ok", "Oberhausen", 0, 0)


def test_three_failed_polls_in_a_row_are_failing(db: duckdb.DuckDBPyConnection) -> None:
    steady(db, "f", per_day=2)
    for n in (0.4, 0.3, 0.2):
        poll(db, "f", day(n), error="HTTP 500")
    h = check(db, "f")
    assert h.status == "failing" and h.flags == ("failing",)
    assert h.consecutive_failures == 3 and h.last_success == day(0.5)


def test_two_failed_polls_are_not_yet_failing(db: duckdb.DuckDBPyConnection) -> None:
    steady(db, "f", per_day=2)
    for n in (0.4, 0.3):
        poll(db, "f", day(n), error="timeout")
    assert check(db, "f").flags == ()


def test_a_dead_feed_that_recovers_is_cleared(db: duckdb.DuckDBPyConnection) -> None:
    steady(db, "dead", per_day=2)
    for i in range(store.DISABLE_AFTER):
        poll(db, "dead", day(0.4) + timedelta(minutes=i), error="DNS lookup failed")
    h = check(db, "dead")
    assert h.status == "failing" and h.flags == ("failing", "disabled")
    assert h.feeds_disabled == 1
    poll(db, "dead", day(0.1))
    h = check(db, "dead")
    assert (h.status, h.flags, h.consecutive_failures, h.feeds_disabled) == ("ok", (), 0, 0)


def test_an_outlet_that_never_answered(db: duckdb.DuckDBPyConnection) -> None:
    outlet(db, "never")
    for n in (2, 1):
        poll(db, "never", day(n), error="HTTP 404")
    h = check(db, "never")
    assert h.status == "failing" and h.flags == ("never_succeeded",)
    assert h.last_success is None and h.baseline_per_day is None


def test_a_rate_collapse_is_silent(db: duckdb.DuckDBPyConnection) -> None:
    outlet(db, "quiet")
    daily_polls(db, "quiet", range(40))
    baseline = [day(8 + n + i / 5) for n in range(28) for i in range(4)]  # 4 a day
    articles(db, "quiet", [*baseline, day(5), day(1)])  # 2 in the window: 0.29/day < 1/day
    h = check(db, "quiet")
    assert h.baseline_per_day == pytest.approx(4.0, rel=0.05)
    assert h.articles_per_day == pytest.approx(2 / 7)
    assert (h.status, h.flags) == ("warning", ("silent",))


def test_a_small_outlet_is_silent_only_after_a_long_gap(db: duckdb.DuckDBPyConnection) -> None:
    # 0.5 articles a day: the gap allowed is 3 / 0.5 = 6 days, not the 3-day minimum.
    for source_id, last in (("small", 5), ("gone", 7)):
        outlet(db, source_id)
        daily_polls(db, source_id, range(40))
        articles(db, source_id, [day(n) for n in range(last, 40, 2)])
    assert check(db, "small").flags == ()
    assert check(db, "gone").flags == ("silent",)


def test_a_new_outlet_has_no_baseline_and_is_not_silent(db: duckdb.DuckDBPyConnection) -> None:
    outlet(db, "new")
    daily_polls(db, "new", range(4))
    articles(db, "new", [day(3.5)] * 1)  # its first crawl, then nothing yet
    h = check(db, "new")
    assert h.baseline_per_day is None and h.flags == ()


def test_the_first_days_backlog_does_not_inflate_the_baseline(
    db: duckdb.DuckDBPyConnection,
) -> None:
    # The first crawl stores 60 backlog articles at once, then one a day: no rate drop.
    outlet(db, "b")
    daily_polls(db, "b", range(30))
    articles(db, "b", [day(29.5)] * 60 + [day(n) for n in range(29)])
    h = check(db, "b")
    assert h.baseline_per_day == pytest.approx(1.0, rel=0.1)
    assert h.flags == ()


def test_most_pages_failing_extraction_is_flagged(db: duckdb.DuckDBPyConnection) -> None:
    steady(db, "x", per_day=2)
    steady(db, "few", per_day=2)
    pages(db, "x", day(2), fetched=10, failed=6)
    pages(db, "few", day(2), fetched=4, failed=4)  # too few pages to judge
    pages(db, "few", day(9), fetched=10, failed=10)  # before the window
    h = check(db, "x")
    assert (h.pages_fetched, h.extraction_failures) == (10, 6)
    assert (h.status, h.flags) == ("warning", ("extraction",))
    assert check(db, "few").flags == ()


def test_every_outlet_is_reported_even_without_history(db: duckdb.DuckDBPyConnection) -> None:
    outlet(db, "a")
    outlet(db, "b")
    assert [h.source_id for h in health.source_health(db, NOW)] == ["a", "b"]


def test_health_runs_on_a_read_only_connection(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    con = store.open_store(path)
    steady(con, "ok", per_day=1, days=10)
    con.close()
    with store.open_readonly(path) as ro:
        assert [h.status for h in health.source_health(ro, NOW)] == ["ok"]


def test_status_from_flags() -> None:
    assert health.status(()) == "ok"
    assert health.status(("silent", "extraction")) == "warning"
    assert health.status(("disabled", "never_succeeded")) == "failing"


def test_an_outlet_not_polled_yet_or_with_stored_articles_has_not_failed(
    db: duckdb.DuckDBPyConnection,
) -> None:
    outlet(db, "new")
    outlet(db, "older")  # articles from before feed state was recorded, no fetch log
    articles(db, "older", [day(2)])
    assert check(db, "new").flags == () and check(db, "new").status == "ok"
    assert "never_succeeded" not in check(db, "older").flags


def test_a_feed_not_polled_within_the_window_no_longer_flags(
    db: duckdb.DuckDBPyConnection,
) -> None:
    """A feed removed from the sources file keeps its last streak in feed_state forever."""
    steady(db, "gone", per_day=2)
    old = FetchOutcome("gone", "http://gone/old-rss", "feed", None, "HTTP 500", day(20))
    for i in range(store.DISABLE_AFTER):
        store.store_crawl(
            db, f"old-{i}", [], [FetchOutcome(**{**old.__dict__, "fetched_at": day(20 - i)})]
        )
    assert store.feed_states(db)["http://gone/old-rss"].disabled_at is not None
    h = check(db, "gone")
    assert (h.status, h.consecutive_failures, h.feeds_disabled) == ("ok", 0, 0)


def test_a_report_for_a_past_week_does_not_show_later_failures(
    db: duckdb.DuckDBPyConnection,
) -> None:
    steady(db, "f", per_day=2)
    for n in (0.4, 0.3, 0.2):
        poll(db, "f", day(n), error="HTTP 500")
    assert check(db, "f").status == "failing"
    past = next(h for h in health.source_health(db, day(2)) if h.source_id == "f")
    assert (past.status, past.flags, past.consecutive_failures) == ("ok", (), 0)
