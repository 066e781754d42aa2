"""Scale-out: the ingest flow on a local Dask cluster (two worker processes) stores exactly
what the default thread runner stores, and the workers really do the work.

The proof that Dask did the work comes from Dask's own scheduler: this module is also a
scheduler preload (``dask_setup``), so the cluster the flow's task runner starts records
which worker process finished every task.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import duckdb
import pytest
from distributed import Client, LocalCluster, Scheduler, SchedulerPlugin
from rich.console import Console

from flows.classify import run_classify
from flows.ingest import run_ingest
from pipeline import ingest, runtime, store
from pipeline.config import Settings
from pipeline.demo.newsroom import running_newsroom
from pipeline.extract_pool import Extracted, Job, TaskExtraction
from pipeline.progress import Progress
from pipeline.records import Document, FetchedPage, Framing
from pipeline.sources import demo_sources_file
from pipeline.store import open_readonly
from tests.factories import framing, make_article
from tests.pipeline.test_extract_pool import dies_on_poison, golden_pages
from tests.test_end_to_end import fetch_log

FINISHED: list[tuple[str, int]] = []  # (task key, pid of the worker that finished it)


class TaskLog(SchedulerPlugin):
    """Notes every task that reaches memory, with the process id of its worker."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        """Record the worker of each finished task."""
        worker = self.scheduler.workers.get(kwargs.get("worker", ""))
        if finish == "memory" and worker is not None:
            FINISHED.append((str(key), int(worker.pid)))


def dask_setup(scheduler: Scheduler) -> None:
    """Dask preload hook (``distributed.scheduler.preload``): install the task log."""
    scheduler.add_plugin(TaskLog(scheduler))


@dataclass(frozen=True)
class Runs:
    """The two databases of the same newsroom, and the tasks Dask's workers finished."""

    threads: Path
    dask: Path
    tasks: list[tuple[str, int]] = field(default_factory=list)
    bars: str = ""  # what the Dask run's progress bars drew


@pytest.fixture(scope="module")
def runs(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """One run per task runner against the same newsroom (same URLs, so same ids)."""
    base = tmp_path_factory.mktemp("dask")
    threads = settings.model_copy(update={"db": base / "t.duckdb", "staging": base / "st"})
    on_dask = settings.model_copy(
        update={
            "db": base / "d.duckdb",
            "staging": base / "sd",
            "task_runner": "dask",
            "dask_workers": 2,
        }
    )
    FINISHED.clear()
    # Bars as ``framewatch run`` draws them: the flow's parameters must still reach workers.
    drawn = io.StringIO()
    with running_newsroom() as room:
        run_ingest(demo_sources_file(), threads, room.url)
        with dask.config.set({"distributed.scheduler.preload": [__name__]}):
            bars = Progress(Console(file=drawn, width=100))
            run_ingest(demo_sources_file(), on_dask, room.url, bars)
    return Runs(threads.db, on_dask.db, list(FINISHED), drawn.getvalue())


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """All rows of a query on a finished database."""
    with open_readonly(db) as con:
        return con.execute(sql).fetchall()


COMPARED = {
    "articles": "SELECT id, text, title, model_version FROM articles ORDER BY id",
    "frames": "SELECT article_id, frame, assigned FROM article_frames ORDER BY ALL",
    "terms": "SELECT article_id, kind, term, matched, start_char, end_char, category"
    " FROM article_terms ORDER BY ALL",
    "quotes": "SELECT * EXCLUDE (model_version) FROM article_quotes ORDER BY ALL",
    "evidence": "SELECT article_id, frame, rank, sentence, start_char, end_char"
    " FROM article_evidence ORDER BY ALL",
}


@pytest.mark.e2e
@pytest.mark.parametrize("table", sorted(COMPARED))
def test_dask_stores_what_the_thread_runner_stores(runs: Runs, table: str) -> None:
    expected = rows(runs.threads, COMPARED[table])
    assert expected and rows(runs.dask, COMPARED[table]) == expected


@pytest.mark.e2e
def test_dask_scores_equal_the_thread_runner_scores(runs: Runs) -> None:
    sql = "SELECT article_id, frame, score FROM article_frames"
    threads = {(a, f): s for a, f, s in rows(runs.threads, sql)}
    on_dask = {(a, f): s for a, f, s in rows(runs.dask, sql)}
    assert len(threads) >= 150 and on_dask.keys() == threads.keys()
    assert all(abs(on_dask[k] - threads[k]) <= 1e-6 for k in threads)
    sql = "SELECT id, migration_score, hostile_score, frame_group FROM articles ORDER BY id"
    for (i, mig, host, group), (j, mig2, host2, group2) in zip(
        rows(runs.threads, sql), rows(runs.dask, sql), strict=True
    ):
        assert (i, group) == (j, group2)
        assert abs(mig - mig2) <= 1e-6 and abs(host - host2) <= 1e-6


@pytest.mark.e2e
def test_the_fetch_log_records_the_same_faults(runs: Runs) -> None:
    def faults(db: Path) -> list[tuple[str, str | None]]:
        return sorted((u, e) for u, e, _ in fetch_log(db) if e)

    assert faults(runs.dask) == faults(runs.threads) != []


@pytest.mark.e2e
def test_two_worker_processes_did_the_extraction_and_classification(runs: Runs) -> None:
    def workers(task: str) -> list[int]:
        return [pid for key, pid in runs.tasks if key.startswith(f"{task}-")]

    articles = len(rows(runs.dask, "SELECT id FROM articles"))
    pages = len(rows(runs.dask, "SELECT url FROM raw_pages"))
    extract, classify = workers("extract_chunk"), workers("classify_batch")
    assert len(extract) >= math.ceil(pages / 8)  # POOL_CHUNK pages per task, plus retries
    assert len(classify) == math.ceil(articles / ingest.CLASSIFY_BATCH)
    assert len(set(classify)) == 2  # the batches were shared by both workers
    every = {pid for _, pid in runs.tasks}
    assert len(every) == 2 and os.getpid() not in every


@pytest.mark.e2e
def test_the_progress_bars_are_drawn_by_the_flow_process(runs: Runs) -> None:
    assert "collect" in runs.bars and "classify" in runs.bars


def test_the_runner_follows_the_settings(settings: Settings) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    assert isinstance(runtime.task_runner(settings), ThreadPoolTaskRunner)
    local = runtime.task_runner(settings.model_copy(update={"task_runner": "dask"}))
    assert isinstance(local, DaskTaskRunner) and local.address is None
    assert local.cluster_kwargs["n_workers"] == 2 and local.cluster_kwargs["processes"]
    remote = settings.model_copy(update={"task_runner": "dask", "dask_address": "tcp://h:8786"})
    assert runtime.task_runner(remote).address == "tcp://h:8786"  # type: ignore[attr-defined]


def test_the_classify_flow_classifies_what_is_pending(
    settings: Settings, tmp_path: Path, classifier: Any
) -> None:
    cfg = settings.model_copy(update={"db": tmp_path / "c.duckdb"})
    con = store.open_store(cfg.db)
    texts = ["Die Stadt eröffnet eine Unterkunft für Geflüchtete. " * 8, "Das Stadtfest. " * 30]
    store.insert_articles(con, [make_article(f"c{i}", text=t) for i, t in enumerate(texts)], "r")
    con.close()
    assert run_classify(cfg) == 2
    assert run_classify(cfg) == 0  # nothing left for this model
    versions = rows(cfg.db, "SELECT DISTINCT model_version FROM articles")
    assert versions == [(classifier.version,)]


@dataclass
class Batches:
    """A stand-in classify task: counts the batches in flight, fails on one batch."""

    fail_on: int | None = None
    sent: int = 0
    taken: int = 0
    most_in_flight: int = 0

    def submit(self, docs: list[Document]) -> Later:
        """Start a batch; it is classified when the flow asks for its result."""
        self.sent += 1
        self.most_in_flight = max(self.most_in_flight, self.sent - self.taken)
        return Later(self, self.sent, docs)

    def classify(self, number: int, docs: Sequence[Document]) -> list[Framing]:
        """Framings of a batch (stored as model "m1"), or the failure asked for."""
        self.taken += 1
        if number == self.fail_on:
            raise RuntimeError(f"batch {number} failed")
        return [framing(d.id, d.text, None, migration=False) for d in docs]


@dataclass(frozen=True)
class Later:
    """One batch sent to the stand-in task."""

    batches: Batches
    number: int
    docs: list[Document]

    def result(self) -> list[Framing]:
        """The batch's framings, classified now."""
        return self.batches.classify(self.number, self.docs)

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        """Not needed by classify_batches."""
        raise NotImplementedError


@pytest.fixture()
def pending(db: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """200 unclassified articles."""
    store.insert_articles(
        db,
        [make_article(f"a{i:03}", text=f"Text {i} über die Stadt. " * 20) for i in range(200)],
        "r",
    )
    yield db


def classified(con: duckdb.DuckDBPyConnection) -> int:
    """Articles stored with the stand-in's model version."""
    return int(
        con.execute("SELECT count(*) FROM articles WHERE model_version = 'm1'").fetchall()[0][0]
    )


def test_classify_keeps_at_most_a_window_of_batches_in_flight(
    pending: duckdb.DuckDBPyConnection,
) -> None:
    batches, ticks = Batches(), list[int]()
    done = ingest.classify_batches(pending, "m1", batches.submit, ticks.append, window=3)
    assert done == sum(ticks) == classified(pending) == 200
    assert batches.sent == math.ceil(200 / ingest.CLASSIFY_BATCH) and batches.most_in_flight == 3


def test_a_failed_batch_keeps_the_batches_stored_before_it(
    pending: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(RuntimeError, match="batch 3 failed"):
        ingest.classify_batches(pending, "m1", Batches(fail_on=3).submit, window=2)
    assert classified(pending) == 2 * ingest.CLASSIFY_BATCH
    # the next run goes on with what is left
    assert ingest.classify_batches(pending, "m1", Batches().submit) == 200 - 128


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """A local two-process Dask cluster that gives up on a task after one killed worker."""
    kwargs = runtime.local_cluster(Settings(dask_workers=2))
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(**kwargs) as cluster,
        Client(cluster) as client,
    ):
        yield client


def on_dask(client: Client, fn: Callable[[Sequence[Job]], list[Extracted]]) -> Any:
    """A chunk submitter running ``fn`` on the cluster (the extract task without Prefect)."""
    return lambda jobs: client.submit(fn, jobs, pure=False)


def test_a_page_that_kills_dask_workers_costs_only_that_page(client: Client) -> None:
    pages = golden_pages()
    url = "https://x.example/poison"
    poison = FetchedPage("en", url, url, "", "utf-8", pages[0].fetched_at)
    langs = {p.source_id: p.source_id for p in pages}
    with TaskExtraction(langs, on_dask(client, dies_on_poison)) as extraction:
        extraction.submit([poison, *pages])
        articles, problems = extraction.results()
    assert len(articles) == 5
    assert sorted(p.url for p in problems) == ["https://x.example/empty", poison.url]
    [died] = [p for p in problems if p.url == poison.url]
    assert "extract task failed" in (died.error or "")
