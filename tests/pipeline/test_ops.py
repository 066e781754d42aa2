"""Operators' notices: a failed scheduled run and the daily health digest reach a person."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pipeline import ops
from pipeline.config import Settings
from pipeline.records import SourceHealth
from tests.pipeline.test_notify import Hook, hook  # noqa: F401  (fixture)

NOW = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


def health(name: str, city: str, flags: tuple[str, ...], status: str) -> SourceHealth:
    return SourceHealth(name, name, city, None, None, 3, 1, 0.0, 2.0, 0, 0, flags, status)


def test_a_failure_notice_is_in_the_operators_language_and_short() -> None:
    notice = ops.failed_run_notice("framewatch-ingest", "brave-fox", "Failed", "x " * 2000, "de")
    expected = "framewatch: der Lauf brave-fox von framewatch-ingest ist fehlgeschlagen"
    assert notice.subject == expected
    assert "nächste geplante Lauf" in notice.text
    assert len(notice.text) < ops.MESSAGE_CHARS + 400


def test_the_health_digest_names_each_flagged_outlet_and_why() -> None:
    rows = [health("Kurier", "Oberhausen", ("failing", "silent"), "failing")]
    notice = ops.health_notice(rows, NOW.date(), "it")
    assert notice.subject == "framewatch: 1 testate da controllare"
    assert "Stato delle fonti al 23 nov 2026" in notice.text
    assert "Kurier (Oberhausen): il feed" in notice.text  # flags in words, not codes


@pytest.mark.parametrize("fmt", ["slack", "teams", "json"])
def test_a_notice_goes_to_the_webhook_in_its_format(hook, fmt: str) -> None:  # noqa: F811
    state, url = hook
    s = Settings(webhook_url=url, webhook_format=fmt)
    notice = ops.failed_run_notice("framewatch-report", "r1", "Crashed", "<b>killed</b>", "en")
    assert ops.send_notice(notice, s) == ["webhook"]
    body = str(state.posts[0])
    assert "framewatch-report" in body
    if fmt == "slack":
        assert "&lt;b&gt;killed&lt;/b&gt;" in state.posts[0]["text"]
    if fmt == "json":
        assert state.posts[0]["event"] == "run_failed"


def test_a_failing_channel_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    s = Settings(webhook_url="http://127.0.0.1:9/none", webhook_format="json")
    notice = ops.health_notice([], date(2026, 11, 23), "en")
    assert ops.send_notice(notice, s) == []
    assert "operator notice by webhook failed" in caplog.text


def test_a_failed_flow_run_notifies_through_its_hook(
    hook,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    state, url = hook
    monkeypatch.setenv("FRAMEWATCH_WEBHOOK_URL", url)
    monkeypatch.setenv("FRAMEWATCH_WEBHOOK_FORMAT", "json")
    monkeypatch.setenv("FRAMEWATCH_OPS_LANG", "fr")

    @ops.framewatch_flow("framewatch-broken")
    def broken() -> None:
        raise RuntimeError("the feed server is on fire")

    with pytest.raises(RuntimeError):
        broken()
    assert len(state.posts) == 1
    post = state.posts[0]
    assert post["event"] == "run_failed"
    assert post["subject"].startswith("framewatch : l'exécution")
    assert "the feed server is on fire" in post["text"]


def test_every_flow_notifies_when_it_fails_or_crashes() -> None:
    from flows.classify import classify_flow
    from flows.health import health_flow
    from flows.ingest import ingest_flow
    from flows.report import report_flow

    for each in (ingest_flow, classify_flow, health_flow, report_flow):
        assert each.on_failure_hooks == each.on_crashed_hooks == [ops.on_run_failure]


def test_the_writer_holds_the_database_for_the_block(tmp_path: Path) -> None:
    s = Settings(db=tmp_path / "fw.duckdb", snapshot=True)
    with ops.writer(s) as con:
        con.execute("INSERT INTO runs (id, started_at, status) VALUES ('x', now(), 'done')")
    assert (tmp_path / "fw.snapshot.duckdb").exists()
