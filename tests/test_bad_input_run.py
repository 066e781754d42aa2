"""``framewatch run`` against an outlet serving every bad input at once, twice.

The crawler's own tests (tests/spiders) check each fault in isolation; this one checks the
whole run as a user meets it: the command exits 0, every bad URL has its reason in
fetch_log (url, status, error), what was stored before survives, good pages in legacy
encodings become correct articles, and a second run stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pipeline.cli import app
from pipeline.config import Settings
from pipeline.records import Article, Source
from pipeline.store import insert_articles, open_readonly, open_store, upsert_sources
from tests.spiders.crawling import outlet, write_sources
from tests.spiders.faultserver import (
    FaultServer,
    article,
    gzip_bomb,
    redirect,
    reset,
    rss,
    serving,
    slow,
    static,
    stream,
)

pytestmark = pytest.mark.e2e

TEXT_DE = (
    "Der Integrationsrat der Stadt hat am Dienstagabend über die Sprachkurse für neu "
    "zugewanderte Familien beraten. Die Volkshochschule bietet ab Januar zwei zusätzliche "
    "Kurse an, die Kosten teilen sich Stadt und Land. "
)
TEXT_PL = (
    "Rada miasta przyjęła we wtorek program wsparcia dla cudzoziemców, którzy zamieszkali "
    "w Gdańsku. Łącznie dwadzieścia osób weźmie udział w bezpłatnym kursie języka polskiego "
    "i zajęciach o życiu w mieście. "
)
TEXT_HR = (
    "Gradsko vijeće u Sisku u utorak je raspravljalo o tečajevima hrvatskog jezika za strane "
    "radnike. Čak četiri tvrtke iz industrijske zone sudjelovat će u troškovima, a nastava "
    "počinje u listopadu. Đurđa Šarić vodit će program. "
)
BLOCKED = "http://169.254.169.254/latest/meta-data/"


def page(title: str, text: str, lang: str, charset: str) -> bytes:
    """An article page declaring ``charset`` in a meta tag, encoded in it."""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="{charset}">'
        f"<title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{text * 2}</p><p>{text}</p></article></body></html>"
    ).encode(charset)


def routes(server: FaultServer) -> dict[str, str]:
    """Register every fault; return name -> URL."""
    good = {
        f"good{i}": server.route(
            f"/news/good{i}.html", static(article(f"Sprachkurse {i}", TEXT_DE * 3))
        )
        for i in range(3)
    }
    bom = b"\xef\xbb\xbf" + page("Kurse ohne Erklärung", TEXT_DE, "de", "utf-8")
    return {
        **good,
        "cp1250": server.route(
            "/news/pl.html",
            static(page("Kurs języka", TEXT_PL, "pl", "windows-1250"), "text/html"),
        ),
        "latin2": server.route(
            "/news/hr.html",
            static(
                page("Tečaj jezika", TEXT_HR, "hr", "iso-8859-2"), "text/html; charset=iso-8859-1"
            ),
        ),
        "bom": server.route("/news/bom.html", static(bom, "text/html")),
        "notext": server.route(
            "/news/empty.html", static(b"<html><body><nav>Start</nav></body></html>")
        ),
        "e500": server.route("/news/500.html", static(b"oops", status=500)),
        "e503": server.route("/news/503.html", static(b"busy", status=503)),
        "e404": server.route("/news/404.html", static(b"gone", status=404)),
        "e410": server.route("/news/410.html", static(b"gone", status=410)),
        "reset": server.route("/news/reset.html", reset()),
        "slow": server.route("/news/slow.html", slow(4.0)),
        "loop": server.route("/news/loop.html", redirect("/news/loop.html")),
        "huge": server.route("/news/huge.html", stream(50 * 1024 * 1024, content_length=False)),
        "bomb": server.route("/news/bomb.html", gzip_bomb(40 * 1024 * 1024)),
    }


@dataclass(frozen=True)
class Runs:
    """Two runs of ``framewatch run`` and what they left."""

    urls: dict[str, str]
    first: Result
    second: Result
    db: Path
    before: str  # id of an article stored before the runs


def earlier_article() -> Article:
    """An article a previous run had stored (it must survive)."""
    at = datetime(2026, 11, 1, 8, tzinfo=UTC)
    return Article(
        "earlier00000001", "http://old.example/a", "http://old.example/a",
        "http://old.example/a", "fault", "de", "de", "Früher", TEXT_DE, "", at, "feed", at, "h0",
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    base = tmp_path_factory.mktemp("badrun")
    db = base / "bad.duckdb"
    con = open_store(db)
    upsert_sources(con, [Source("fault", "Fault", "Oberhausen", "DE", "de", feeds=("x",))])
    insert_articles(con, [earlier_article()], "earlier")
    con.close()
    with serving() as server:
        urls = routes(server)
        links = [*urls.values(), urls["good0"], BLOCKED]  # good0 twice: a duplicate entry
        feeds = [
            server.route("/feed.xml", static(rss(links), "application/rss+xml")),
            server.route("/broken.xml", static(b"<rss><channel><item><title>x", "text/xml")),
            server.route("/html.xml", static(b"<html><body><p>Start</p></body></html>")),
            server.route("/empty.xml", static(rss([]), "application/rss+xml")),
        ]
        sources = write_sources(base / "sources.yaml", outlet("fault", feeds=feeds))
        env = {
            "FRAMEWATCH_DB": str(db),
            "FRAMEWATCH_STAGING": str(base / "staging"),
            "FRAMEWATCH_MODEL_CACHE": str(settings.model_cache),
            "FRAMEWATCH_DOWNLOAD_TIMEOUT": "2",
            "FRAMEWATCH_DOWNLOAD_MAXSIZE": str(2 * 1024 * 1024),
            "FRAMEWATCH_MAX_RETRIES": "1",
            "NO_COLOR": "1",
        }
        cmd = ["run", "--sources", str(sources)]
        first = CliRunner().invoke(app, cmd, env=env)
        second = CliRunner().invoke(app, cmd, env=env)
    yield Runs(urls, first, second, db, earlier_article().id)


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with open_readonly(db) as con:
        return con.execute(sql).fetchall()


def errors(db: Path) -> dict[str, list[tuple[object, str]]]:
    """url -> [(status, error)] of the failed fetch-log rows."""
    out: dict[str, list[tuple[object, str]]] = {}
    for url, status, error in query(
        db, "SELECT url, status, error FROM fetch_log WHERE error IS NOT NULL"
    ):
        out.setdefault(str(url), []).append((status, str(error)))
    return out


def test_both_runs_exit_0(runs: Runs) -> None:
    assert runs.first.exit_code == 0, runs.first.output
    assert runs.second.exit_code == 0, runs.second.output


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("e500", 500, "HTTP 500"),
        ("e503", 503, "HTTP 503"),
        ("e404", 404, "HTTP 404"),
        ("e410", 410, "HTTP 410"),
        ("reset", None, "connection"),
        ("slow", None, "timeout"),
        ("loop", None, "redirect"),
        ("huge", None, "too large"),
        ("bomb", None, "too large"),
        ("notext", 200, "no article text"),
    ],
)
def test_every_bad_url_is_recorded_with_its_reason(
    runs: Runs, name: str, status: int | None, reason: str
) -> None:
    found = errors(runs.db).get(runs.urls[name], [])
    assert found, f"{name}: nothing recorded"
    assert any(s == status and reason.lower() in e.lower() for s, e in found), found


def test_bad_feeds_and_the_metadata_address_are_recorded(runs: Runs) -> None:
    recorded = errors(runs.db)
    assert any("blocked" in e for _, e in recorded.get(BLOCKED, [])), recorded.get(BLOCKED)
    by_path = {url.rsplit("/", 1)[-1]: rows for url, rows in recorded.items()}
    assert any("malformed" in e or "no entries" in e for _, e in by_path["broken.xml"])
    assert any("not a feed" in e for _, e in by_path["html.xml"])
    assert any("no entries" in e for _, e in by_path["empty.xml"])


def test_legacy_encodings_become_correct_articles(runs: Runs) -> None:
    rows = dict(query(runs.db, "SELECT url, title || ' ' || text FROM articles"))
    assert "Łącznie" in rows[runs.urls["cp1250"]] and "język" in rows[runs.urls["cp1250"]]
    assert "Đurđa Šarić" in rows[runs.urls["latin2"]]
    assert "Erklärung" in rows[runs.urls["bom"]]
    assert not rows[runs.urls["bom"]].startswith("\ufeff")


def test_nothing_stored_before_is_lost_and_nothing_is_stored_twice(runs: Runs) -> None:
    ids = [r[0] for r in query(runs.db, "SELECT id FROM articles")]
    assert runs.before in ids
    assert len(ids) == len(set(ids)) == 1 + 3 + 3  # earlier + good + three encodings
    stored = query(runs.db, "SELECT count(*) FROM articles WHERE url LIKE '%good0%'")
    assert stored == [(1,)]  # listed twice in the feed, stored once


def test_the_second_run_fetches_no_article_again(runs: Runs) -> None:
    second = query(
        runs.db,
        "SELECT count(*) FROM fetch_log WHERE kind = 'article' AND status = 200"
        " AND run_id = (SELECT id FROM runs ORDER BY started_at DESC LIMIT 1)",
    )
    assert second == [(0,)]
    assert query(runs.db, "SELECT articles_new FROM runs ORDER BY started_at") == [(6,), (0,)]


def test_the_page_without_text_is_kept_for_reextract(runs: Runs) -> None:
    rows = query(
        runs.db,
        f"SELECT article_id IS NULL, html_gz IS NOT NULL FROM raw_pages"
        f" WHERE url = '{runs.urls['notext']}'",
    )
    assert rows == [(True, True)]


def test_the_database_stays_consistent(runs: Runs) -> None:
    orphans = query(
        runs.db,
        "SELECT count(*) FROM article_frames f LEFT JOIN articles a ON a.id = f.article_id"
        " WHERE a.id IS NULL",
    )
    assert orphans == [(0,)]
    dangling = query(
        runs.db,
        "SELECT count(*) FROM raw_pages r LEFT JOIN articles a ON a.id = r.article_id"
        " WHERE r.article_id IS NOT NULL AND a.id IS NULL",
    )
    assert dangling == [(0,)]
    assert query(runs.db, "SELECT count(*) FROM articles WHERE story_id IS NULL") == [(0,)]
    statuses = query(runs.db, "SELECT status FROM runs ORDER BY started_at")
    assert statuses == [("completed",), ("completed",)]
