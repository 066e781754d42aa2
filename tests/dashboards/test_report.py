"""The weekly report on a small real database, and the trend arithmetic behind it."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from markupsafe import escape

from dashboards.report import Report, build_report, render, report_name
from pipeline import aggregate
from pipeline.aggregate import iso_week, last_days, verdict
from pipeline.records import Article, FetchOutcome, Framing, Source, TermHit
from pipeline.store import (
    finish_run,
    insert_articles,
    log_fetches,
    open_store,
    save_framings,
    start_run,
    update_feed_states,
    upsert_sources,
)
from tests.factories import framing

REPO = Path(__file__).resolve().parents[2]
LABELS = yaml.safe_load((REPO / "models" / "labels.yaml").read_text(encoding="utf-8"))
CODES = list(LABELS["labels"])
TRANSLATIONS_DE = yaml.safe_load(
    (REPO / "dashboards" / "translations" / "report" / "de.yaml").read_text(encoding="utf-8")
)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
CITY = "Oberhausen"
SOURCES = [
    Source("kurier", "Stadtkurier", CITY, "DE", "de", feeds=("http://k/rss",)),
    Source("anzeiger", "Anzeiger", CITY, "DE", "de", feeds=("http://a/rss",)),
    Source("gazette", "Other Gazette", "Dublin", "IE", "en", feeds=("http://g/rss",)),
]
# Articles in the current seven days, per city: (migration articles with threat_public_order,
# migration articles without it, articles not about migration).
NOW_ORDER, NOW_OTHER, NOW_PLAIN = 6, 1, 4
BASE_ORDER, BASE_OTHER, BASE_PLAIN = 2, 22, 10
PAYLOAD_ID = "payload"
PAYLOAD_EVIDENCE = f"Der Täter rief {SCRIPT} und warf {IMG} auf die Straße."
MODEL = "test-model"


def today() -> date:
    return datetime.now(UTC).date()


def at(days_ago: int) -> datetime:
    d = today() - timedelta(days=days_ago)
    return datetime(d.year, d.month, d.day, 9, 30, tzinfo=UTC)


def make_article(aid: str, source: str, published: datetime, title: str, text: str) -> Article:
    return Article(
        id=aid,
        url=f"http://{source}/{aid}",
        requested_url=f"http://{source}/{aid}",
        canonical_url=f"http://{source}/{aid}",
        source_id=source,
        lang="de",
        declared_lang="de",
        title=title,
        text=text,
        author="R",
        published_at=published,
        date_source="feed",
        fetched_at=published,
        content_hash=f"h-{aid}",
    )


def make_framing(
    article: Article,
    migration: bool,
    frame: str | None,
    score: float = 0.8,
    sentence: str | None = None,
) -> Framing:
    """The shared test framing, with a water metaphor at the start of every migration text."""
    terms = (
        (TermHit("metaphor", "flüchtlingswelle", 0, 5, article.text[:5], "water"),)
        if migration
        else ()
    )
    return framing(
        article.id,
        article.text,
        frame,
        migration=migration,
        terms=terms,
        score=score,
        model=MODEL,
        sentence=sentence,
    )


def build_db(path: Path) -> None:
    con = open_store(path)
    upsert_sources(con, SOURCES)
    articles: list[Article] = []
    framings: list[Framing] = []

    def add(
        aid: str,
        source: str,
        days_ago: int,
        migration: bool,
        frame: str | None,
        title: str | None = None,
        text: str | None = None,
        score: float = 0.8,
        sentence: str | None = None,
    ) -> None:
        body = text or (
            f"Bericht {aid} aus dem Stadtrat über Zuwanderung und Wohnungen.\n"
            f"Ein zweiter Absatz mit weiteren Einzelheiten zu {aid}."
        )
        a = make_article(aid, source, at(days_ago), title or f"Meldung {aid}", body)
        articles.append(a)
        framings.append(make_framing(a, migration, frame, score, sentence))

    payload_text = f"Vorspann zur Meldung.\n{PAYLOAD_EVIDENCE}\nDie Polizei ermittelt."
    add(
        PAYLOAD_ID,
        "kurier",
        1,
        True,
        "threat_public_order",
        title=f"Angriff {SCRIPT} {IMG}",
        text=payload_text,
        score=0.99,
        sentence=PAYLOAD_EVIDENCE,
    )
    for i in range(NOW_ORDER - 1):
        add(f"now-order-{i}", ("kurier", "anzeiger")[i % 2], i % 6, True, "threat_public_order")
    for i in range(NOW_OTHER):
        add(f"now-other-{i}", "anzeiger", 2, True, "hero_integration")
    for i in range(NOW_PLAIN):
        add(f"now-plain-{i}", "kurier", 3, False, None)
    for i in range(BASE_ORDER):
        add(f"base-order-{i}", "kurier", 10 + 7 * i, True, "threat_public_order")
    for i in range(BASE_OTHER):
        add(f"base-other-{i}", "anzeiger", 8 + (i * 2) % 53, True, "hero_integration")
    for i in range(BASE_PLAIN):
        add(f"base-plain-{i}", "kurier", 9 + 5 * i, False, None)
    # Another city's articles must not leak into the Oberhausen report.
    for i in range(3):
        a = make_article(f"dublin-{i}", "gazette", at(1), f"Dublin {i}", f"Dublin text {i}.")
        articles.append(a)
        framings.append(make_framing(a, True, "victim_humanitarian"))
    # Articles outside the nine periods count nowhere.
    add("too-old", "kurier", 200, True, "threat_public_order")

    start_run(con, "run1", "sources.yaml")
    insert_articles(con, articles, "run1")
    save_framings(con, framings)
    log_fetches(
        con,
        "run1",
        [
            FetchOutcome(
                "kurier",
                "http://kurier/feed",
                "feed",
                200,
                f"malformed feed ({SCRIPT})",
                datetime.now(UTC),
            )
        ],
    )
    # The kurier's feed failed in its last three runs: the report must say so.
    update_feed_states(
        con,
        [FetchOutcome("kurier", "http://k/rss", "feed", 503, "HTTP 503", at(d)) for d in (2, 1, 0)],
        datetime.now(UTC),
        disable_after=48,
    )
    finish_run(con, "run1", "completed")
    con.close()


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.duckdb"
    build_db(path)
    return path


@pytest.fixture(scope="module")
def report_de(db_path: Path) -> Report:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return build_report(con, last_days(), "de", CITY)
    finally:
        con.close()


@pytest.fixture(scope="module")
def html_de(report_de: Report) -> str:
    return render(report_de, "html")


def test_payloads_are_escaped(html_de: str) -> None:
    assert "<script>alert" not in html_de
    assert "<img src=x" not in html_de
    # the article is shown (title and evidence), escaped
    assert str(escape(f"Angriff {SCRIPT} {IMG}")) in html_de
    assert str(escape(SCRIPT)) in html_de


def test_no_script_tag_and_an_inline_svg(html_de: str) -> None:
    assert re.search(r"<\s*script", html_de, re.IGNORECASE) is None
    assert "<svg" in html_de
    assert "Content-Security-Policy" in html_de


def test_a_failing_outlet_is_named_in_german(report_de: Report, html_de: str) -> None:
    [row] = report_de.health
    assert (row.outlet, row.status) == ("Stadtkurier", "failing")
    failing = TRANSLATIONS_DE["health_failing"].format(n=3)
    assert failing in html_de and failing in render(report_de, "md")
    assert TRANSLATIONS_DE["health_summary"].format(ok=1, n=2) in html_de


def test_frame_names_are_german(html_de: str) -> None:
    for code, label in LABELS["labels"].items():
        de, en = label["names"]["de"], label["names"]["en"]
        assert str(escape(de)) in html_de, code
        if en != de:
            assert str(escape(en)) not in html_de, code
    assert TRANSLATIONS_DE["key_figures"] in html_de
    assert '<html lang="de">' in html_de


def test_counts_cover_the_city_and_the_period(report_de: Report) -> None:
    now_total = NOW_ORDER + NOW_OTHER + NOW_PLAIN
    assert report_de.totals.articles == now_total
    assert report_de.totals.migration == NOW_ORDER + NOW_OTHER
    order = next(t for t in report_de.trends if t.frame == "threat_public_order")
    assert (order.articles, order.baseline_articles) == (NOW_ORDER, BASE_ORDER)
    assert order.verdict == "rising"
    examples = report_de.examples["threat_public_order"]
    assert examples[0].evidence == PAYLOAD_EVIDENCE
    assert {o for o, _, _ in report_de.outlets} == {"Stadtkurier", "Anzeiger"}


def test_markdown_has_the_same_article_count(report_de: Report, html_de: str) -> None:
    md = render(report_de, "md")
    n = NOW_ORDER + NOW_OTHER + NOW_PLAIN
    assert f"- {n} {TRANSLATIONS_DE['articles_total']}" in md
    assert f"<b>{n}</b>{TRANSLATIONS_DE['articles_total']}" in html_de
    assert LABELS["labels"]["threat_public_order"]["names"]["de"] in md


# --- aggregate: verdicts and periods ------------------------------------------------------


def test_min_articles_is_the_documented_five() -> None:
    assert aggregate.MIN_ARTICLES == 5  # docs/choices.md: "below five migration articles"


def test_verdict_too_few_below_min_articles() -> None:
    assert verdict(4, 4, 0, 100) == ("too_few", None)
    assert verdict(0, 0, 0, 0) == ("too_few", None)
    assert verdict(5, 5, 0, 100)[0] != "too_few"


def test_verdict_rising_for_a_clear_jump() -> None:
    word, p = verdict(15, 20, 10, 100)
    assert word == "rising"
    assert p is not None and 0 <= p < 0.05


def test_verdict_falling_for_a_clear_drop() -> None:
    word, p = verdict(0, 30, 60, 100)
    assert word == "falling" and p is not None and p < 0.05


def test_verdict_stable_for_equal_shares() -> None:
    word, p = verdict(5, 20, 20, 80)
    assert word == "stable"
    assert p is not None and p > 0.5


def test_verdict_small_jump_is_not_called_rising() -> None:
    # 3 of 6 now vs 1 of 6 before: a big change in share, but not significant
    assert verdict(3, 6, 1, 6)[0] == "stable"


def test_verdict_without_baseline_is_new() -> None:
    assert verdict(3, 10, 0, 0) == ("new", None)


def test_iso_week_w47_2026() -> None:
    week = iso_week("2026-W47")
    assert week.start == datetime(2026, 11, 16)
    assert week.start.weekday() == 0
    assert week.end == datetime(2026, 11, 23)
    assert week.label == "2026-W47"
    assert week.shifted(8).start == datetime(2026, 9, 21)
    assert week.shifted(1).end == week.start


def test_iso_week_year_boundaries() -> None:
    assert iso_week("2026-W01").start == datetime(2025, 12, 29)
    assert iso_week("2026-W53").start == datetime(2026, 12, 28)  # 2026 has 53 ISO weeks
    assert iso_week("2027-W01").start == datetime(2027, 1, 4)


def test_last_days_includes_today_and_six_days_before() -> None:
    period = last_days(date(2026, 11, 22))
    assert period.start == datetime(2026, 11, 16)
    assert period.end == datetime(2026, 11, 23)  # half-open: all of today is inside
    assert "2026-11-16" in period.label and "2026-11-22" in period.label


def test_last_days_across_new_year() -> None:
    period = last_days(date(2026, 1, 2))
    assert period.start == datetime(2025, 12, 27)
    assert period.end == datetime(2026, 1, 3)
    assert last_days(date(2026, 1, 2), days=1).start == datetime(2026, 1, 2)


def test_markdown_does_not_carry_raw_html(report_de: Report) -> None:
    md = render(report_de, "md")
    assert "<script>alert" not in md and "<img src=x" not in md


@pytest.mark.parametrize("week", ["2025-W53", "2026-W00", "2026-W54", "2026-47", "W47"])
def test_weeks_that_do_not_exist_are_refused(week: str) -> None:
    with pytest.raises(ValueError):
        iso_week(week)


# --- links, empty periods, names ----------------------------------------------------------

HOSTILE_URL = "javascript:alert(document.domain)"


def test_a_script_url_is_shown_as_text_never_as_a_link(report_de: Report) -> None:
    # A scraped canonical URL is untrusted: only http(s) becomes an href or a Markdown link.
    [first, *rest] = report_de.good_practice
    hostile = replace(report_de, good_practice=[replace(first, url=HOSTILE_URL), *rest])
    html, md = render(hostile, "html"), render(hostile, "md")
    assert HOSTILE_URL in html and 'href="javascript:' not in html.lower()
    assert f'href="{first.url}"' in render(report_de, "html")
    assert "javascript:alert\\(" in md and "<javascript:" not in md
    assert f"<{first.url}>" in render(report_de, "md")  # a web URL stays a link


def test_a_period_without_articles_prints_a_dash(db_path: Path) -> None:
    with duckdb.connect(str(db_path), read_only=True) as con:
        empty = build_report(con, iso_week("2020-W10"), "de", CITY)
    assert empty.totals.share is None and empty.model_versions == []
    assert "<b>–</b>" in render(empty, "html")
    assert f"- – {TRANSLATIONS_DE['migration_share']}" in render(empty, "md")


def test_model_versions_are_those_of_the_reported_articles(report_de: Report) -> None:
    assert report_de.model_versions == [MODEL]


def test_one_report_name_for_weeks_and_days() -> None:
    assert report_name(iso_week("2026-W47"), CITY, "de") == "2026-W47-oberhausen-de.html"
    assert report_name(last_days(date(2026, 11, 22)), None, "en") == "2026-11-16-all-en.html"


def test_days_is_labelled_like_last_days() -> None:
    assert aggregate.days(date(2026, 11, 16), date(2026, 11, 23)) == last_days(date(2026, 11, 22))
