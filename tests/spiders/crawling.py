"""Helpers for tests that run the real crawler subprocess against FaultServers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.config import Settings
from pipeline.crawl import CrawlResult, crawl
from pipeline.records import FeedPoll, FetchedPage, FetchOutcome
from tests.spiders.faultserver import FaultServer, Hit

# Retries wait this long (doubling) unless a test is about backoff: the suite stays fast.
TEST_BACKOFF = 0.05


def outlet(source_id: str, lang: str = "de", **fields: Any) -> dict[str, Any]:
    """A sources entry allowed on loopback; ``fields`` add feeds, limits and so on."""
    entry: dict[str, Any] = {
        "id": source_id,
        "name": source_id.title(),
        "city": "Oberhausen",
        "country": "DE",
        "lang": lang,
        "allow_private": True,
    }
    entry.update(fields)
    return entry


def write_sources(path: Path, *entries: dict[str, Any]) -> Path:
    """A sources YAML file with the given entries."""
    path.write_text(yaml.safe_dump({"sources": list(entries)}), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Crawled:
    """A crawl's result with what the servers saw while it ran."""

    result: CrawlResult
    hits: Counter[str]
    log: list[Hit]

    def outcomes(self, url: str) -> list[FetchOutcome]:
        """Every fetch-log row for ``url``."""
        return [o for o in self.result.outcomes if o.url == url]

    def outcome(self, url: str) -> FetchOutcome:
        """The one fetch-log row for ``url`` (fails when there is none or several)."""
        found = self.outcomes(url)
        assert len(found) == 1, f"{url}: expected one outcome, got {found}"
        return found[0]

    def error(self, url: str) -> str:
        """The error of the one outcome for ``url`` (fails when it succeeded)."""
        found = self.outcome(url)
        assert found.error, f"{url}: no error recorded: {found}"
        return found.error

    def page(self, url: str) -> FetchedPage:
        """The one fetched page for ``url``."""
        pages = [p for p in self.result.pages if p.url == url]
        assert len(pages) == 1, f"{url}: expected one page, got {len(pages)}"
        return pages[0]

    def urls(self) -> set[str]:
        """URLs of the fetched pages."""
        return {p.url for p in self.result.pages}


def run_crawl(
    servers: list[FaultServer],
    folder: Path,
    entries: list[dict[str, Any]],
    settings: Settings | None = None,
    polls: Mapping[str, FeedPoll] | None = None,
    known: frozenset[str] = frozenset(),
) -> Crawled:
    """Crawl ``entries`` with the real subprocess and collect the servers' hits (merged).

    ``known`` holds ``url_key``s of stored articles, as the store hands them over.
    """
    for server in servers:
        server.snapshot()  # count only this crawl's hits
    sources = write_sources(folder / "sources.yaml", *entries)
    result = crawl(
        sources,
        folder / "out",
        settings or Settings(download_timeout=5, retry_backoff=TEST_BACKOFF),
        known=known,
        timeout=120,
        polls=polls or {},
    )
    hits: Counter[str] = Counter()
    log: list[Hit] = []
    for server in servers:
        server_hits, server_log = server.snapshot()
        hits.update({server.base + path: n for path, n in server_hits.items()})
        log.extend(server_log)
    return Crawled(result, hits, log)
