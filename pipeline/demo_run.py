"""``framewatch demo``: the demo newsroom, one real flow run, the reports, a summary."""

from __future__ import annotations

import socket
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline import aggregate
from pipeline.config import Settings
from pipeline.demo.newsroom import running_newsroom
from pipeline.health import source_health
from pipeline.health_table import health_table
from pipeline.progress import Progress
from pipeline.sources import demo_sources_file, load_sources

DEMO_PORT = 8765


def _fresh_if_stale(db: Path, console: Console) -> None:
    """Start over when the demo database was built on another day.

    The demo's articles are dated relative to the day it runs; a database from another day
    would mix two calendars. Built today, it is reused: nothing is fetched twice.
    """
    if db.exists():
        built = datetime.fromtimestamp(db.stat().st_mtime, UTC).date()
        if built != datetime.now(UTC).date():
            console.print(f"[dim]demo database {db} is from {built}: starting a fresh one[/]")
            db.unlink()
            Path(str(db) + ".wal").unlink(missing_ok=True)


def _demo_port(db: Path, console: Console) -> int:
    """The fixed demo port, so that a rerun sees the same article URLs (and adds nothing).

    If another program holds it, a free port is used and the database starts fresh, since
    every URL (and so every article id) would differ from the stored ones.
    """
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", DEMO_PORT)) != 0:
            return DEMO_PORT
    console.print(f"[yellow]port {DEMO_PORT} is busy: using a free port and a fresh {db}[/]")
    db.unlink(missing_ok=True)
    return 0


def run_demo(settings: Settings, reports_dir: Path, console: Console) -> None:
    """Serve the newsroom, run the ingest flow, write reports, print what happened."""
    from dashboards.report import report_name
    from flows.ingest import run_ingest
    from flows.report import report_flow

    started = time.monotonic()
    _fresh_if_stale(settings.db, console)
    with running_newsroom(port=_demo_port(settings.db, console)) as room:
        console.print(f"demo newsroom (fictional outlets) serving on {room.url}")
        summary = run_ingest(demo_sources_file(), settings, room.url, Progress(console))
    ingest_s = time.monotonic() - started
    period = aggregate.last_days()
    written = report_flow(settings, reports_dir, period)
    _print_summary(settings.db, summary.run_id, written, console)
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
    console.print(
        f"\nthis run: {summary.pages_fetched} pages fetched, {summary.articles_new} new "
        f"articles, {summary.articles_classified} classified ({steps}); "
        f"ingest flow {ingest_s:.0f} s, demo total {time.monotonic() - started:.0f} s"
    )
    city, lang = demo_city(settings.db)
    name = report_name(period, city, lang)
    report = next(p for p in written if p.name == name)
    console.print(f"\nweekly report for {city} in its language ({lang}):\n{report.resolve()}")


def demo_city(db: Path) -> tuple[str, str]:
    """The demo's home city (the one with most outlets: Oberhausen) and its report language,
    read from the database by ``aggregate.city_languages``, the rule the report flow used."""
    from pipeline.store import open_readonly

    sources = load_sources(demo_sources_file())
    city = Counter(s.city for s in sources).most_common(1)[0][0]
    with open_readonly(db) as con:
        return city, aggregate.city_languages(con)[city]


def _print_summary(db: Path, run_id: str, reports: list[Path], console: Console) -> None:
    """The demo's closing summary: outlets, problems, frames, where things are."""
    from pipeline.store import open_readonly

    with open_readonly(db) as con:
        outlets = aggregate.outlet_counts(con)
        problems = aggregate.run_log(con, run_id)
        health = source_health(con, datetime.now(UTC))
        from models.labels import load_labels

        trends = aggregate.frame_trends(con, aggregate.last_days(), list(load_labels().codes))
    table = Table(
        "outlet", "city", "lang", "detected", "articles", "migration", title="Articles per outlet"
    )
    for name, city, declared, detected, n, m in outlets:
        table.add_row(name, city, declared, detected, str(n), str(m))
    console.print(table)
    console.print(
        f"migration articles: {sum(o[5] for o in outlets)} of {sum(o[4] for o in outlets)}"
    )
    _print_trends(trends, console)
    log = Table("outlet", "url", "reason", title="Recorded in fetch_log (this run)")
    for source, url, reason in problems:
        log.add_row(source, url, reason)
    console.print(log)
    console.print(health_table(health, "Source health (framewatch sources check)"))
    console.print(f"database: {db.resolve()}")
    console.print("reports:\n" + "\n".join(f"  {p.resolve()}" for p in reports))


def _print_trends(trends: list[aggregate.FrameTrend], console: Console) -> None:
    """Top frames of the last seven days against the eight weeks before."""
    table = Table(
        "frame",
        "last 7 days",
        f"{aggregate.BASELINE_PERIODS} weeks before",
        "verdict",
        title=f"Top frames: last 7 days vs the {aggregate.BASELINE_PERIODS} weeks before"
        " (all outlets)",
    )
    for tr in sorted(trends, key=lambda t: -t.articles)[:6]:
        table.add_row(
            tr.frame,
            f"{tr.share:.0%} ({tr.articles})",
            f"{tr.baseline_share:.0%} ({tr.baseline_articles})",
            tr.verdict,
        )
    console.print(table)
