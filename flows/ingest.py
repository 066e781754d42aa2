"""The ingest flow: collect (crawl + extract + store) -> classify -> alerts, one Prefect flow run.

Only wiring: every step is a function of ``pipeline`` or ``models``. Crawl and extraction
are one task because they overlap (the extraction pool parses pages while the crawler still
downloads). Tasks use NO_CACHE because their inputs (a DuckDB connection, a classifier) are
live objects.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from pipeline import alerts, ingest, store
from pipeline.aggregate import last_days
from pipeline.config import Settings
from pipeline.progress import Progress, Stopwatch
from pipeline.runtime import load_classifier
from pipeline.sources import load_sources

collect_task = task(name="collect", retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)(
    ingest.collect
)
classify_task = task(name="classify", cache_policy=NO_CACHE)(ingest.classify_pending)
# Alerts for the last seven days, after the run is finished: run_alerts_safely never raises
# (errors are logged and noted on the run), so alerts cannot fail a good ingest run.
alerts_task = task(name="alerts", cache_policy=NO_CACHE)(alerts.run_alerts_safely)


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
    con = store.open_store(settings.db)
    try:
        store.upsert_sources(con, load_sources(sources_file, newsroom=newsroom))
        store.start_run(con, run_id, str(sources_file))
        with progress.step("collect", total=None) as tick, clock("crawl+extract+store"):
            got = collect_task(sources_file, settings, con, run_id, newsroom, tick)
        with clock("load models"):
            classifier = load_classifier(settings)
        pending = store.count_pending(con, classifier.version)
        with progress.step("classify", total=pending) as tick, clock("classify"):
            classified = classify_task(con, classifier, tick)
        summary = ingest.RunSummary(
            run_id,
            got.pages_fetched,
            ingest.failures(got.outcomes),
            len(got.new_ids),
            classified,
            clock.seconds,
        )
        ingest.finish(con, summary, classifier.version)
    except BaseException:
        store.finish_run(con, run_id, "failed")
        con.close()
        raise
    try:
        with clock("alerts"):
            alerts_task(con, settings, last_days(), run_id)
    finally:
        con.close()
    return summary
