"""The extraction pool: worker processes give what inline extraction gives, and a failed
worker costs its pages a recorded reason, not the run."""

from __future__ import annotations

import json
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

from pipeline.extract import read_html
from pipeline.extract_pool import Extracted, ExtractionPool, _outcome
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


def test_a_failed_worker_records_each_page_of_its_chunk() -> None:
    page = golden_pages()[-1]
    future: Future[list[Extracted]] = Future()
    future.set_exception(RuntimeError("worker died"))
    [(article, problem)] = _outcome([(page, "en")], future)
    assert article is None and problem is not None
    assert problem.url == page.url and "worker died" in (problem.error or "")
