"""The report's newer sections: outlets behind a change, voices, traceable SQL, locale
formats, the city's language by default, the PDF, and the page in a real browser."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from markupsafe import escape
from typer.testing import CliRunner

from dashboards.i18n import fmt_pct, translator
from dashboards.report import Report, build_report, render, write_report
from pipeline import aggregate
from pipeline.aggregate import Scope, last_days
from pipeline.breakdown import CATEGORIES, outlet_drivers, voices
from pipeline.store import open_store
from tests.browser import chromium_path, screenshot
from tests.dashboards.test_report import CITY, PAYLOAD_ID, SCRIPT, build_db

T_DE = translator("de")


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report test database plus quotations: police twice, officials once, no migrant."""
    path = tmp_path_factory.mktemp("sections") / "report.duckdb"
    build_db(path)
    con = open_store(path)
    quotes = [(PAYLOAD_ID, 0, "police"), (PAYLOAD_ID, 1, "police"), ("now-order-0", 0, "official")]
    for aid, i, category in quotes:
        con.execute(
            "INSERT INTO article_quotes VALUES (?, ?, 'Wir ermitteln.', 0, 5, 'Sprecher',"
            " NULL, NULL, ?, 'sagte', 'test')",
            [aid, i, category],
        )
    con.close()
    return path


@pytest.fixture(scope="module")
def report(db_path: Path) -> Report:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return build_report(con, last_days(), "de", CITY)


def test_an_outlet_that_always_runs_a_frame_does_not_drive_its_rise(db_path: Path) -> None:
    # Kurier: 4 of 4 migration articles with public order now, 2 of 2 before (no change).
    # Anzeiger: 2 of 3 now, 0 of 22 before: the rise is the Anzeiger's.
    with duckdb.connect(str(db_path), read_only=True) as con:
        drivers = outlet_drivers(con, last_days(), "threat_public_order", Scope(city=CITY))
    assert [(d.outlet, d.framed, d.migration_articles) for d in drivers] == [("Anzeiger", 2, 3)]
    assert drivers[0].baseline_share == 0.0 and drivers[0].excess == 2.0


def test_drivers_are_said_in_german(report: Report) -> None:
    html = render(report, "html")
    line = T_DE["driver_line"].format(outlet="Anzeiger", framed=2, total=3, before=fmt_pct(0, "de"))
    assert line in html
    assert line.split(" (")[0] in render(report, "md")  # Markdown escapes the parentheses


def test_voices_count_articles_and_quotes(db_path: Path, report: Report) -> None:
    with duckdb.connect(str(db_path), read_only=True) as con:
        found = {v.category: (v.articles, v.quotes) for v in voices(con, last_days())}
    assert found == {"police": (1, 2), "official": (1, 1)}
    assert report.voices_without_migrants
    html = render(report, "html")
    assert T_DE["voice_police"] in html and T_DE["voices_no_migrants"] in html


def test_the_report_lists_every_speaker_category_migrants_first() -> None:
    from models.voice import CATEGORY_ORDER, UNKNOWN

    assert sorted(CATEGORIES) == sorted((*CATEGORY_ORDER, UNKNOWN))
    assert (CATEGORIES[0], CATEGORIES[-1]) == ("migrant", UNKNOWN)


def test_every_sql_link_has_its_query(report: Report) -> None:
    html = render(report, "html")
    links = set(re.findall(r'href="#(sql-[a-z]+)"', html))
    anchors = set(re.findall(r'id="(sql-[a-z]+)"', html))
    assert links and links <= anchors
    assert "{scope}" not in html


def test_the_shown_sql_gives_the_shown_number(db_path: Path, report: Report) -> None:
    shown = {q.anchor: q.sql for q in report.sql}
    period = report.period
    with duckdb.connect(str(db_path), read_only=True) as con:
        [(n,)] = con.execute(shown["totals"], [period.start, period.end, CITY]).fetchall()
        frames = dict(con.execute(shown["frames"], [period.start, period.end, CITY]).fetchall())
        own = {
            anchor: con.execute(shown[anchor], [period.start, period.end, CITY]).fetchall()
            for anchor in ("terms", "outlets", "problems")
        }
    assert n == report.totals.migration
    terms = [(term, count) for _, term, count, *_ in own["terms"]]
    assert terms == [(row.term, row.count) for row in report.terms]
    assert own["outlets"] == report.outlets and own["problems"] == report.problems
    assert report.outlets and report.terms and report.problems  # real rows compared
    order = next(t for t in report.trends if t.frame == "threat_public_order")
    assert frames["threat_public_order"] == order.articles


def test_percentages_and_dates_follow_the_language(report: Report) -> None:
    assert fmt_pct(0.5, "de") == "50\xa0%" and fmt_pct(0.5, "pl") == "50%"
    html = render(report, "html")
    order = next(t for t in report.trends if t.frame == "threat_public_order")
    assert fmt_pct(order.share, "de") in html
    assert re.search(r"\d{2}\.\d{2}\.\d{4} – \d{2}\.\d{2}\.\d{4}", report.period_text)


def test_report_defaults_to_the_city_language(db_path: Path, tmp_path: Path) -> None:
    from pipeline.cli import app

    env = {"FRAMEWATCH_DB": str(db_path), "FRAMEWATCH_REPORTS": str(tmp_path)}
    result = CliRunner().invoke(app, ["report", "--city", CITY], env=env)
    assert result.exit_code == 0, result.output
    [html] = tmp_path.glob("*-oberhausen-de.html")
    assert '<html lang="de">' in html.read_text(encoding="utf-8")
    refused = CliRunner().invoke(app, ["report", "--city", "Atlantis"], env=env)
    assert refused.exit_code != 0 and "Oberhausen" in refused.output


def test_no_browser_means_no_pdf_and_no_error(report: Report, tmp_path: Path) -> None:
    paths = write_report(report, tmp_path / "r.html", Path("/nonexistent/chromium"))
    assert [p.suffix for p in paths] == [".html", ".md"]


def test_pdf_is_printed_by_chromium(report: Report, tmp_path: Path) -> None:
    paths = write_report(report, tmp_path / "r.html", Path(chromium_path()))
    pdf = paths[-1]
    assert pdf.suffix == ".pdf" and pdf.read_bytes().startswith(b"%PDF")


def test_report_in_a_real_browser(report: Report, tmp_path: Path, page) -> None:  # type: ignore[no-untyped-def]
    html = tmp_path / "report.html"
    write_report(report, html)
    page.goto(html.as_uri())
    assert page.dialogs == [] and page.errors == [] and page.external == []
    assert SCRIPT in page.inner_text("body")  # the payload is shown as text
    assert page.locator("svg").count() >= 1
    page.click("a[href='#sql-frames']")
    assert page.locator("#sql-frames").is_visible()
    screenshot(page, "report")


def test_appendix_parameters_are_the_period_and_the_baseline(report: Report) -> None:
    totals = report.sql[0]
    start, base = report.period.start, report.period.shifted(aggregate.BASELINE_PERIODS).start
    assert totals.params == f"['{start:%Y-%m-%d}', '{report.period.end:%Y-%m-%d}', '{CITY}']"
    assert totals.baseline_params.startswith(f"['{base:%Y-%m-%d}', '{start:%Y-%m-%d}'")


def test_suggestions_shown_for_the_frame_that_rose(report: Report) -> None:
    assert report.rose == ["threat_public_order"]
    frames = [s.frame for s in report.counter]
    assert frames[0] == "general" and "threat_public_order" in frames
    assert set(frames) <= {"general", "threat_public_order"}
    html = render(report, "html")
    first = report.counter[0]
    assert str(escape(first.text)) in html and first.source.url in html


def test_no_rise_no_frame_suggestions(db_path: Path) -> None:
    with duckdb.connect(str(db_path), read_only=True) as con:
        quiet = build_report(con, last_days(), "it", "Dublin")  # 3 articles: too few
    assert quiet.counter == [] and translator("it")["counter_none"] in render(quiet, "html")
