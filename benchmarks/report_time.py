"""Report, alert and dashboard timing on a large database, and the cost of copying it.

Why: issue 6 asks how framewatch behaves on years of data from a whole network. This times,
on a database such as ``benchmarks/generate_db.py`` builds (2 million articles):

* ``pipeline.store.open_store`` on the file (every migration already applied), the file's
  size, and ``shutil.copyfile`` of it to a snapshot beside it (plus an fsync, since a copy
  that is only in the page cache is not yet a snapshot), as a reader snapshot after each
  ingest would cost; the snapshot is deleted afterwards;
* on a read-only connection, each ``--repeat`` times (min and median): the weekly report
  (``dashboards.report.build_report``) for the whole network in English and for three
  cities (most, median and fewest migration articles, each in its city's language),
  ``aggregate.frame_trends``, ``alerts.detect_alerts`` (every city and outlet), the
  dashboard's overview page data (``dashboards.views.fetch_overview``) for all outlets and
  for a city, its article page data, ``health.source_health``, and ``write_report`` (HTML and
  Markdown, no PDF) into a temporary folder;
* once, the network-wide report piece by piece, so a slow figure can be named.

The period is the last full ISO week of the data unless ``--week`` names one. Usage::

    .venv/bin/python -m benchmarks.report_time --db /tmp/big.duckdb [--week 2026-W46]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import duckdb

from dashboards import report as report_module
from dashboards.i18n import translator
from dashboards.report import build_report, group_chart, render, write_report
from dashboards.views import fetch_article, fetch_overview
from models.labels import load_labels
from pipeline import aggregate, breakdown
from pipeline.aggregate import Period, Scope
from pipeline.alerts import detect_alerts
from pipeline.health import source_health
from pipeline.store import open_readonly, open_store


@dataclass(frozen=True)
class Timing:
    """Seconds of each run of one measured call."""

    label: str
    seconds: tuple[float, ...]
    note: str = ""

    @property
    def best(self) -> float:
        """The fastest run: the cost without noise from neighbours."""
        return min(self.seconds)

    @property
    def median(self) -> float:
        """The median run: what a user typically waits."""
        return statistics.median(self.seconds)


def timed(
    label: str, call: Callable[[], Any], repeat: int, describe: Callable[[Any], str] | None = None
) -> Timing:
    """Run ``call`` ``repeat`` times; the note describes the last result."""
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    timing = Timing(label, tuple(seconds), describe(result) if describe else "")
    print(f"  {label}: {', '.join(f'{s:.2f}' for s in seconds)} s {timing.note}", flush=True)
    return timing


def print_table(title: str, rows: Sequence[Timing]) -> None:
    """A small fixed-width table of timings."""
    print(f"\n{title}")
    print(f"{'what':<52} {'runs':>4} {'min s':>8} {'median s':>9}  note")
    for t in rows:
        print(f"{t.label:<52} {len(t.seconds):>4} {t.best:>8.2f} {t.median:>9.2f}  {t.note}")


# --- the file: open, size, copy ------------------------------------------------------------


def file_timings(db: Path) -> list[Timing]:
    """open_store (migrations a no-op) and a snapshot copy of the file, with fsync."""

    def open_close() -> None:
        open_store(db).close()

    rows = [timed("open_store (read-write, migrations no-op)", open_close, 3)]
    rows.append(timed("open_readonly", lambda: open_readonly(db).close(), 3))
    snapshot = db.with_name(db.name + ".snapshot")
    try:
        rows.append(
            timed("shutil.copyfile to a snapshot", lambda: shutil.copyfile(db, snapshot), 3)
        )
        rows.append(timed("shutil.copyfile + fsync", lambda: copy_synced(db, snapshot), 3))
    finally:
        snapshot.unlink(missing_ok=True)
    return rows


def copy_synced(source: Path, target: Path) -> None:
    """Copy a file and flush it to disk."""
    shutil.copyfile(source, target)
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- what is measured on the data ---------------------------------------------------------


def last_full_week(con: duckdb.DuckDBPyConnection) -> Period:
    """The last ISO week that the data covers entirely (Monday to Sunday)."""
    newest = con.execute("SELECT max(published_at) FROM articles").fetchall()[0][0]
    if not isinstance(newest, datetime):
        raise SystemExit("the database holds no dated article")
    end_day = newest.date() + timedelta(days=1)  # the data covers days before this one
    latest_start = end_day - timedelta(days=7)
    monday = latest_start - timedelta(days=latest_start.weekday())
    year, week, _ = monday.isocalendar()
    return aggregate.iso_week(f"{year}-W{week:02d}")


def sample_cities(con: duckdb.DuckDBPyConnection, period: Period) -> list[tuple[str, str]]:
    """Three cities with their languages: most, median and fewest migration articles in the
    period and its baseline."""
    start = period.shifted(aggregate.BASELINE_PERIODS).start
    rows = con.execute(
        "SELECT city, count(*) AS n FROM migration_articles"
        " WHERE published_at >= ? AND published_at < ? GROUP BY city ORDER BY n DESC, city",
        [start, period.end],
    ).fetchall()
    langs = aggregate.city_languages(con)
    picked = [rows[0], rows[len(rows) // 2], rows[-1]]
    return [(str(city), langs[str(city)]) for city, _ in picked]


def report_note(r: report_module.Report) -> str:
    """What a report counted: migration articles and the frames called rising."""
    rising = sum(1 for t in r.trends if t.verdict == "rising")
    return f"{r.totals.migration} migration articles, {rising} frames rising"


Measured = tuple[str, Callable[[], Any], Callable[[Any], str] | None]


def _kb(paths: list[Path]) -> str:
    """Total size of written files."""
    return f"{sum(p.stat().st_size for p in paths) // 1024} KiB"


def data_calls(con: duckdb.DuckDBPyConnection, period: Period) -> list[Measured]:
    """What is timed on the data: (label, call, note on the result)."""
    labels = load_labels()
    codes = list(labels.codes)
    cities = sample_cities(con, period)
    week = {"week": period.label}
    article_id = con.execute(
        "SELECT id FROM migration_articles WHERE published_at >= ? LIMIT 1", [period.start]
    ).fetchall()[0][0]
    reports: list[Measured] = [
        (
            f"build_report {city or 'all cities'}, {lang}",
            partial(build_report, con, period, lang, city),
            report_note,
        )
        for city, lang in [(None, "en"), *cities]
    ]
    return [
        *reports,
        (
            "aggregate.frame_trends, all cities",
            partial(aggregate.frame_trends, con, period, codes),
            None,
        ),
        (
            "alerts.detect_alerts (every city and outlet)",
            partial(detect_alerts, con, period),
            lambda a: f"{len(a)} alerts",
        ),
        (
            "health.source_health",
            partial(source_health, con, period.end),
            lambda h: f"{len(h)} outlets",
        ),
        (
            "dashboard overview (week), all cities",
            partial(fetch_overview, con, week, labels),
            lambda v: f"{v.total} articles listed",
        ),
        (
            f"dashboard overview (week), {cities[0][0]}",
            partial(fetch_overview, con, {**week, "city": cities[0][0]}, labels),
            lambda v: f"{v.total} articles listed",
        ),
        (
            "dashboard overview, no filter (last 7 days)",
            partial(fetch_overview, con, {}, labels),
            lambda v: f"{v.total} articles listed",
        ),
        ("dashboard article page", partial(fetch_article, con, article_id), None),
    ]


def data_timings(
    con: duckdb.DuckDBPyConnection, period: Period, repeat: int, alert_repeat: int
) -> list[Timing]:
    """The report, alerts, trends, health and dashboard calls, each ``repeat`` times
    (detect_alerts ``alert_repeat`` times), then write_report of the network-wide report."""
    calls = data_calls(con, period)
    runs = {label: alert_repeat if "detect_alerts" in label else repeat for label, _, _ in calls}
    rows = [timed(label, call, runs[label], note) for label, call, note in calls if runs[label]]
    built = build_report(con, period, "en", None, None)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / report_module.report_name(period, None, "en")
        rows.append(
            timed("write_report (HTML + Markdown)", partial(write_report, built, out), repeat, _kb)
        )
    return rows


def report_parts(con: duckdb.DuckDBPyConnection, period: Period) -> list[Timing]:
    """The network-wide report's pieces, once each, in build_report's order."""
    labels, scope = load_labels(), Scope()
    codes = list(labels.codes)
    totals = aggregate.totals(con, period, scope)
    series = aggregate.group_series(con, period, scope)
    frame = codes[0]
    parts: list[tuple[str, Callable[[], Any]]] = [
        ("aggregate.totals", lambda: aggregate.totals(con, period, scope)),
        (
            "aggregate.frame_trends (given totals)",
            lambda: aggregate.frame_trends(con, period, codes, scope, totals),
        ),
        ("aggregate.group_series (9 periods)", lambda: aggregate.group_series(con, period, scope)),
        (
            "group_chart (vl-convert SVG, first in the process)",
            lambda: group_chart(series, labels, "en", translator("en")),
        ),
        (
            "group_chart again",
            lambda: group_chart(series, labels, "en", translator("en")),
        ),
        (f"aggregate.examples ({frame})", lambda: aggregate.examples(con, period, frame, scope)),
        (
            f"breakdown.outlet_drivers ({frame})",
            lambda: breakdown.outlet_drivers(con, period, frame, scope),
        ),
        ("breakdown.voices", lambda: breakdown.voices(con, period, scope)),
        ("report.terms_found", lambda: report_module.terms_found(con, period, scope)),
        ("report.outlets", lambda: report_module.outlets(con, period, scope)),
        ("report.fetch_problems", lambda: report_module.fetch_problems(con, period, scope)),
        ("health.source_health", lambda: source_health(con, period.end)),
        ("aggregate.model_versions", lambda: aggregate.model_versions(con, period, scope)),
    ]
    rows = [timed(label, call, 1) for label, call in parts]
    built = build_report(con, period, "en", None, None)
    rows.append(timed("render (HTML, Jinja2)", lambda: render(built, "html"), 1))
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--db", type=Path, default=Path("/tmp/big.duckdb"))
    p.add_argument(
        "--week", help="ISO week to report on, e.g. 2026-W46 (default: the last full one)"
    )
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument(
        "--alert-repeat", type=int, default=3, help="runs of detect_alerts (0: only the estimate)"
    )
    p.add_argument("--skip-file", action="store_true", help="skip open_store and the copy")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print the tables."""
    options = parse_args(argv)
    db: Path = options.db
    size = db.stat().st_size / 2**30
    print(f"{db}: {size:.2f} GiB, DuckDB {duckdb.__version__}, {os.cpu_count()} CPUs")
    files = [] if options.skip_file else file_timings(db)
    with open_readonly(db) as con:
        period = aggregate.iso_week(options.week) if options.week else last_full_week(con)
        print(f"period {period.label} ({period.start:%Y-%m-%d} to {period.end:%Y-%m-%d})")
        parts = report_parts(con, period)
        data = data_timings(con, period, options.repeat, options.alert_repeat)
    if files:
        print_table("The database file", files)
    print_table(f"Report, alerts and dashboard on {period.label}", data)
    print_table("The network-wide report piece by piece (one run each)", parts)


if __name__ == "__main__":
    main()
