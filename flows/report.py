"""The report flow: the network-wide report and one per city in the city's language."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from dashboards.report import build_report, write_report
from pipeline.aggregate import Period, last_days
from pipeline.store import open_readonly
from pipeline.text import slug


@task(name="city-report", cache_policy=NO_CACHE)
def city_report(db: Path, period: Period, city: str | None, lang: str, out: Path) -> list[Path]:
    """Build and write one report."""
    with open_readonly(db) as con:
        return write_report(build_report(con, period, lang, city), out)


@flow(name="framewatch-report", validate_parameters=False)
def report_flow(db: Path, out_dir: Path, period: Period | None = None) -> list[Path]:
    """All outlets in English, then every city in its outlets' language."""
    period = period or last_days()
    with open_readonly(db) as con:
        cities = con.execute(
            "SELECT city, mode(lang) FROM sources GROUP BY city ORDER BY city"
        ).fetchall()
    stem = f"{period.start:%Y-%m-%d}"
    written = city_report(db, period, None, "en", out_dir / f"{stem}-all-en.html")
    for city, lang in cities:
        written += city_report(db, period, city, lang, out_dir / f"{stem}-{slug(city)}-{lang}.html")
    return [p for p in written if p.suffix == ".html"]
