"""The dashboard in a real browser: Debian's chromium, driven by Playwright, against uvicorn
serving the app on a free loopback port. Screenshots land in tests/artifacts/screenshots."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pytest
import uvicorn

from dashboards.app import create_app
from models.labels import load_labels
from pipeline.config import Settings
from tests.browser import screenshot
from tests.dashboards.test_app import IMG, PAYLOAD_OUTLET, PAYLOAD_TITLE, SCRIPT, SVG, build_db

STARTUP_SECONDS = 20


@dataclass(frozen=True)
class Server:
    """A running dashboard: its address and settings."""

    url: str
    settings: Settings


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """uvicorn serving the dashboard over the test database in a background thread."""
    base = tmp_path_factory.mktemp("dash-browser")
    build_db(base / "dash.duckdb")
    (base / "reports").mkdir()
    port = free_port()
    settings = Settings(
        db=base / "dash.duckdb", reports=base / "reports", dashboard_port=port,
        dashboard_host="127.0.0.1", dashboard_token=None,
    )  # fmt: skip
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not web.started:
        assert time.monotonic() < deadline, "the dashboard did not start"
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", settings)
    web.should_exit = True
    thread.join(timeout=STARTUP_SECONDS)


def console_errors(page: Any) -> list[str]:
    """Collect the page's console errors (a blocked script or style would show up here)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def shoot(page: Any, name: str) -> None:
    """Save a screenshot for people to look at, and check that it was written."""
    path = screenshot(page, name)
    assert path.stat().st_size > 1000 and path.stat().st_mtime > time.time() - 60


def article_titles(page: Any) -> list[str]:
    """The titles in the overview's article list."""
    return [
        t.strip() for t in page.locator("table.articles tbody td:nth-child(2)").all_inner_texts()
    ]


def test_scraped_payloads_do_not_run(server: Server, page: Any) -> None:
    errors = console_errors(page)
    page.goto(f"{server.url}/?city=Oberhausen")
    assert PAYLOAD_TITLE in article_titles(page)
    assert PAYLOAD_OUTLET in page.locator("table.articles").inner_text()
    page.get_by_role("link", name=PAYLOAD_TITLE).click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/articles/payload")
    assert page.locator("h1").inner_text() == PAYLOAD_TITLE
    body = page.locator("div.body").inner_text()
    assert SCRIPT in body and IMG in body and SVG in body
    assert IMG in page.locator("div.body mark.cue").first.inner_text()  # highlighted, as text
    assert PAYLOAD_OUTLET in page.locator("p.meta").inner_text()
    hrefs = page.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs and not [h for h in hrefs if not h.startswith(server.url)]  # no javascript:
    assert page.locator("main script, main img, main iframe, div.body svg").count() == 0
    page.wait_for_timeout(300)  # time for an onload/onerror handler, had one been created
    assert page.dialogs == []
    assert page.errors == []
    assert page.external == []
    assert errors == []


def test_filters_narrow_the_list(server: Server, page: Any) -> None:
    page.goto(f"{server.url}/")
    everything = article_titles(page)
    assert len(everything) == 25  # the first of two pages
    assert page.locator("figure.chart svg").count() == 1
    shoot(page, "dashboard-overview")
    page.select_option("select[name=city]", "Oberhausen")
    page.select_option("select[name=frame]", "threat_public_order")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_load_state("load")
    assert "city=Oberhausen" in page.url and "frame=threat_public_order" in page.url
    assert article_titles(page) == ["Schlägerei am Bahnhof"]
    assert page.locator("select[name=city]").input_value() == "Oberhausen"  # kept in the form
    page.select_option("select[name=frame]", "")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_load_state("load")
    assert sorted(article_titles(page)) == sorted(
        ["Schlägerei am Bahnhof", "Familie wartet seit Monaten", PAYLOAD_TITLE]
    )
    assert page.errors == [] and page.external == []


def test_the_review_flow_stores_the_correction(server: Server, page: Any) -> None:
    names = {label.code: label.name("en") for label in load_labels().labels}
    page.goto(f"{server.url}/articles/crime1")
    assert page.locator("div.body mark.cue").count() == 2
    shoot(page, "dashboard-article")
    page.fill("input[name=reviewer]", "Grace Hopper")
    page.get_by_label(names["threat_public_order"]).uncheck()
    page.get_by_label(names["threat_security"]).check()
    page.get_by_label(names["victim_discrimination"]).check()
    page.fill("textarea[name=note]", "Die Festnahme ist ein Sicherheitsthema.")
    page.get_by_role("button", name="Save my correction").click()
    page.wait_for_load_state("load")
    assert "your review is saved" in page.locator("p.flash").inner_text()
    assert "Grace Hopper" in page.locator("table.reviews").inner_text()
    assert page.locator("input[name=reviewer]").input_value() == "Grace Hopper"  # remembered
    # The form now starts from this reviewer's judgement, not the model's.
    assert page.get_by_label(names["threat_security"]).is_checked()
    assert not page.get_by_label(names["threat_public_order"]).is_checked()
    shoot(page, "dashboard-review")
    con = duckdb.connect(str(server.settings.db), read_only=True)
    try:
        rows = con.execute(
            "SELECT reviewer, article_id, labels, migration, frame_group, note, created_at"
            " FROM annotations WHERE reviewer = 'Grace Hopper'"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == 1
    _, article, labels, migration, group, note, created = rows[0]
    assert article == "crime1" and migration is True and group == "threat"
    assert sorted(labels) == ["threat_security", "victim_discrimination"]
    assert note == "Die Festnahme ist ein Sicherheitsthema." and created is not None
    assert page.errors == [] and page.dialogs == []


def test_health_page(server: Server, page: Any) -> None:
    page.goto(f"{server.url}/health")
    failing = page.locator("table.health tr.failing")
    assert failing.count() == 1 and "Stadtkurier" in failing.inner_text()
    shoot(page, "dashboard-health")
    page.goto(f"{server.url}/health?ui=hr")
    assert page.locator("h1").inner_text() == "Stanje izvora"
    assert page.errors == [] and page.external == []


def test_pages_work_without_javascript(server: Server, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        pg = context.new_page()
        pg.goto(f"{server.url}/?city=Dublin")
        assert article_titles(pg) == ["New cafe on Main Street"]
        pg.get_by_role("link", name="New cafe on Main Street").click()
        pg.wait_for_load_state("load")
        assert pg.locator("div.body mark.cue").inner_text() == "found work"
    finally:
        context.close()
