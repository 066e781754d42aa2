"""Run the scrapy crawler in a subprocess and read its output back as records.

A subprocess because Twisted's reactor cannot restart inside one process (a flow that crawls
twice would fail); JSONL files because they survive a crash of either side line by line.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.config import Settings
from pipeline.records import FetchedPage, FetchOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrawlResult:
    """Pages fetched and what happened to every request."""

    pages: tuple[FetchedPage, ...]
    outcomes: tuple[FetchOutcome, ...]
    seconds: float


def crawl(
    sources_file: Path,
    out_dir: Path,
    settings: Settings,
    newsroom: str | None = None,
    known_urls: frozenset[str] = frozenset(),
    progress: Callable[[int], None] | None = None,
    timeout: float = 3600.0,
) -> CrawlResult:
    """Crawl the sources into ``out_dir`` and return the parsed results."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("pages.jsonl", "fetch_log.jsonl"):
        (out_dir / name).unlink(missing_ok=True)
    config = out_dir / "crawl.json"
    config.write_text(
        json.dumps(_config(sources_file, out_dir, settings, newsroom, known_urls)), encoding="utf-8"
    )
    started = time.monotonic()
    _run(config, out_dir / "fetch_log.jsonl", progress, timeout)
    return CrawlResult(
        pages=tuple(read_pages(out_dir / "pages.jsonl")),
        outcomes=tuple(read_outcomes(out_dir / "fetch_log.jsonl")),
        seconds=time.monotonic() - started,
    )


def _config(
    sources_file: Path,
    out_dir: Path,
    settings: Settings,
    newsroom: str | None,
    known_urls: frozenset[str],
) -> dict[str, object]:
    """The JSON config handed to ``python -m spiders.crawl``."""
    return {
        "sources_file": str(sources_file.resolve()),
        "newsroom": newsroom,
        "known_urls": sorted(known_urls),
        "settings": {
            "out_dir": str(out_dir.resolve()),
            "user_agent": settings.user_agent,
            "download_timeout": settings.download_timeout,
            "download_maxsize": settings.download_maxsize,
            "allow_private": settings.allow_private,
            "concurrency_per_domain": settings.concurrency_per_domain,
        },
    }


def _run(
    config: Path, log_file: Path, progress: Callable[[int], None] | None, timeout: float
) -> None:
    """Start the crawler process, report progress from its log file, wait for it."""
    # Output goes to a file, not a pipe: a pipe nobody reads fills up and blocks the crawler.
    output_file = config.parent / "crawler.log"
    with output_file.open("w", encoding="utf-8") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "spiders.crawl", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    seen = 0
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError(f"crawl did not finish within {timeout:.0f} s")
        time.sleep(0.3)
        seen = _report(log_file, seen, progress)
    _report(log_file, seen, progress)
    tail = output_file.read_text(encoding="utf-8", errors="replace")[-3000:]
    if proc.returncode != 0:
        raise RuntimeError(f"crawler exited with {proc.returncode} (see {output_file}):\n{tail}")
    if tail.strip():
        log.debug("crawler output (%s):\n%s", output_file, tail)


def _report(log_file: Path, seen: int, progress: Callable[[int], None] | None) -> int:
    """Call progress with the number of new fetch-log lines; return the new total."""
    if progress is None or not log_file.exists():
        return seen
    lines = log_file.read_bytes().count(b"\n")
    if lines > seen:
        progress(lines - seen)
    return max(lines, seen)


def _lines(path: Path) -> Iterator[dict[str, object]]:
    """JSON objects of a JSONL file; a torn last line (killed crawler) is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                log.warning("skipping a torn line in %s", path)


def _time(value: object) -> datetime | None:
    """Parse ISO text written by the crawler."""
    return datetime.fromisoformat(str(value)) if value else None


def read_pages(path: Path) -> Iterator[FetchedPage]:
    """FetchedPage records from the crawler's pages.jsonl."""
    for row in _lines(path):
        yield FetchedPage(
            source_id=str(row["source_id"]),
            url=str(row["url"]),
            requested_url=str(row["requested_url"]),
            html=str(row["html"]),
            encoding=str(row["encoding"]),
            fetched_at=_time(row["fetched_at"]) or datetime.now(UTC),
            feed_title=str(row.get("feed_title") or ""),
            feed_published=_time(row.get("feed_published")),
        )


def read_outcomes(path: Path) -> Iterator[FetchOutcome]:
    """FetchOutcome records from the crawler's fetch_log.jsonl."""
    for row in _lines(path):
        status = row.get("status")
        yield FetchOutcome(
            source_id=str(row["source_id"]),
            url=str(row["url"]),
            kind=str(row["kind"]),
            status=int(status) if isinstance(status, int) else None,
            error=str(row["error"]) if row.get("error") else None,
            fetched_at=_time(row["fetched_at"]) or datetime.now(UTC),
            note=str(row.get("note") or ""),
        )
