"""The plan of scheduled jobs: which flow runs when, in which time zone."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.config import Settings
from pipeline.records import Source
from pipeline.schedule import city_timezones, last_full_week, plan


def outlet(id: str, city: str, country: str) -> Source:
    return Source(id=id, name=id, city=city, country=country, lang="de")


SOURCES = [
    outlet("a", "Oberhausen", "DE"),
    outlet("b", "Essen", "DE"),
    outlet("c", "Lisbon", "PT"),
    outlet("d", "Las Palmas", "ES"),
    outlet("e", "Sisak", "HR"),
]


def test_every_flow_is_planned_with_the_configured_crons() -> None:
    s = Settings(ingest_cron="15 * * * *", health_cron="0 5 * * *", report_cron="0 8 * * 1")
    jobs = {j.name: j for j in plan(s, SOURCES)}
    assert jobs["ingest"].cron == "15 * * * *" and jobs["ingest"].flow == "ingest"
    assert jobs["health"].cron == "0 5 * * *"
    assert jobs["classify"].cron is None and jobs["classify"].after == "ingest"
    reports = [j for j in jobs.values() if j.flow == "report"]
    assert {j.cron for j in reports} == {"0 8 * * 1"}
    assert jobs["ingest"].timeout_seconds == s.ingest_timeout_minutes * 60


def test_reports_run_at_local_time_one_job_per_zone() -> None:
    s = Settings(city_timezones={"Las Palmas": "Atlantic/Canary"})
    reports = {j.timezone: j for j in plan(s, SOURCES) if j.flow == "report"}
    assert reports["Europe/Berlin"].cities == ("Essen", "Oberhausen")
    assert reports["Europe/Berlin"].network  # the network report in the default zone
    assert reports["Europe/Lisbon"].cities == ("Lisbon",) and not reports["Europe/Lisbon"].network
    assert reports["Atlantic/Canary"].cities == ("Las Palmas",)  # not Madrid's hour
    assert reports["Europe/Zagreb"].cities == ("Sisak",)
    assert len({j.name for j in reports.values()}) == len(reports)


def test_the_network_report_has_a_job_even_without_a_city_in_its_zone() -> None:
    reports = [j for j in plan(Settings(timezone="Europe/Paris"), SOURCES) if j.network]
    assert [(j.timezone, j.cities) for j in reports] == [("Europe/Paris", ())]


def test_unknown_country_zone_or_cron_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="FRAMEWATCH_CITY_TIMEZONES"):
        city_timezones([outlet("x", "Atlantis", "XX")], {})
    with pytest.raises(ValueError, match="unknown time zone"):
        city_timezones(SOURCES, {"Sisak": "Europe/Sisak"})
    with pytest.raises(ValueError, match="ingest_cron"):
        plan(Settings(ingest_cron="every hour"), SOURCES)


@pytest.mark.parametrize(
    ("today", "week"),
    [
        (date(2026, 11, 23), "2026-W47"),  # Monday of W48: all of W47
        (date(2026, 11, 29), "2026-W47"),  # Sunday of W48: W48 is not over yet
        (date(2027, 1, 4), "2026-W53"),  # a 53-week year
    ],
)
def test_the_weekly_report_covers_the_last_full_iso_week(today: date, week: str) -> None:
    assert last_full_week(today) == week
