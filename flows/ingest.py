"""The ingest flow: crawl -> extract -> store -> classify, as one Prefect flow run.

Only wiring: every step is a function of ``pipeline`` or ``models``. Tasks use NO_CACHE
because their inputs (a DuckDB connection, a classifier) are live objects.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from pipeline import ingest, store
from pipeline.config import Settings
from pipeline.crawl import crawl
from pipeline.progress import Progress, Stopwatch
from pipeline.runtime import load_classifier
from pipeline.sources import load_sources

crawl_task = task(name="crawl", retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)(crawl)
extract_task = task(name="extract", cache_policy=NO_CACHE)(ingest.extract_pages)
classify_task = task(name="classify", cache_policy=NO_CACHE)(ingest.classify_pending)


@flow(name="framewatch-ingest", log_prints=False, validate_parameters=False)
def ingest_flow(
    sources_file: Path,
    settings: Settings,
    newsroom: str | None = None,
    progress: Progress | None = None,
) -> ingest.RunSummary:
    """One ingest cycle into the database named by the settings; failed fetches are data."""
    progress, clock = progress or Progress.quiet(), Stopwatch()
    run_id = uuid.uuid4().hex[:12]
    staging = settings.staging / run_id
    sources = load_sources(sources_file, newsroom=newsroom)
    con = store.open_store(settings.db)
    try:
        store.upsert_sources(con, sources)
        store.start_run(con, run_id, str(sources_file))
        with progress.step("crawl", total=None) as tick, clock("crawl"):
            result = crawl_task(
                sources_file, staging, settings, newsroom, store.known_urls(con), tick
            )
        with progress.step("extract", total=len(result.pages)) as tick, clock("extract"):
            articles, problems = extract_task(result.pages, sources, tick)
        outcomes = [*result.outcomes, *problems, *ingest.language_notes(articles)]
        new_ids = store.store_crawl(con, run_id, articles, outcomes)
        with clock("load models"):
            classifier = load_classifier(settings)
        pending = store.count_pending(con, classifier.version)
        with progress.step("classify", total=pending) as tick, clock("classify"):
            classified = classify_task(con, classifier, tick)
        summary = ingest.RunSummary(
            run_id,
            len(result.pages),
            ingest.failures(outcomes),
            len(new_ids),
            classified,
            clock.seconds,
        )
        ingest.finish(con, summary, classifier.version, staging)
        return summary
    except BaseException:
        store.finish_run(con, run_id, "failed")
        raise
    finally:
        con.close()
