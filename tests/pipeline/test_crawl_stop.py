"""A crawl that reaches its time limit is stopped gracefully and keeps what it fetched.

scrapy answers SIGTERM by closing the spider: no new requests, in-flight ones finish, the
output files are flushed. Before, the crawler was killed and the run raised, losing
every page of a long first crawl.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline import crawl as crawl_module
from pipeline.config import Settings
from pipeline.crawl import _wait, crawl
from tests.spiders.crawling import outlet, write_sources
from tests.spiders.faultserver import article, rss, serving, slow, static


def test_a_crawl_stopped_at_its_time_limit_keeps_its_pages(tmp_path: Path) -> None:
    with serving() as server:
        good = server.route("/news/good.html", static(article("Radweg")))
        stuck = [server.route(f"/news/slow{i}.html", slow(6.0)) for i in range(3)]
        feed = server.route("/feed.xml", static(rss([good, *stuck]), "application/rss+xml"))
        # one request at a time: the slow pages hold the only slot when the limit comes
        sources = write_sources(tmp_path / "s.yaml", outlet("o", feeds=[feed], concurrency=1))
        started = time.monotonic()
        result = crawl(sources, tmp_path / "out", Settings(download_timeout=60), timeout=3)
        took = time.monotonic() - started
    assert good in {p.url for p in result.pages}  # kept, although the crawl was stopped
    assert took < 3 + 3 * 6 + 10  # stopped at the limit: in-flight answers end, no more


def run_until(code: str, deadline_s: float) -> tuple[bool, float, int | None]:
    """Start a real Python process running ``code``; wait with a deadline."""
    proc = subprocess.Popen([sys.executable, "-c", code])
    started = time.monotonic()
    stopped = _wait(proc, started + deadline_s, Path("/nonexistent"), None, lambda: None)
    return stopped, time.monotonic() - started, proc.returncode


def test_a_process_at_its_deadline_is_asked_to_stop() -> None:
    stopped, took, code = run_until("import time; time.sleep(60)", 1.0)
    assert stopped and took < 10 and code == -signal.SIGTERM


def test_a_process_that_ignores_the_request_is_killed_after_the_grace(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(crawl_module, "STOP_GRACE", 1.0)
    ignore = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    stopped, took, code = run_until(ignore, 1.0)
    assert stopped and took < 10 and code == -signal.SIGKILL


def test_a_process_that_ends_in_time_is_not_stopped() -> None:
    assert run_until("pass", 30.0)[0] is False
