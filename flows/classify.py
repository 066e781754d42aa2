"""The classify flow: classify every article the current model has not classified yet.

For after a model change, or after an ingest run whose classify step failed; the ingest
flow runs the same step (``classify_step``) after storing a crawl. Batches are tasks of the
flow's task runner (threads here, or Dask workers); the flow's process stores each batch.
"""

from __future__ import annotations

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from pipeline import alerts, ingest, ops, runtime, store
from pipeline.aggregate import last_days
from pipeline.config import Settings
from pipeline.progress import Progress, Stopwatch

# Inputs are records and settings, outputs records: NO_CACHE, since hashing 64 texts per
# batch buys nothing (a batch is classified once per model version anyway).
classify_task = task(name="classify", cache_policy=NO_CACHE)(ingest.classify_batch)
model_version_task = task(name="load-models", cache_policy=NO_CACHE)(ingest.model_version)
# Never raises (see pipeline.alerts.run_alerts_safely): alerts cannot fail a classify run.
alerts_task = task(name="alerts", cache_policy=NO_CACHE)(alerts.run_alerts_safely)


def classify_step(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    progress: Progress | runtime.FlowProgress,
    clock: Stopwatch,
) -> tuple[str, int]:
    """Classify what is pending on the flow's task runner; the model version and how many.

    The version comes from the runner (a Dask worker loads the model, not this process).
    """
    with clock("load models"):
        version = model_version_task.submit(settings).result()
    submit, pending = runtime.submitter(classify_task), store.count_pending(con, version)
    with progress.step("classify", total=pending) as tick, clock("classify"):
        done = ingest.classify_batches(
            con, version, lambda docs: submit(settings, docs), tick, runtime.classify_window()
        )
    return version, done


@ops.framewatch_flow("framewatch-classify")
def classify_flow(
    settings: Settings | None = None,
    progress: Progress | runtime.FlowProgress | None = None,
    writer_limit: str | None = None,
) -> int:
    """Classify every pending article of the database the settings name, then detect and
    send alerts for the last seven days; how many were classified.

    Without settings they are read from the environment (a scheduled run, which also names
    the writer limit it queues for).
    """
    settings = settings or Settings()
    with ops.writer(settings, writer_limit) as con:
        done = classify_step(con, settings, progress or Progress.quiet(), Stopwatch())[1]
        alerts_task(con, settings, last_days())
    return done


def run_classify(settings: Settings, progress: Progress | None = None) -> int:
    """The classify flow on the task runner the settings choose."""
    with runtime.on_runner(classify_flow, settings) as run:
        return run(settings, runtime.flow_progress(progress))
