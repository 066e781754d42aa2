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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from pipeline.config import Settings
from pipeline.records import FeedPoll, FetchedPage, FetchOutcome

log = logging.getLogger(__name__)
NO_POLLS: Mapping[str, FeedPoll] = MappingProxyType({})
STOP_GRACE = 60.0  # seconds a crawler stopped at its time limit has to flush its output


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
    known: frozenset[str] = frozenset(),
    progress: Callable[[int], None] | None = None,
    timeout: float = 3600.0,
    polls: Mapping[str, FeedPoll] = NO_POLLS,
    on_pages: Callable[[list[FetchedPage]], None] | None = None,
) -> CrawlResult:
    """Crawl the sources into ``out_dir`` and return the parsed results.

    ``polls`` (keyed by feed or sitemap URL) says which feeds to skip and which validators
    to send; a URL without a poll is fetched in full. ``on_pages`` receives the pages as
    the crawler writes them, so extraction can start before the crawl ends.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("pages.jsonl", "fetch_log.jsonl"):
        (out_dir / name).unlink(missing_ok=True)
    config = out_dir / "crawl.json"
    config.write_text(
        json.dumps(crawl_config(sources_file, out_dir, settings, newsroom, known, polls)),
        encoding="utf-8",
    )
    started = time.monotonic()
    pages = PageTail(out_dir / "pages.jsonl", on_pages)
    _run(config, out_dir / "fetch_log.jsonl", progress, timeout, pages.poll)
    pages.poll()
    return CrawlResult(
        pages=tuple(pages.pages),
        outcomes=tuple(read_outcomes(out_dir / "fetch_log.jsonl")),
        seconds=time.monotonic() - started,
    )


def crawl_config(
    sources_file: Path,
    out_dir: Path,
    settings: Settings,
    newsroom: str | None,
    known: frozenset[str],
    polls: Mapping[str, FeedPoll] = NO_POLLS,
) -> dict[str, object]:
    """The JSON config handed to ``python -m spiders.crawl``.

    ``settings`` holds exactly the keyword arguments of ``spiders.settings.crawl_settings``;
    ``polls`` maps a feed/sitemap URL to the FeedPoll fields other than ``url``.
    """
    return {
        "sources_file": str(sources_file.resolve()),
        "newsroom": newsroom,
        "known": sorted(known),
        "polls": {url: _poll_fields(poll) for url, poll in polls.items()},
        "settings": {
            "out_dir": str(out_dir.resolve()),
            "user_agent": settings.user_agent,
            "download_timeout": settings.download_timeout,
            "download_maxsize": settings.download_maxsize,
            "download_delay": settings.download_delay,
            "allow_private": settings.allow_private,
            "concurrency_per_domain": settings.concurrency_per_domain,
            "max_retries": settings.max_retries,
            "max_redirects": settings.max_redirects,
            "retry_backoff": settings.retry_backoff,
        },
    }


def _poll_fields(poll: FeedPoll) -> dict[str, object]:
    """A FeedPoll as JSON, without the URL that keys it."""
    fields = asdict(poll)
    del fields["url"]
    return fields


class PageTail:
    """Reads the pages the crawler appends to pages.jsonl, as complete lines arrive.

    The file is read from the last offset on each poll, so a long crawl's pages are parsed
    once each; a line still being written waits for the next poll, and the unfinished last
    line of a killed crawler is never read (a line that does not parse is skipped with a
    warning).
    """

    def __init__(
        self, path: Path, on_pages: Callable[[list[FetchedPage]], None] | None = None
    ) -> None:
        self.path, self.on_pages = path, on_pages
        self.offset = 0
        self.pages: list[FetchedPage] = []

    def poll(self) -> None:
        """Parse the complete lines written since the last poll; hand them on."""
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        new = [_page(row) for row in _parse(data[:end].splitlines(), self.path)]
        self.pages.extend(new)
        if new and self.on_pages is not None:
            self.on_pages(new)


def _run(
    config: Path,
    log_file: Path,
    progress: Callable[[int], None] | None,
    timeout: float,
    on_tick: Callable[[], None] = lambda: None,
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
    try:
        stopped = _wait(proc, time.monotonic() + timeout, log_file, progress, on_tick)
    finally:
        if proc.poll() is None:  # an error in a callback: never leave a crawler behind
            proc.kill()
    tail = output_file.read_text(encoding="utf-8", errors="replace")[-3000:]
    if proc.returncode != 0 and not stopped:
        raise RuntimeError(f"crawler exited with {proc.returncode} (see {output_file}):\n{tail}")
    if tail.strip():
        log.debug("crawler output (%s):\n%s", output_file, tail)


def _wait(
    proc: subprocess.Popen[bytes],
    deadline: float,
    log_file: Path,
    progress: Callable[[int], None] | None,
    on_tick: Callable[[], None],
) -> bool:
    """Wait for the crawler, reporting progress; True when it had to be stopped at the
    deadline.

    At the deadline the crawler gets SIGTERM, which scrapy answers by closing the spider
    and flushing its output files: what it fetched is kept and stored, and the next run
    goes on from there (stored URLs are not fetched again). Only a crawler that ignores it
    for STOP_GRACE seconds is killed.
    """
    seen, stopped = 0, False
    while proc.poll() is None:
        if not stopped and time.monotonic() > deadline:
            log.warning("crawl still running at its time limit: stopping it, keeping its pages")
            proc.terminate()
            stopped, deadline = True, time.monotonic() + STOP_GRACE
        elif stopped and time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.3)
        seen = _report(log_file, seen, progress)
        on_tick()
    _report(log_file, seen, progress)
    return stopped


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
    if path.exists():
        with path.open("rb") as fh:
            yield from _parse(fh, path)


def _parse(lines: Iterable[bytes], path: Path) -> Iterator[dict[str, object]]:
    """JSON objects of JSONL lines; a torn line is skipped with a warning."""
    for line in lines:
        try:
            yield json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("skipping a torn line in %s", path)


def _time(value: object) -> datetime | None:
    """Parse ISO text written by the crawler."""
    return datetime.fromisoformat(str(value)) if value else None


def _page(row: dict[str, object]) -> FetchedPage:
    """A FetchedPage from one pages.jsonl object."""
    return FetchedPage(
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
            etag=_text(row.get("etag")),
            last_modified=_text(row.get("last_modified")),
        )


def _text(value: object) -> str | None:
    """Text from a JSON value, None for null or empty."""
    return str(value) if value else None
