"""The stages of one ingest run as plain functions; ``flows.ingest`` wires them as tasks."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from models.classify import Classifier
from pipeline import store
from pipeline.extract import ExtractionError, extract_article
from pipeline.records import Article, Document, FetchedPage, FetchOutcome, Source

log = logging.getLogger(__name__)
CLASSIFY_BATCH = 64  # articles per classify-and-store transaction


@dataclass(frozen=True)
class RunSummary:
    """What one run did, for the CLI's summary and the runs table."""

    run_id: str
    pages_fetched: int
    fetch_failures: int
    articles_new: int
    articles_classified: int
    seconds: dict[str, float] = field(default_factory=dict)


def extract_pages(
    pages: Sequence[FetchedPage],
    sources: Sequence[Source],
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Article], list[FetchOutcome]]:
    """Extract every page; a page without an article becomes a fetch-log row, not a crash."""
    langs = {s.id: s.lang for s in sources}
    articles, problems = [], []
    for page in pages:
        try:
            articles.append(extract_article(page, langs.get(page.source_id, "xx")))
        except ExtractionError as exc:
            problems.append(_problem(page, str(exc)))
        except Exception as exc:  # a page that breaks a library must not stop the run
            log.exception("extraction crashed on %s", page.url)
            problems.append(_problem(page, f"extraction failed: {type(exc).__name__}: {exc}"))
        if progress:
            progress(1)
    return articles, problems


def _problem(page: FetchedPage, reason: str) -> FetchOutcome:
    """A fetch-log row for a page that yielded no article."""
    return FetchOutcome(page.source_id, page.url, "article", 200, reason, datetime.now(UTC))


def language_notes(articles: Sequence[Article]) -> list[FetchOutcome]:
    """Fetch-log notes for articles whose text is not in the outlet's declared language."""
    return [
        FetchOutcome(
            a.source_id,
            a.url,
            "article",
            200,
            None,
            a.fetched_at,
            note=f"text is in '{a.lang}', outlet declares '{a.declared_lang}'",
        )
        for a in articles
        if a.lang != a.declared_lang
    ]


def classify_pending(
    con: duckdb.DuckDBPyConnection,
    classifier: Classifier,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Classify every article not yet classified by this model version, batch by batch."""
    pending = store.articles_to_classify(con, classifier.version)
    for start in range(0, len(pending), CLASSIFY_BATCH):
        batch = pending[start : start + CLASSIFY_BATCH]
        docs = [Document(id=i, lang=lang, title=title, text=text) for i, lang, title, text in batch]
        store.save_framings(con, classifier.classify(docs, progress=progress))
    return len(pending)


def failures(outcomes: Sequence[FetchOutcome]) -> int:
    """URLs and pages of a run that could not be used."""
    return sum(1 for o in outcomes if o.error)


def finish(
    con: duckdb.DuckDBPyConnection, summary: RunSummary, model_version: str, staging: Path
) -> None:
    """Close the run row and drop the run's staging files (raw pages are in the crawl's
    JSONL only until extraction has stored the articles)."""
    store.finish_run(
        con,
        summary.run_id,
        "completed",
        pages_fetched=summary.pages_fetched,
        fetch_failures=summary.fetch_failures,
        articles_new=summary.articles_new,
        articles_classified=summary.articles_classified,
        model_version=model_version,
    )
    shutil.rmtree(staging, ignore_errors=True)
