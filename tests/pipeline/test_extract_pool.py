"""The extraction pool: worker processes give what inline extraction gives, and a failed
worker costs its pages a recorded reason, not the run."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipeline.extract import read_html
from pipeline.extract_pool import Extracted, ExtractionPool, Job, extract_chunk
from pipeline.records import FetchedPage

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def golden_pages() -> list[FetchedPage]:
    """The hand-written golden pages as the crawler hands them over, plus an empty page."""
    pages = []
    for spec in sorted(PAGES.glob("*.json")):
        expected = json.loads(spec.read_text(encoding="utf-8"))
        encoding, html = read_html(PAGES / expected["file"])
        pages.append(
            FetchedPage(spec.stem[:2], expected["url"], expected["url"], html, encoding, NOW)
        )
    empty = "<html><body><nav>Home</nav><p>Cookies.</p></body></html>"
    pages.append(
        FetchedPage("en", "https://x.example/empty", "https://x.example/empty", empty, "utf-8", NOW)
    )
    return pages


def run(workers: int) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Extract every page with the given number of workers; comparable summaries."""
    langs = {p.source_id: p.source_id for p in golden_pages()}
    ticks: list[int] = []
    with ExtractionPool(langs, workers, ticks.append) as pool:
        pool.submit(golden_pages())
        articles, problems = pool.results()
    assert sum(ticks) == len(golden_pages())
    return sorted((a.id, a.title, a.text) for a in articles), [p.url for p in problems]


def test_two_workers_extract_what_inline_extraction_does() -> None:
    inline, inline_problems = run(1)
    pooled, pooled_problems = run(2)
    assert len(inline) == 5 and pooled == inline
    assert inline_problems == pooled_problems == ["https://x.example/empty"]


def dies_on_poison(jobs: Sequence[Job]) -> list[Extracted]:
    """A worker function that kills its process on a poison page, like a parser crash."""
    if any(page.url.endswith("/poison") for page, _ in jobs):
        os._exit(3)
    return extract_chunk(jobs)


def test_a_page_that_kills_its_worker_costs_only_that_page() -> None:
    pages = golden_pages()
    poison = FetchedPage(
        "en", "https://x.example/poison", "https://x.example/poison", "", "utf-8", NOW
    )
    langs = {p.source_id: p.source_id for p in pages}
    with ExtractionPool(langs, 2, extract=dies_on_poison) as pool:
        pool.submit([poison, *pages])
        articles, problems = pool.results()
        pool.submit(pages[:1])  # the pool still works after the crash
        again, _ = pool.results()
    assert len(articles) == 5 and len(again) == 1
    assert sorted(p.url for p in problems) == ["https://x.example/empty", poison.url]
    [died] = [p for p in problems if p.url == poison.url]
    assert "worker died" in (died.error or "")
