"""The dashboard over a real DuckDB file built with direct inserts, through HTTP (TestClient).

The database holds a handful of classified articles in two cities, one article whose
title, text, outlet and URL are attack payloads, and enough filler to need two list pages.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from pydantic import SecretStr
from typer.testing import CliRunner

from dashboards import queries, sessions, views
from dashboards.app import CSP, DashboardConfigError, create_app, templates
from dashboards.i18n import LANGUAGES
from dashboards.sessions import (
    MAX_FAILURES,
    SESSION_SECONDS,
    is_loopback,
    load_secret,
    secret_path,
    sign,
    unsign,
)
from dashboards.views import Span, accepted_language, highlight
from models.data import load_annotations
from models.labels import load_labels
from pipeline.annotations import Review, spool_lock, spool_path, spool_review
from pipeline.config import Settings
from pipeline.store import open_store, refresh_counted, writer_lock

REPO = Path(__file__).resolve().parents[2]
CODES = load_labels().codes
ORDER_NAME = load_labels().get("threat_public_order").name("en")
MODEL = "test-model@1"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
PAYLOAD_TITLE = f"Titel {SCRIPT} {IMG} {SVG}"
PAYLOAD_OUTLET = f"Böse {SCRIPT} Zeitung"
PAYLOAD_SENTENCE = f"Der Mann rief {IMG} und {SVG} vor dem Rathaus."
FILLER = 26  # migration articles of a third city: with the others, more than one list page


@dataclass(frozen=True)
class Doc:
    """An article to insert, with its classification."""

    id: str
    source: str
    title: str
    text: str
    days_ago: int
    frames: dict[str, float] = field(default_factory=dict)  # assigned frame -> score
    evidence: dict[str, str] = field(default_factory=dict)  # frame -> sentence
    cues: dict[str, tuple[str, ...]] = field(default_factory=dict)  # frame -> cue words
    terms: tuple[tuple[str, str], ...] = ()  # (kind, matched word)
    quotes: tuple[tuple[str, str, str], ...] = ()  # (quote, speaker, category)
    migration: bool = True
    lang: str = "de"
    url: str | None = None


SOURCES = [
    ("kurier", "Stadtkurier", "Oberhausen", "DE", "de"),
    ("gazette", "Dublin Gazette", "Dublin", "IE", "en"),
    ("giornale", "Giornale di Brescia", "Brescia", "IT", "it"),
    ("evil", PAYLOAD_OUTLET, "Oberhausen", "DE", "de"),
]
CRIME_SENTENCE = "Die Polizei nahm zwei Asylbewerber nach der Schlägerei fest."
HERO_SENTENCE = "Refugees found work in local bakeries and opened a cafe."
DOCS = [
    Doc(
        "crime1",
        "kurier",
        "Schlägerei am Bahnhof",
        "Am Samstag gab es am Bahnhof Streit.\n"
        f"{CRIME_SENTENCE}\n"
        "„Wir haben die Lage im Griff“, sagte Polizeisprecher Klaus Meier.",
        1,
        {"threat_public_order": 0.91},
        {"threat_public_order": CRIME_SENTENCE},
        {"threat_public_order": ("Polizei", "Schlägerei")},
        (("migration_term", "Asylbewerber"),),
        (("Wir haben die Lage im Griff", "Klaus Meier", "police"),),
    ),
    Doc(
        "victim1",
        "kurier",
        "Familie wartet seit Monaten",
        "Eine Familie aus Syrien wartet seit Monaten auf eine Wohnung.\nDas Amt schweigt.",
        2,
        {"victim_humanitarian": 0.77},
        {"victim_humanitarian": "Eine Familie aus Syrien wartet seit Monaten auf eine Wohnung."},
        {"victim_humanitarian": ("wartet",)},
    ),
    Doc(
        "hero1",
        "gazette",
        "New cafe on Main Street",
        f"Volunteers opened a centre last year.\n{HERO_SENTENCE}",
        1,
        {"hero_contribution": 0.84},
        {"hero_contribution": HERO_SENTENCE},
        {"hero_contribution": ("found work",)},
        lang="en",
    ),
    Doc(
        "payload",
        "evil",
        PAYLOAD_TITLE,
        f"Vorspann {SCRIPT}.\n{PAYLOAD_SENTENCE}\nEnde.",
        1,
        {"threat_security": 0.88},
        {"threat_security": PAYLOAD_SENTENCE},
        {"threat_security": (IMG,)},
        (("metaphor", SVG),),
        ((f"Hallo {SCRIPT}", f"Herr {IMG}", "citizen"),),
        url="javascript:alert(1)",
    ),
    Doc("plain", "kurier", "Stadtfest", "Das Stadtfest war gut besucht.", 1, migration=False),
    *(
        Doc(f"fill{i:02d}", "giornale", f"Notizia {i:02d}", f"Testo numero {i}.", 1 + i % 5)
        for i in range(FILLER)
    ),
]


def day(days_ago: int) -> datetime:
    """Naive UTC 09:30, ``days_ago`` days before today."""
    d = datetime.now(UTC).date() - timedelta(days=days_ago)
    return datetime(d.year, d.month, d.day, 9, 30)


def build_db(path: Path) -> None:
    """The test database, written with plain INSERTs (as an analyst's tool might)."""
    con = open_store(path)
    try:
        for sid, name, city, country, lang in SOURCES:
            con.execute(
                "INSERT INTO sources VALUES (?, ?, ?, ?, ?, [], [], true, now())",
                [sid, name, city, country, lang],
            )
        for doc in DOCS:
            insert_doc(con, doc)
        # One outlet whose feed keeps failing: the health page must say so. Its last
        # attempt is a minute ago (today 09:30 would be in the future before 09:30 UTC).
        attempt = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
        con.execute(
            "INSERT INTO feed_state (url, source_id, last_attempt, consecutive_failures,"
            " updated_at) VALUES ('http://kurier/rss', 'kurier', ?, 5, ?)",
            [attempt, attempt],
        )
        refresh_counted(con)  # what the store does after classifying; plain INSERTs do not
    finally:
        con.close()


def insert_doc(con: duckdb.DuckDBPyConnection, doc: Doc) -> None:
    """One article, its frame scores, evidence with cues, terms and quotes."""
    url = doc.url or f"https://{doc.source}.example/{doc.id}"
    group = load_labels().strongest_group(doc.frames, doc.frames) if doc.migration else None
    con.execute(
        "INSERT INTO articles (id, url, requested_url, canonical_url, source_id, lang,"
        " declared_lang, title, text, author, published_at, date_source, fetched_at,"
        " content_hash, run_id, migration_score, is_migration, hostile_score, frame_group,"
        " model_version, classified_at, story_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, 'feed', ?, ?, 'run1', ?, ?, 0.2, ?, ?, ?, ?)",
        [
            doc.id, url, url, url, doc.source, doc.lang, doc.lang, doc.title, doc.text,
            day(doc.days_ago), day(doc.days_ago), f"h-{doc.id}", 0.9 if doc.migration else 0.1,
            doc.migration, group, MODEL, day(0), doc.id,
        ],
    )  # fmt: skip
    if doc.migration:
        insert_classification(con, doc)


def insert_classification(con: duckdb.DuckDBPyConnection, doc: Doc) -> None:
    """Scores for every label (assigned ones high), evidence, terms, quotes."""
    for code in CODES:
        sentence = doc.evidence.get(code)
        start = doc.text.index(sentence) if sentence else None
        end = start + len(sentence) if sentence and start is not None else None
        con.execute(
            "INSERT INTO article_frames VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                doc.id, code, doc.frames.get(code, 0.04), code in doc.frames, sentence, start,
                end, MODEL, 1 if code in doc.frames else 0,
            ],
        )  # fmt: skip
        if sentence and start is not None:
            cues = [cue(doc.text, word, start) for word in doc.cues.get(code, ())]
            con.execute(
                "INSERT INTO article_evidence VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)",
                [doc.id, code, doc.frames[code], sentence, start, end, cues, MODEL],
            )
    for kind, word in doc.terms:
        at = doc.text.index(word)
        con.execute(
            "INSERT INTO article_terms VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            [doc.id, kind, word.lower(), word, at, at + len(word), ["Geflüchtete"]],
        )
    for i, (quote, speaker, category) in enumerate(doc.quotes):
        con.execute(
            "INSERT INTO article_quotes VALUES (?, ?, ?, 0, 1, ?, NULL, NULL, ?, 'sagte', ?)",
            [doc.id, i, quote, speaker, category, MODEL],
        )


def cue(text: str, word: str, sentence_start: int) -> dict[str, object]:
    """A cue struct with offsets into the article text."""
    at = text.index(word, sentence_start)
    return {"word": word, "start_char": at, "end_char": at + len(word), "weight": 0.4,
            "source": "lexicon"}  # fmt: skip


@pytest.fixture(scope="module")
def built_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test database, built once per module (each test works on a copy)."""
    db = tmp_path_factory.mktemp("dash") / "template.duckdb"
    build_db(db)
    return db


@pytest.fixture()
def site(tmp_path: Path, built_db: Path) -> Settings:
    """Settings for a loopback dashboard over a fresh copy of the test database and a
    reports folder with a link pointing out of it."""
    db = tmp_path / "dash.duckdb"
    shutil.copy(built_db, db)
    reports = tmp_path / "reports"
    (reports / "2026").mkdir(parents=True)
    (reports / "2026" / "2026-11-16-all-en.html").write_text(
        "<!doctype html><style>body{color:#123}</style><h1>Weekly report</h1>", encoding="utf-8"
    )
    (reports / "2026-11-09-all-de.md").write_text("# Wochenbericht\n", encoding="utf-8")
    (tmp_path / "secret.html").write_text("<h1>top secret</h1>", encoding="utf-8")
    (reports / "link.html").symlink_to(tmp_path / "secret.html")
    return Settings(db=db, reports=reports, dashboard_host="127.0.0.1", dashboard_token=None)


LOCAL = ("127.0.0.1", 50000)  # the browser's address: this machine
TOKEN = "correct-horse-battery-staple"  # a token long enough to be accepted


def local_client(settings: Settings, base_url: str = "http://127.0.0.1") -> TestClient:
    """A client of the dashboard that connects from this machine."""
    return TestClient(create_app(settings), base_url=base_url, client=LOCAL)


def with_token(site: Settings, host: str = "0.0.0.0", token: str = TOKEN) -> Settings:
    """The site's settings with a login token (and a bind address)."""
    return site.model_copy(update={"dashboard_host": host, "dashboard_token": SecretStr(token)})


@pytest.fixture()
def client(site: Settings) -> Iterator[TestClient]:
    """An HTTP client of the loopback dashboard."""
    with local_client(site) as c:
        yield c


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def assert_inert(html: str, where: str) -> None:
    """No script element, no event-handler attribute, no javascript: URL on the page."""
    for tag, attrs in Tags(html).found:
        assert tag not in ("script", "iframe", "object", "embed"), (where, tag)
        for name, value in attrs:
            assert not name.startswith("on"), (where, tag, name)
            assert not (value or "").strip().lower().startswith("javascript:"), (where, tag)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def listed(html: str) -> list[str]:
    """The article ids linked from the overview's list."""
    return re.findall(r'href="/articles/([^"/]+)"', html)


def annotations(db: Path) -> list[tuple[object, ...]]:
    """(id, reviewer, created_at, labels, migration, frame_group, text, note) of every row."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT id, reviewer, created_at, labels, migration, frame_group, text, note"
            " FROM annotations ORDER BY reviewer"
        ).fetchall()
    finally:
        con.close()


def review(client: TestClient, article: str, **form: object) -> object:
    """Open the article, then post its review form with these fields (not following the
    redirect)."""
    page = client.get(f"/articles/{article}")
    assert page.status_code == 200
    data = {"csrf": csrf_of(page.text), **form}
    return client.post(f"/articles/{article}/review", data=data, follow_redirects=False)


# --- pages ------------------------------------------------------------------------------


PAGES = [
    "/",
    "/?city=Oberhausen&frame=threat_public_order",
    "/articles/crime1",
    "/articles/payload",
    "/articles/plain",
    "/health",
    "/reports",
    "/login",
]


def test_every_page_renders_with_the_security_headers(client: TestClient) -> None:
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-security-policy"] == CSP, url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert_inert(response.text, url)
    for url, status in (("/static/app.css", 200), ("/nowhere", 404), ("/articles/nope", 404)):
        response = client.get(url)
        assert response.status_code == status, url
        assert response.headers["content-security-policy"] == CSP, url


def test_csp_forbids_scripts_and_inline_styles() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert "unsafe-inline" not in CSP and "script-src" not in CSP
    assert directives["frame-ancestors"] == "'none'"


def test_overview_shows_figures_trends_and_the_chart(client: TestClient) -> None:
    html = client.get("/").text
    assert "<svg" in html  # the server-side chart
    # 4 + 26 migration articles and one other, all within the default seven days.
    assert f"{len(DOCS) - 1} migration articles match the filters" in html
    assert re.search(rf"<a [^>]*>{re.escape(escape(ORDER_NAME))}</a>", html)


def test_filters_change_the_list(client: TestClient) -> None:
    everything = listed(client.get("/").text) + listed(client.get("/?page=2").text)
    assert len(everything) == len(DOCS) - 1  # every migration article once, over two pages
    assert len(listed(client.get("/?page=2").text)) == len(DOCS) - 1 - queries.PAGE_SIZE
    assert set(listed(client.get("/?city=Dublin").text)) == {"hero1"}
    assert set(listed(client.get("/?city=Oberhausen").text)) == {"crime1", "victim1", "payload"}
    oberhausen_order = "/?city=Oberhausen&frame=threat_public_order"
    assert listed(client.get(oberhausen_order).text) == ["crime1"]
    assert set(listed(client.get("/?outlet=kurier").text)) == {"crime1", "victim1"}
    assert listed(client.get("/?lang=en").text) == ["hero1"]
    assert listed(client.get("/?week=2020-W10").text) == []
    assert listed(client.get(f"/?from={date.today() - timedelta(days=1)}&city=Dublin").text) == [
        "hero1"
    ]


def test_bad_filter_values_are_named_and_ignored(client: TestClient) -> None:
    html = client.get("/?week=2026-W99&frame=nonsense&page=x").text
    assert "That is not a week like 2026-W47" in html
    assert "Unknown frame" in html
    assert len(listed(html)) == queries.PAGE_SIZE  # the default period, first page
    assert "A date could not be read" in client.get("/?from=yesterday").text


def test_article_view_highlights_evidence_cues_and_terms(client: TestClient) -> None:
    html = client.get("/articles/crime1").text
    body = re.search(r'<div class="body">(.*?)</div>', html, re.DOTALL)
    assert body
    marks = re.findall(r'<mark class="([^"]+)"[^>]*>([^<]*)</mark>', body.group(1))
    assert ("cue evidence", "Polizei") in marks
    assert ("cue evidence", "Schlägerei") in marks
    assert ("evidence migration_term", "Asylbewerber") in marks
    # The whole sentence is marked, in pieces around the cue words and the term.
    evidence = "".join(text for kinds, text in marks if "evidence" in kinds)
    assert evidence == CRIME_SENTENCE
    assert "Am Samstag gab es am Bahnhof Streit." in html  # unmarked text is there too
    scores = re.search(r'<table class="frames">(.*?)</table>', html, re.DOTALL)
    assert scores
    rows = re.findall(r'<tr( class="assigned")?>\s*<td>([^<]+)</td>', scores.group(1))
    assert len(rows) == len(CODES)  # every label's score
    assert [name for assigned, name in rows if assigned] == [escape(ORDER_NAME)]
    assert "Klaus Meier" in html and "police" in html
    assert 'href="https://kurier.example/crime1"' in html
    assert MODEL in html


def test_scraped_payloads_stay_text(client: TestClient) -> None:
    for url in ("/", "/?city=Oberhausen", "/articles/payload", "/health"):
        html = client.get(url).text
        assert SCRIPT not in html and IMG not in html and SVG not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    html = client.get("/articles/payload").text
    assert "javascript:" not in html
    assert "no web link" in html
    assert unescape(re.search(r"<h1>(.*?)</h1>", html).group(1)) == PAYLOAD_TITLE  # type: ignore[union-attr]


def test_ui_language_follows_query_cookie_and_browser(client: TestClient) -> None:
    assert "Übersicht" in client.get("/", headers={"accept-language": "de-AT,de;q=0.9"}).text
    response = client.get("/health?ui=pl")
    assert "Stan źródeł" in response.text
    assert "Stan źródeł" in client.get("/health").text  # the ?ui= choice is remembered
    assert "Bedrohung" in client.get("/?ui=de").text  # frame names in the same language


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_renders_in_every_language(client: TestClient, lang: str) -> None:
    for url in PAGES:
        response = client.get(url + ("&" if "?" in url else "?") + f"ui={lang}")
        assert response.status_code == 200, (url, lang)
        assert f'<html lang="{lang}">' in response.text


def test_health_page_names_the_failing_feed(client: TestClient) -> None:
    html = client.get("/health").text
    row = re.search(r'<tr class="failing">(.*?)</tr>', html, re.DOTALL)
    assert row and "Stadtkurier" in row.group(1)
    assert "the feed failed several times in a row" in row.group(1)
    # Failing first, though Brescia and Dublin come before Oberhausen by city.
    statuses = re.findall(r'<tr class="(failing|warning|ok)">', html)
    assert statuses[0] == "failing" and len(statuses) == len(SOURCES)


# --- reviews -------------------------------------------------------------------------------


def test_review_writes_an_annotation_and_a_second_review_replaces_it(
    client: TestClient, site: Settings
) -> None:
    before = datetime.now(UTC).replace(tzinfo=None)
    labels = ["threat_public_order", "victim_discrimination"]
    response = review(
        client, "crime1", reviewer="Ana Novak", action="correct", labels=labels,
        migration="yes", note="zu einseitig",
    )  # fmt: skip
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"].startswith("/articles/crime1")  # type: ignore[attr-defined]
    page = client.get("/articles/crime1").text
    assert "your review is saved" in page
    assert 'value="Ana Novak"' in page  # the name is remembered
    rows = annotations(site.db)
    assert len(rows) == 1
    note_id, who, when, stored, migration, group, text, note = rows[0]
    assert who == "Ana Novak" and sorted(stored) == labels and migration is True  # type: ignore[arg-type]
    assert group == "threat" and note == "zu einseitig"
    assert isinstance(when, datetime) and when >= before - timedelta(seconds=5)
    assert text == f"Schlägerei am Bahnhof\n{CRIME_SENTENCE}"

    review(client, "crime1", reviewer="Ana Novak", action="correct", migration="no")
    rows = annotations(site.db)
    assert len(rows) == 1 and rows[0][0] == note_id
    assert rows[0][3] == [] and rows[0][4] is False and rows[0][5] == "none"

    review(client, "crime1", reviewer="Bo", action="confirm", model_labels=["threat_public_order"],
           model_migration="yes", labels=["hero_contribution"], migration="no")  # fmt: skip
    rows = annotations(site.db)
    assert [r[1] for r in rows] == ["Ana Novak", "Bo"]
    assert rows[1][3] == ["threat_public_order"] and rows[1][4] is True  # confirm: as shown
    assert "Bo" in client.get("/articles/crime1").text  # listed under the reviews so far


def test_the_review_is_a_training_example(client: TestClient, site: Settings) -> None:
    review(client, "hero1", reviewer="Chris", action="correct",
           labels=["hero_contribution", "hero_integration"], migration="yes")  # fmt: skip
    examples = load_annotations(site.db)
    assert len(examples) == 1
    ex = examples[0]
    assert ex.source == "annotation" and ex.lang == "en"
    assert ex.labels == ("hero_contribution", "hero_integration") and ex.group == "hero"
    assert ex.migration is True
    assert HERO_SENTENCE in ex.text and ex.group_id.endswith("hero1")


def test_a_review_needs_a_name(client: TestClient, site: Settings) -> None:
    response = review(client, "crime1", reviewer="  ", labels=["threat_jobs"], migration="yes")
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert "please give your name" in client.get("/articles/crime1").text
    assert annotations(site.db) == []
    review(client, "crime1", reviewer="Ana", labels=["no_such_frame"], migration="yes")
    assert annotations(site.db) == []


def test_a_review_without_the_csrf_token_is_refused(client: TestClient, site: Settings) -> None:
    client.get("/articles/crime1")  # has a session, but posts without its token
    form = {"reviewer": "Mallory", "labels": ["threat_jobs"], "migration": "yes"}
    assert client.post("/articles/crime1/review", data=form).status_code == 403
    forged = {**form, "csrf": "forged"}
    assert client.post("/articles/crime1/review", data=forged).status_code == 403
    with local_client(site) as stranger:
        assert stranger.post("/articles/crime1/review", data=forged).status_code == 403
    assert annotations(site.db) == []


def test_the_session_cookie_is_httponly_and_samesite_strict(client: TestClient) -> None:
    header = client.get("/").headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header


HOLD_LOCK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from pipeline.store import open_store
    con = open_store(Path(sys.argv[1]))
    print("locked", flush=True)
    sys.stdin.readline()
    con.close()
    """
)


def test_a_review_during_an_ingest_is_spooled_and_stored_later(
    client: TestClient, site: Settings
) -> None:
    page = client.get("/articles/crime1")
    token = csrf_of(page.text)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(site.db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        form = {
            "csrf": token,
            "reviewer": "Dana",
            "labels": ["threat_security"],
            "migration": "yes",
        }
        response = client.post("/articles/crime1/review", data=form, follow_redirects=False)
        assert response.status_code == 303
        spooled = spool_path(site.db).read_text(encoding="utf-8")
        assert '"reviewer": "Dana"' in spooled
        busy = client.get("/articles/crime1")  # where the redirect leads
        assert busy.status_code == 503 and "running ingest" in busy.text
        assert "kept and will be saved" in busy.text
    finally:
        holder.communicate("\n", timeout=30)
    assert annotations(site.db) == []  # not yet: nothing has written since
    review(client, "victim1", reviewer="Eli", labels=["victim_humanitarian"], migration="yes")
    rows = annotations(site.db)
    assert [(r[1], r[3]) for r in rows] == [
        ("Dana", ["threat_security"]),
        ("Eli", ["victim_humanitarian"]),
    ]
    assert not spool_path(site.db).exists()


def test_a_review_while_another_writer_holds_the_lock_is_spooled(
    client: TestClient, site: Settings
) -> None:
    """A purge between its connections holds only the writer lock: a review waits too."""
    token = csrf_of(client.get("/articles/crime1").text)
    form = {"csrf": token, "reviewer": "Dana", "labels": ["threat_security"], "migration": "yes"}
    with writer_lock(site.db):
        response = client.post("/articles/crime1/review", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert '"reviewer": "Dana"' in spool_path(site.db).read_text(encoding="utf-8")
    assert annotations(site.db) == []


# --- reports archive -----------------------------------------------------------------------


def test_reports_are_listed_and_served_with_a_strict_policy(client: TestClient) -> None:
    html = client.get("/reports").text
    assert "2026/2026-11-16-all-en.html" in html and "2026-11-09-all-de.md" in html
    assert "link.html" not in html  # a link out of the folder is not a report
    response = client.get("/reports/2026/2026-11-16-all-en.html")
    assert response.status_code == 200 and "Weekly report" in response.text
    policy = response.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'") and "unsafe-inline" not in policy
    assert "'sha256-" in policy and "sandbox" in policy  # its own <style> only
    md = client.get("/reports/2026-11-09-all-de.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "path",
    [
        "/reports/..%2Fsecret.html",
        "/reports/%2e%2e/secret.html",
        "/reports/2026/..%2F..%2Fsecret.html",
        "/reports/%2Fetc%2Fpasswd",
        "/reports/link.html",
        "/reports/",
        "/reports/2026",
    ],
)
def test_reports_outside_the_folder_are_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, path
    assert "top secret" not in response.text and "root:" not in response.text


# --- exposure beyond loopback ----------------------------------------------------------------


def test_an_exposed_dashboard_needs_a_token(site: Settings) -> None:
    exposed = site.model_copy(update={"dashboard_host": "0.0.0.0"})
    with pytest.raises(DashboardConfigError, match="FRAMEWATCH_DASHBOARD_TOKEN"):
        create_app(exposed)


def test_an_exposed_dashboard_asks_for_the_token(site: Settings) -> None:
    exposed = with_token(site)
    with TestClient(create_app(exposed), base_url="https://10.0.0.5") as c:
        for url in ("/", "/articles/crime1", "/reports/2026-11-09-all-de.md", "/health"):
            response = c.get(url, follow_redirects=False)
            assert response.status_code == 303, url
            assert response.headers["location"].startswith("/login?next=")
            assert response.headers["content-security-policy"] == CSP
        assert c.get("/static/app.css").status_code == 200
        login = c.get("/login?next=/health")
        assert "Access token" in login.text
        form = {"csrf": csrf_of(login.text), "token": "wrong", "next": "/health"}
        assert c.post("/login", data=form, follow_redirects=False).status_code == 303
        assert c.get("/health", follow_redirects=False).status_code == 303
        assert "not correct" in c.get("/login").text
        form = {"csrf": csrf_of(c.get("/login").text), "token": TOKEN, "next": "/health"}
        response = c.post("/login", data=form, follow_redirects=False)
        assert response.headers["location"] == "/health"
        assert c.get("/health").status_code == 200
        # Reviewers' names are still recorded behind the login.
        review(c, "crime1", reviewer="Fran", labels=["threat_jobs"], migration="yes")
        assert [r[1] for r in annotations(exposed.db)] == ["Fran"]
        logout = {"csrf": csrf_of(c.get("/").text)}
        c.post("/logout", data=logout)
        assert c.get("/", follow_redirects=False).status_code == 303


def test_login_goes_back_only_to_this_site(site: Settings) -> None:
    with TestClient(create_app(with_token(site)), base_url="https://10.0.0.5") as c:
        form = {"csrf": csrf_of(c.get("/login").text), "token": TOKEN, "next": "//evil.example/"}
        assert c.post("/login", data=form, follow_redirects=False).headers["location"] == "/"


def test_loopback_dashboard_refuses_foreign_host_names(client: TestClient) -> None:
    # DNS rebinding: a page of evil.example resolving to 127.0.0.1 must not get in.
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400


def test_the_command_refuses_an_exposed_host_without_token(
    site: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.cli import app

    monkeypatch.delenv("FRAMEWATCH_DASHBOARD_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["dashboard", "--host", "0.0.0.0", "--db", str(site.db)])
    assert result.exit_code == 1
    assert "FRAMEWATCH_DASHBOARD_TOKEN" in result.output


# --- the pieces ------------------------------------------------------------------------------


def test_highlight_escapes_every_piece_and_flattens_overlaps() -> None:
    text = f"a {SCRIPT} b"
    spans = [Span(0, len(text), "evidence", 'x" onmouseover="y'), Span(2, 10, "cue", "")]
    html = str(highlight(text, spans))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'onmouseover="' not in html
    assert html.count("<mark") == 3  # before, inside and after the cue
    assert unescape(re.sub(r"<[^>]+>", "", html)) == text
    assert str(highlight("abc", [Span(1, 99, "cue", ""), Span(5, 2, "cue", "")])) == (
        'a<mark class="cue" title="">bc</mark>'
    )


def test_only_http_links_are_links() -> None:
    web_url = templates().env.filters["web_url"]  # the rule the article page links by
    assert web_url("https://example.org/a?b=1") == "https://example.org/a?b=1"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "//x", ""):
        assert web_url(bad) is None, bad


def test_language_negotiation() -> None:
    assert accepted_language("en-GB,en;q=0.9,de;q=0.8") == "en"
    assert accepted_language("zh-CN, hr;q=0.4, it;q=0.7") == "it"
    assert accepted_language("zh, ja") is None
    assert accepted_language("de;q=0") is None


def test_signed_cookies_refuse_tampering() -> None:
    value = sign(b"k", {"auth": False, "csrf": "t"})
    assert unsign(b"k", value) == {"auth": False, "csrf": "t"}
    _, mac = value.rsplit(".", 1)
    forged = sign(b"other", {"auth": True, "csrf": "t"}).rsplit(".", 1)[0] + "." + mac
    assert unsign(b"k", forged) is None
    assert unsign(b"other", value) is None
    assert unsign(b"k", "garbage") is None


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "example.org", "::"))


# --- access: a token means a login; without one, this machine only ---------------------------


def test_a_token_means_a_login_even_on_loopback(site: Settings) -> None:
    # Behind nginx on the same machine the app binds 127.0.0.1: the token must still count.
    with local_client(with_token(site, host="127.0.0.1"), "https://127.0.0.1") as c:
        response = c.get("/", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


@pytest.mark.parametrize(
    ("address", "headers"),
    [
        ("192.168.1.20", {}),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.9;proto=https"}),
        ("127.0.0.1", {"X-Forwarded-Host": "dash.example.org"}),
        ("127.0.0.1", {"X-Real-IP": "203.0.113.9"}),
    ],
)
def test_without_a_token_only_this_machine_gets_in(
    site: Settings, address: str, headers: dict[str, str]
) -> None:
    app = create_app(site)
    with TestClient(app, base_url="http://127.0.0.1", client=(address, 4000)) as c:
        for url in ("/", "/articles/crime1", "/login"):
            response = c.get(url, headers=headers)
            assert response.status_code == 403, (url, headers)
            assert "FRAMEWATCH_DASHBOARD_TOKEN" in response.text
            assert response.headers["content-security-policy"] == CSP
        assert "Stadtkurier" not in c.get("/health", headers=headers).text


def test_the_proxy_refusal_is_translated(site: Settings) -> None:
    with local_client(site) as c:
        html = c.get("/?ui=de", headers={"X-Forwarded-For": "203.0.113.9"}).text
    assert "Proxy" in html and "FRAMEWATCH_DASHBOARD_TOKEN" in html and 'lang="de"' in html


def test_a_short_token_is_refused(site: Settings) -> None:
    with pytest.raises(DashboardConfigError, match="at least 16 characters"):
        create_app(with_token(site, token="s3cret"))


# --- sessions -------------------------------------------------------------------------------


def login(c: TestClient, token: str = TOKEN) -> None:
    """Log in through the form."""
    form = {"csrf": csrf_of(c.get("/login").text), "token": token, "next": "/"}
    c.post("/login", data=form, follow_redirects=False)


def use_cookie(c: TestClient, value: str) -> None:
    """Make the client send this session cookie, and only this one."""
    c.cookies.clear()
    c.cookies.set("fw_session", value)


def test_cookies_are_not_signed_with_the_token(site: Settings) -> None:
    settings = with_token(site)
    with local_client(settings, "https://127.0.0.1") as c:
        anonymous = c.get("/login").cookies["fw_session"]
    # The old key, derived from the token: a visitor could test token guesses offline.
    derived = hashlib.sha256(b"framewatch-session\0" + TOKEN.encode()).digest()
    assert unsign(derived, anonymous) is None
    secret_file = secret_path(site.db)
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert unsign(load_secret(site.db), anonymous) is not None
    assert TOKEN not in secret_file.read_text()


def test_sessions_survive_a_restart_but_not_a_new_token(site: Settings) -> None:
    with local_client(with_token(site), "https://127.0.0.1") as first:
        login(first)
        assert first.get("/health", follow_redirects=False).status_code == 200
        cookie = first.cookies["fw_session"]
    with local_client(with_token(site), "https://127.0.0.1") as again:
        use_cookie(again, cookie)
        assert again.get("/health", follow_redirects=False).status_code == 200
    other = with_token(site, token="another-token-of-enough-length")
    with local_client(other, "https://127.0.0.1") as changed:
        use_cookie(changed, cookie)
        assert changed.get("/health", follow_redirects=False).status_code == 303


def test_sessions_expire_after_twelve_hours(site: Settings) -> None:
    secret = load_secret(site.db)
    with local_client(with_token(site), "https://127.0.0.1") as c:
        login(c)
        session = unsign(secret, c.cookies["fw_session"])
        assert session and session["auth"] is True
        old = {**session, "iat": int(time.time()) - SESSION_SECONDS - 60}
        use_cookie(c, sign(secret, old))
        assert c.get("/health", follow_redirects=False).status_code == 303
        use_cookie(c, sign(secret, {**session, "iat": int(time.time()) - 60}))
        assert c.get("/health", follow_redirects=False).status_code == 200


def test_a_logged_out_cookie_stays_logged_out(site: Settings) -> None:
    with local_client(with_token(site), "https://127.0.0.1") as c:
        login(c)
        cookie = c.cookies["fw_session"]
        c.post("/logout", data={"csrf": csrf_of(c.get("/").text)}, follow_redirects=False)
        use_cookie(c, cookie)  # a copy kept from before the logout
        assert c.get("/health", follow_redirects=False).status_code == 303


def test_cookies_are_secure_when_a_token_is_set(site: Settings) -> None:
    # Over plain http too: the proxy in front speaks HTTPS, the app sees http.
    with local_client(with_token(site), "http://127.0.0.1") as c:
        assert "secure" in c.get("/login").headers["set-cookie"].lower()


# --- logins ---------------------------------------------------------------------------------


def test_wrong_tokens_are_throttled_per_client(
    site: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "LOGIN_FAILURE_DELAY", 0.01)
    app = create_app(with_token(site))
    with TestClient(app, base_url="https://10.0.0.5", client=("203.0.113.9", 4000)) as c:
        for _ in range(MAX_FAILURES):
            form = {"csrf": csrf_of(c.get("/login").text), "token": "wrong", "next": "/"}
            assert c.post("/login", data=form, follow_redirects=False).status_code == 303
        form = {"csrf": csrf_of(c.get("/login").text), "token": TOKEN, "next": "/"}
        refused = c.post("/login", data=form, follow_redirects=False)
        assert refused.status_code == 429 and "Wait ten minutes" in refused.text
    with TestClient(app, base_url="https://10.0.0.5", client=("203.0.113.10", 4000)) as other:
        login(other)
        assert other.get("/health", follow_redirects=False).status_code == 200


def test_a_wrong_token_holds_no_worker_thread(site: Settings) -> None:
    """Many wrong tokens at once must not stall other pages (the delay is awaited, and the
    throttle refuses most of them at once)."""
    app = create_app(with_token(site))

    async def attack() -> float:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="https://10.0.0.5") as c:
            form = {"csrf": csrf_of((await c.get("/login")).text), "token": "wrong"}
            guesses = [asyncio.create_task(c.post("/login", data=form)) for _ in range(45)]
            await asyncio.sleep(0.2)  # the guesses are waiting now
            started = time.monotonic()
            assert (await c.get("/login")).status_code == 200
            took = time.monotonic() - started
            codes = sorted({r.status_code for r in await asyncio.gather(*guesses)})
            return took, codes

    # Its own thread: Playwright's browser fixture may hold a running loop in this one.
    with ThreadPoolExecutor(1) as pool:
        took, codes = pool.submit(asyncio.run, attack()).result()
    assert took < 0.5  # a sleeping sync handler per guess would exhaust the thread pool
    assert codes == [303, 429]  # ten were delayed, the rest refused at once


# --- odd input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=²", None),
        ("page=0", None),
        ("page=-3", None),
        ("to=9999-12-31", "Dates must lie between 1990 and 2100"),
        ("from=0001-01-01", "Dates must lie between 1990 and 2100"),
        ("from=1990-01-01&to=2100-12-31", None),
        ("week=0001-W01", "Dates must lie between 1990 and 2100"),
        ("week=9999-W52", "Dates must lie between 1990 and 2100"),
    ],
)
def test_odd_filter_values_are_handled(client: TestClient, query: str, message: str) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 200, query
    if message:
        assert message in response.text
        assert len(listed(response.text)) == queries.PAGE_SIZE  # the default period instead


def test_a_huge_page_number_shows_the_last_page(client: TestClient) -> None:
    for page in ("99", "99999999999999999999999999"):
        html = client.get(f"/?page={page}").text
        assert "page 2 of 2" in html
        assert len(listed(html)) == len(DOCS) - 1 - queries.PAGE_SIZE


def test_an_article_dated_year_9999_does_not_break_the_overview(site: Settings) -> None:
    con = open_store(site.db)
    try:
        con.execute("UPDATE articles SET published_at = '9999-12-31 10:00' WHERE id = 'fill00'")
    finally:
        con.close()
    with local_client(site) as c:
        assert c.get("/").status_code == 200


def test_language_links_stay_on_this_site(client: TestClient) -> None:
    response = client.get("http://127.0.0.1//evil.example/x?city=Dublin")
    links = re.findall(r'<a href="([^"]*)" hreflang="(\w+)"', response.text)
    assert len(links) == len(LANGUAGES)
    for href, lang in links:
        assert href == f"?city=Dublin&amp;ui={lang}", href


def test_odd_characters_in_cookies_and_forms_are_refused_not_errors(client: TestClient) -> None:
    for cookie in ("fw_session=\u00e9t\u00e9.abc", "fw_session=abc.\u00e9\u00e9"):
        response = client.get("/", headers={"cookie": cookie.encode("utf-8")})
        assert response.status_code == 200
    client.get("/articles/crime1")
    form = {"csrf": "\u00e9\u00e9\u00e9", "reviewer": "Ana", "migration": "yes"}
    assert client.post("/articles/crime1/review", data=form).status_code == 403
    assert client.post("/login", data={"csrf": "\u00fc", "token": "x"}).status_code == 403


# --- connections are short --------------------------------------------------------------------


@pytest.fixture()
def fresh_charts() -> Iterator[None]:
    """No chart drawn by an earlier test, and none left for a later one (a test that
    replaces the drawing would otherwise leave its fake SVG in the cache)."""
    views.overview_chart.cache_clear()
    yield
    views.overview_chart.cache_clear()


def test_the_chart_is_drawn_once_for_the_same_figures(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, fresh_charts: None
) -> None:
    drawn: list[str] = []
    real_chart = views.group_chart

    def counting(*args: Any) -> str:
        drawn.append(args[2])  # the language
        return real_chart(*args)

    monkeypatch.setattr(views, "group_chart", counting)
    # Another page of the list, or a frame (not a scope of the chart): the same figures.
    for url in ("/", "/?page=2", "/?frame=threat_public_order"):
        assert "<svg" in client.get(url).text, url
    assert drawn == ["en"]
    client.get("/?city=Dublin")
    client.get("/?ui=de")
    assert drawn == ["en", "en", "de"]  # other figures, another language: drawn anew


@pytest.mark.usefixtures("fresh_charts")
def test_no_connection_is_open_while_drawing_or_highlighting(
    client: TestClient, site: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB refuses a read-write connection while this process holds a read-only one, so
    opening one proves that the page's connection was closed before the slow part."""
    seen: list[str] = []

    def write_meanwhile(what: str) -> None:
        open_store(site.db).close()
        seen.append(what)

    def chart(*args: object) -> str:
        write_meanwhile("chart")
        return "<svg></svg>"

    real_highlight = views.highlight

    def highlight_later(text: str, spans: list[Span]) -> object:
        write_meanwhile("highlight")
        return real_highlight(text, spans)

    monkeypatch.setattr(views, "group_chart", chart)
    monkeypatch.setattr(views, "highlight", highlight_later)
    assert client.get("/").status_code == 200
    assert client.get("/articles/crime1").status_code == 200
    assert seen == ["chart", "highlight"]


# --- reviews: text, time, the spool -------------------------------------------------------------


FIRST_SENTENCE = "Am Samstag gab es am Bahnhof Streit."


def add_unassigned_evidence(db: Path) -> None:
    """Give crime1 a best sentence for threat_security, a frame the model did not assign."""
    con = open_store(db)
    try:
        con.execute(
            "INSERT INTO article_evidence VALUES ('crime1', 'threat_security', 1, 0.2, ?, 0, ?,"
            " [], ?)",
            [FIRST_SENTENCE, len(FIRST_SENTENCE), MODEL],
        )
    finally:
        con.close()


def test_a_correction_is_stored_on_the_evidence_of_the_frames_it_names(
    client: TestClient, site: Settings
) -> None:
    add_unassigned_evidence(site.db)
    body = re.search(r'<div class="body">(.*?)</div>', client.get("/articles/crime1").text, re.S)
    assert body and FIRST_SENTENCE in body.group(1)
    assert f">{FIRST_SENTENCE}<" not in body.group(1).replace("<mark", "\n<mark")  # not marked
    review(client, "crime1", reviewer="Ana", labels=["threat_security"], migration="yes")
    review(client, "crime1", reviewer="Bo", action="confirm",
           model_labels=["threat_public_order"], model_migration="yes")  # fmt: skip
    texts = {r[1]: r[6] for r in annotations(site.db)}
    assert texts["Ana"] == f"Schlägerei am Bahnhof\n{FIRST_SENTENCE}\n{CRIME_SENTENCE}"
    assert texts["Bo"] == f"Schlägerei am Bahnhof\n{CRIME_SENTENCE}"


def spooled(reviewer: str, article: str, at: datetime) -> Review:
    """A review as the dashboard would have spooled it at ``at``."""
    return Review(article, reviewer, True, ("threat_security",), "", at)


def test_bad_spool_lines_are_set_aside_and_the_rest_stored_with_their_time(
    client: TestClient, site: Settings
) -> None:
    spool = spool_path(site.db)
    made = datetime(2026, 11, 2, 8, 15)
    spool_review(spool, spooled("Dana", "crime1", made))
    with spool.open("ab") as fh:
        fh.write(b"not json at all\n")
        fh.write(b'{"article_id": "victim1", "reviewer": "Ha')  # a crash mid-write
    spool_review(spool, spooled("Eli", "victim1", made + timedelta(minutes=5)))
    lines = spool.read_bytes().splitlines()
    assert len(lines) == 4 and lines[-1].startswith(b'{"article_id": "victim1", "reviewer": "Eli"')
    # The next review stores the readable ones, each at its own time, and sets the rest aside.
    review(client, "hero1", reviewer="Fay", labels=["hero_contribution"], migration="yes")
    rows = {r[1]: r for r in annotations(site.db)}
    assert set(rows) == {"Dana", "Eli", "Fay"}
    assert rows["Dana"][2] == made and rows["Eli"][2] == made + timedelta(minutes=5)
    assert rows["Fay"][2] > made  # stored now
    assert not spool.exists()
    rejected = spool.with_name(spool.name + ".rejected").read_bytes().splitlines()
    assert rejected == [b"not json at all", b'{"article_id": "victim1", "reviewer": "Ha']


def test_appending_waits_for_the_spool_lock(site: Settings) -> None:
    spool = spool_path(site.db)
    done = threading.Event()

    def append() -> None:
        spool_review(spool, spooled("Gil", "crime1", datetime(2026, 11, 2)))
        done.set()

    with spool_lock(spool):
        worker = threading.Thread(target=append)
        worker.start()
        assert not done.wait(0.3)  # held back while the spool is being taken
        assert not spool.exists()
    worker.join(timeout=10)
    assert done.is_set() and b'"Gil"' in spool.read_bytes()


def test_a_review_without_a_database_creates_none(client: TestClient, site: Settings) -> None:
    token = csrf_of(client.get("/articles/crime1").text)
    site.db.unlink()
    form = {"csrf": token, "reviewer": "Ana", "labels": ["threat_jobs"], "migration": "yes"}
    response = client.post("/articles/crime1/review", data=form, follow_redirects=False)
    assert response.status_code == 503 and "There is no database yet" in response.text
    assert not site.db.exists()


def invoke_cli(db: Path, *args: str, **env: str) -> object:
    """Run the framewatch command on ``db``."""
    from pipeline.cli import app

    return CliRunner().invoke(app, list(args), env={"FRAMEWATCH_DB": str(db), **env})


def test_annotate_and_train_store_the_spool_first(site: Settings, tmp_path: Path) -> None:
    spool = spool_path(site.db)
    spool_review(spool, spooled("Hana", "crime1", datetime(2026, 11, 3, 7)))
    corrections = tmp_path / "c.jsonl"
    corrections.write_text('{"id": "c1", "text": "Ein Satz.", "lang": "de"}\n', "utf-8")
    result = invoke_cli(site.db, "annotate", str(corrections), "--reviewer", "Ivo")
    assert "stored 1 reviews that waited" in result.output  # type: ignore[attr-defined]
    assert {r[1] for r in annotations(site.db)} == {"Hana", "Ivo"}
    assert not spool.exists()
    # train stores waiting reviews before anything else (here it then fails: no encoder).
    spool_review(spool, spooled("Jo", "victim1", datetime(2026, 11, 3, 8)))
    invoke_cli(site.db, "train", "--dev", str(tmp_path / "none"), "--out", str(tmp_path / "h"),
               FRAMEWATCH_ENCODER=str(tmp_path / "no-encoder"))  # fmt: skip
    assert "Jo" in {r[1] for r in annotations(site.db)} and not spool.exists()


# --- small things -------------------------------------------------------------------------------


def test_report_sizes_are_written_in_the_readers_language(
    client: TestClient, site: Settings
) -> None:
    (site.reports / "big.html").write_bytes(b"x" * 3072)
    small = (site.reports / "2026-11-09-all-de.md").stat().st_size
    html = client.get("/reports").text
    assert f"{small} bytes" in html and "3.0 KB" in html and "kB" not in html
    assert "3,0 KB" in client.get("/reports?ui=de").text


def test_highlight_marks_every_character_with_the_spans_over_it() -> None:
    text = "abcdefghijklmnopqrstuvwxyz"
    spans = [Span(a, b, k, "") for a, b, k in
             [(0, 10, "evidence"), (2, 4, "cue"), (3, 12, "metaphor"), (20, 26, "cue"),
              (8, 9, "loaded_term"), (8, 9, "migration_term")]]  # fmt: skip
    html = str(highlight(text, spans))
    pieces = re.findall(r'(?:<mark class="([^"]+)"[^>]*>([^<]*)</mark>)|([^<]+)', html)
    kinds = "".join(
        "".join(f"{k or '-'}|" for _ in chars or plain) for k, chars, plain in pieces
    ).split("|")[:-1]
    expected = [
        " ".join(sorted({s.kind for s in spans if s.start <= i < s.end})) or "-"
        for i in range(len(text))
    ]
    assert kinds == expected
