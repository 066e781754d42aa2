"""The report flow: the network-wide report and one per city in the city's language."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from dashboards.report import build_report, report_name, write_report
from pipeline.aggregate import Period, city_languages, last_days
from pipeline.config import Settings
from pipeline.store import open_readonly


@task(name="city-report", cache_policy=NO_CACHE)
def city_report(
    settings: Settings, period: Period, city: str | None, lang: str, out: Path, pdf: bool
) -> list[Path]:
    """Build and write one report (and its PDF when asked and a browser is there)."""
    with open_readonly(settings.db) as con:
        report = build_report(con, period, lang, city, settings.counter_bank)
    return write_report(report, out, settings.browser if pdf else None)


@flow(name="framewatch-report", validate_parameters=False)
def report_flow(
    settings: Settings, out_dir: Path | None = None, period: Period | None = None, pdf: bool = False
) -> list[Path]:
    """All outlets in English, then every city in its outlets' language; HTML paths back."""
    period, out_dir = period or last_days(), out_dir or settings.reports
    with open_readonly(settings.db) as con:
        cities = city_languages(con)
    written = city_report(
        settings, period, None, "en", out_dir / report_name(period, None, "en"), pdf
    )
    for city, lang in cities.items():
        out = out_dir / report_name(period, city, lang)
        written += city_report(settings, period, city, lang, out, pdf)
    return [p for p in written if p.suffix == ".html"]
