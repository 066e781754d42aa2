"""The ingest flow: collect (crawl + extract + store) -> classify -> alerts, one Prefect flow run.

Only wiring: every step is a function of ``pipeline`` or ``models``. Crawl and extraction
are one task because they overlap (pages are extracted while the crawler still downloads).
Tasks use NO_CACHE because their inputs are live objects (a DuckDB connection) or records
not worth hashing. ``run_ingest`` runs the flow on the task runner the settings choose.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.classify import alerts_task, classify_step
from pipeline import extract_pool, ingest, ops, runtime, store
from pipeline.aggregate import last_days
from pipeline.config import Settings
from pipeline.progress import Progress, Stopwatch
from pipeline.sources import load_sources

collect_task = task(name="collect", retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)(
    ingest.collect
)
extract_task = task(name="extract", cache_policy=NO_CACHE)(extract_pool.extract_chunk)


@ops.framewatch_flow("framewatch-ingest", log_prints=False)
def ingest_flow(
    sources_file: Path | None = None,
    settings: Settings | None = None,
    newsroom: str | None = None,
    progress: Progress | runtime.FlowProgress | None = None,
    classify: bool = True,
    writer_limit: str | None = None,
) -> ingest.RunSummary:
    """One ingest cycle into the database named by the settings; failed fetches are data.

    Scheduled runs pass no settings (read from the environment), ``classify=False`` (the
    classify deployment follows each ingest) and the writer limit's name.
    """
    settings = settings or Settings()
    sources_file = Path(sources_file or settings.sources_file)  # a str from a deployment
    progress, clock = progress or Progress.quiet(), Stopwatch()
    run_id = uuid.uuid4().hex[:12]
    with ops.writer(settings, writer_limit) as con:
        store.recover_interrupted_runs(con)  # rows of runs killed before they finished
        store.upsert_sources(con, load_sources(sources_file, newsroom=newsroom))
        store.start_run(con, run_id, str(sources_file))
        try:
            summary = _ingest(
                con, run_id, sources_file, settings, newsroom, progress, clock, classify
            )
        except BaseException:
            store.finish_run(con, run_id, "failed")
            raise
        if classify:
            with clock("alerts"):
                alerts_task(con, settings, last_days(), run_id)
    return summary


def _ingest(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    sources_file: Path,
    settings: Settings,
    newsroom: str | None,
    progress: Progress | runtime.FlowProgress,
    clock: Stopwatch,
    classify: bool,
) -> ingest.RunSummary:
    """Collect, then classify unless told not to; the run row is closed with its counts."""
    # On Dask, pages go to extract tasks on the workers; else to a local process pool.
    extraction = None
    if runtime.runs_on_dask():
        extraction = extract_pool.task_extraction(runtime.submitter(extract_task))
    with progress.step("collect", total=None) as tick, clock("crawl+extract+store"):
        got = collect_task(sources_file, settings, con, run_id, newsroom, tick, extraction)
    version, classified = classify_step(con, settings, progress, clock) if classify else (None, 0)
    summary = ingest.RunSummary(
        run_id,
        got.pages_fetched,
        ingest.failures(got.outcomes),
        len(got.new_ids),
        classified,
        clock.seconds,
    )
    ingest.finish(con, summary, version)
    return summary


def run_ingest(
    sources_file: Path | None,
    settings: Settings,
    newsroom: str | None = None,
    progress: Progress | None = None,
) -> ingest.RunSummary:
    """One ingest run on the task runner the settings choose (threads, or Dask)."""
    with runtime.on_runner(ingest_flow, settings) as run:
        return run(sources_file, settings, newsroom, runtime.flow_progress(progress))
