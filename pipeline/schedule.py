"""What runs when: the plan of scheduled jobs, made from the settings and the sources file.

Pure data, no Prefect: ``flows.serve`` turns each ``Job`` into a Prefect deployment. Kept
apart so the plan is tested on its own (which cities report at which local hour) and so a
second orchestrator could read the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from prefect.client.schemas.schedules import CronSchedule

from pipeline.config import Settings
from pipeline.records import Source

FlowName = Literal["ingest", "classify", "report", "health"]
# The name of the Prefect global concurrency limit that every writing flow run occupies:
# runs that write queue for it (limit 1) instead of failing on the database lock.
WRITER_LIMIT = "framewatch-db-writer"


@dataclass(frozen=True)
class Job:
    """One scheduled deployment: which flow, when, in which time zone, with what."""

    name: str  # deployment name, unique
    flow: FlowName
    cron: str | None  # None: runs only when triggered (see ``after``) or by hand
    timezone: str
    timeout_seconds: float | None
    after: FlowName | None = None  # start when a run of this flow completes
    cities: tuple[str, ...] = ()  # report jobs: the cities reported at this local hour
    network: bool = False  # report jobs: also the network-wide report (English)


def country_timezones() -> dict[str, str]:
    """Country code -> IANA time zone, from ``pipeline/timezones.yaml``."""
    text = resources.files("pipeline").joinpath("timezones.yaml").read_text(encoding="utf-8")
    return {str(k): str(v) for k, v in yaml.safe_load(text).items()}


def city_timezones(sources: Sequence[Source], overrides: Mapping[str, str]) -> dict[str, str]:
    """Each city's time zone: the settings' override, else its country's; refuses unknown."""
    by_country = country_timezones()
    zones: dict[str, str] = {}
    for s in sources:
        zone = overrides.get(s.city) or by_country.get(s.country.upper())
        if zone is None:
            raise ValueError(
                f"no time zone for {s.city} ({s.country}): add the country to "
                "pipeline/timezones.yaml or set FRAMEWATCH_CITY_TIMEZONES"
            )
        zones[s.city] = check_timezone(zone)
    return dict(sorted(zones.items()))


def check_timezone(zone: str) -> str:
    """The zone itself when the tz database knows it; a clear error otherwise."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {zone!r} (IANA names, e.g. Europe/Rome)") from exc
    return zone


def check_cron(expression: str, what: str) -> str:
    """The expression itself when Prefect accepts it as a cron schedule."""
    try:
        CronSchedule(cron=expression)
    except ValueError as exc:
        raise ValueError(f"{what}: {expression!r} is not a valid cron expression") from exc
    return expression


def plan(settings: Settings, sources: Sequence[Source]) -> list[Job]:
    """The deployments to serve: ingest, classify after it, health daily, reports weekly.

    Reports are one job per time zone (cities sharing a zone share the run), so an EU-wide
    network has a handful of report deployments, not one per city.
    """
    zone = check_timezone(settings.timezone)
    ingest_minutes = settings.ingest_timeout_minutes * 60
    jobs = [
        Job("ingest", "ingest", check_cron(settings.ingest_cron, "ingest_cron"), zone,
            ingest_minutes),
        Job("classify", "classify", None, zone, ingest_minutes, after="ingest"),
        Job("health", "health", check_cron(settings.health_cron, "health_cron"), zone,
            ingest_minutes),
    ]  # fmt: skip
    return jobs + report_jobs(settings, sources)


def report_jobs(settings: Settings, sources: Sequence[Source]) -> list[Job]:
    """One weekly report job per time zone; the network report runs in the default zone."""
    cron = check_cron(settings.report_cron, "report_cron")
    by_zone: dict[str, list[str]] = {}
    for city, zone in city_timezones(sources, settings.city_timezones).items():
        by_zone.setdefault(zone, []).append(city)
    by_zone.setdefault(settings.timezone, [])
    return [
        Job(
            f"report-{zone.lower().replace('/', '-')}",
            "report",
            cron,
            zone,
            settings.report_timeout_minutes * 60,
            cities=tuple(cities),
            network=zone == settings.timezone,
        )
        for zone, cities in sorted(by_zone.items())
    ]


def last_full_week(today: date) -> str:
    """The ISO week that ended before ``today`` began, e.g. '2026-W47' on Monday of W48:
    the Monday report covers the whole of last week, not the seven days up to now."""
    return (today - timedelta(days=today.isoweekday())).strftime("%G-W%V")
