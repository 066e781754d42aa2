"""The report flow: the network-wide report and one per city in the city's language."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import task
from prefect.cache_policies import NO_CACHE

from dashboards.report import build_report, report_name, write_report
from pipeline.aggregate import Period, city_languages, iso_week, last_days
from pipeline.config import Settings
from pipeline.ops import framewatch_flow
from pipeline.schedule import last_full_week
from pipeline.store import open_readonly
from pipeline.timeutil import utc_now


@task(name="city-report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[30, 120])
def city_report(
    settings: Settings, period: Period, city: str | None, lang: str, out: Path, pdf: bool
) -> list[Path]:
    """Build and write one report (and its PDF when asked and a browser is there)."""
    with open_readonly(settings.db) as con:
        report = build_report(con, period, lang, city, settings.counter_bank)
    return write_report(report, out, settings.browser if pdf else None)


@framewatch_flow("framewatch-report")
def report_flow(
    settings: Settings | None = None,
    out_dir: Path | None = None,
    period: Period | None = None,
    pdf: bool = False,
    cities: list[str] | None = None,
    network: bool = True,
    last_week: bool = False,
    timezone: str = "UTC",
) -> list[Path]:
    """The network report in English (``network``) and each city's in its outlets' language.

    ``cities`` None means every city; the scheduled runs pass the cities of one time zone,
    ``last_week`` (the ISO week that just ended in ``timezone``) instead of the last seven
    days.
    """
    settings = settings or Settings()
    today = utc_now().astimezone(ZoneInfo(timezone)).date()  # the schedule's own calendar
    period = period or (iso_week(last_full_week(today)) if last_week else last_days())
    out_dir = out_dir or settings.reports
    with open_readonly(settings.db) as con:
        languages = city_languages(con)
    written: list[Path] = []
    if network:
        out = out_dir / report_name(period, None, "en")
        written += city_report(settings, period, None, "en", out, pdf)
    for city in languages if cities is None else [c for c in cities if c in languages]:
        out = out_dir / report_name(period, city, languages[city])
        written += city_report(settings, period, city, languages[city], out, pdf)
    return [p for p in written if p.suffix == ".html"]
