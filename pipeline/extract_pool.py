"""Extraction in worker processes, fed while the crawl is still running.

Extraction is CPU-bound (trafilatura parses every page), so it runs in a process pool, never
in the crawler's reactor: the crawler keeps downloading while the workers parse. This module
imports only the extraction code, so a spawned worker starts without loading the classifier
stack (torch, onnxruntime) that the ingest module needs.

Two queues share one interface (``submit`` pages as they arrive, ``results`` when the crawl
is over): ExtractionPool, a local process pool, and TaskExtraction, tasks of the flow's task
runner (Dask workers on other processes or machines). The caller picks one; the store step
after either is the same single transaction.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pipeline.extract import ExtractionError, extract_article
from pipeline.records import Article, FetchedPage, FetchOutcome

log = logging.getLogger(__name__)
POOL_CHUNK = 8  # pages per worker task: big enough to amortise pickling, small for balance

Extracted = tuple[Article | None, FetchOutcome | None]
Job = tuple[FetchedPage, str]  # a page and its outlet's declared language
T_co = TypeVar("T_co", covariant=True)


class Pending(Protocol[T_co]):
    """Work handed to an executor: a concurrent.futures.Future or a Prefect task future."""

    def result(self) -> T_co:
        """Wait for the value; raises what the work raised."""
        ...

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        """Call ``fn`` (with the future) when the work is done."""
        ...


SubmitChunk = Callable[[list[Job]], Pending[list[Extracted]]]


class Extractor(Protocol):
    """What ``pipeline.ingest.collect`` feeds pages to while the crawl runs."""

    def __enter__(self) -> Extractor: ...

    def __exit__(self, *exc: object) -> None: ...

    def submit(self, pages: Sequence[FetchedPage]) -> None:
        """Queue pages for extraction; returns at once."""
        ...

    def results(self) -> tuple[list[Article], list[FetchOutcome]]:
        """Wait for every page queued so far: articles, and the problems of the others."""
        ...


# Makes the extractor of one run from the outlets' declared languages and a progress callback.
MakeExtractor = Callable[[Mapping[str, str], Callable[[int], None] | None], Extractor]


class _ChunkQueue:
    """Pages queued in chunks of POOL_CHUNK, each chunk run by ``_run``; the shared half of
    the two extractors (subclasses say how a chunk runs and what a failed chunk yields)."""

    def __init__(
        self, langs: Mapping[str, str], progress: Callable[[int], None] | None = None
    ) -> None:
        self.langs = langs  # outlet id -> declared language
        self.progress = progress
        self.chunks: list[tuple[list[Job], Pending[list[Extracted]]]] = []

    def submit(self, pages: Sequence[FetchedPage]) -> None:
        """Queue pages for extraction, in chunks of POOL_CHUNK."""
        for jobs in _chunks(pages, self.langs):
            self.chunks.append((jobs, self._run(jobs, tick=True)))

    def _run(self, jobs: list[Job], tick: bool = False) -> Pending[list[Extracted]]:
        """Start one chunk (``tick``: advance the progress bar when it is done)."""
        raise NotImplementedError

    def _outcome(self, jobs: list[Job], future: Pending[list[Extracted]]) -> list[Extracted]:
        """A chunk's results, whatever happened to it."""
        raise NotImplementedError

    def _ticking(self, future: Pending[list[Extracted]], n: int) -> None:
        """Advance the progress bar by ``n`` pages when the future is done."""
        if self.progress is not None:
            progress = self.progress
            future.add_done_callback(lambda _: progress(n))

    def results(self) -> tuple[list[Article], list[FetchOutcome]]:
        """Wait for every page queued so far and forget them; articles, and the problems
        of pages without one (a caller may drain batch by batch to bound memory)."""
        articles, problems = [], []
        chunks, self.chunks = self.chunks, []
        for jobs, future in chunks:
            for article, problem in self._outcome(jobs, future):
                if article is not None:
                    articles.append(article)
                if problem is not None:
                    problems.append(problem)
        return articles, problems


def _chunks(pages: Sequence[FetchedPage], langs: Mapping[str, str]) -> Iterator[list[Job]]:
    """Pages with their outlets' declared languages, POOL_CHUNK at a time."""
    for start in range(0, len(pages), POOL_CHUNK):
        yield [(p, langs.get(p.source_id, "xx")) for p in pages[start : start + POOL_CHUNK]]


class ExtractionPool(_ChunkQueue):
    """Extract pages in ``workers`` processes (inline when 1); collect articles and problems.

    Workers are spawned, not forked: the parent holds threads (Prefect's client, DuckDB)
    that a fork would copy in an unknown state. A worker that dies (a page that crashes the
    parser's C code, memory) breaks the whole process pool and every chunk in flight; those
    chunks are then extracted again one page at a time in a fresh pool, so only the page
    that kills a worker is lost, with its reason in the fetch log, never the run.
    """

    def __init__(
        self,
        langs: Mapping[str, str],
        workers: int = 0,
        progress: Callable[[int], None] | None = None,
        extract: Callable[[Sequence[Job]], list[Extracted]] | None = None,
    ) -> None:
        super().__init__(langs, progress)
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.extract = extract or extract_chunk  # tests pass a worker that dies
        self.executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> ExtractionPool:
        if self.workers > 1:
            self._restart()
        return self

    def __exit__(self, *exc: object) -> None:
        # No waiting for the workers to exit (about a second, spent unloading their models):
        # every result the caller wanted has been collected by then, and the rest is cancelled.
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)

    def _restart(self) -> None:
        """A fresh process pool (the first, or one replacing a broken pool)."""
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context("spawn")
        self.executor = ProcessPoolExecutor(self.workers, mp_context=context)

    def _run(self, jobs: list[Job], tick: bool = False) -> Future[list[Extracted]]:
        """Run jobs in a worker (a broken pool is replaced first), or inline with one."""
        future: Future[list[Extracted]]
        if self.executor is None:
            future = Future()
            future.set_result(self.extract(jobs))
        else:
            try:
                future = self.executor.submit(self.extract, jobs)
            except BrokenProcessPool:
                self._restart()
                return self._run(jobs, tick)
        if tick:
            self._ticking(future, len(jobs))
        return future

    def _outcome(self, jobs: list[Job], future: Pending[list[Extracted]]) -> list[Extracted]:
        """A chunk's results; after a worker died, its pages one at a time."""
        try:
            return future.result()
        except BrokenProcessPool:
            log.error("an extraction worker died; extracting its chunk page by page")
            return [self._alone(job) for job in jobs]
        except Exception as exc:  # e.g. a page that cannot be pickled: noted, not fatal
            reason = f"extraction worker failed: {type(exc).__name__}: {exc}"
            return [(None, problem(page, reason)) for page, _ in jobs]

    def _alone(self, job: Job) -> Extracted:
        """One page in its own task: the page that kills a worker is the one recorded."""
        try:
            return self._run([job]).result()[0]
        except BrokenProcessPool:
            self._restart()
            return None, problem(job[0], "extraction worker died on this page (parser crash)")


class TaskExtraction(_ChunkQueue):
    """Extraction as tasks of the flow's task runner (Dask workers), chunk by chunk.

    ``submit_chunk`` is the extract task's submit: the runner owns the workers, so there is
    nothing to start or stop here, and pages and results travel as records. Dask already
    reruns a task whose worker died on another worker; a chunk that fails anyway (it killed
    every worker it met) is extracted again one page per task, so only the page that kills
    workers is lost, with its reason in the fetch log, never the run.
    """

    def __init__(
        self,
        langs: Mapping[str, str],
        submit_chunk: SubmitChunk,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(langs, progress)
        self.submit_chunk = submit_chunk

    def __enter__(self) -> TaskExtraction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.chunks = []  # a failed run's pending tasks end with the flow's task runner

    def _run(self, jobs: list[Job], tick: bool = False) -> Pending[list[Extracted]]:
        """Submit one chunk as a task."""
        future = self.submit_chunk(jobs)
        if tick:
            self._ticking(future, len(jobs))
        return future

    def _outcome(self, jobs: list[Job], future: Pending[list[Extracted]]) -> list[Extracted]:
        """A chunk's results; after its task failed, its pages one task each."""
        try:
            return future.result()
        except Exception as exc:
            log.error("an extract task failed (%s); extracting its chunk page by page", exc)
            return [self._alone(job) for job in jobs]

    def _alone(self, job: Job) -> Extracted:
        """One page in its own task: the page that fails again is the one recorded."""
        try:
            return self.submit_chunk([job]).result()[0]
        except Exception as exc:
            return None, problem(job[0], f"extract task failed: {type(exc).__name__}: {exc}")


def task_extraction(submit_chunk: SubmitChunk) -> MakeExtractor:
    """The extractor maker ``collect`` takes, for extraction as tasks of a task runner."""
    return lambda langs, progress: TaskExtraction(langs, submit_chunk, progress)


def local_extraction(workers: int = 0) -> MakeExtractor:
    """The extractor maker for the local process pool (``workers`` processes; 0: per core)."""
    return lambda langs, progress: ExtractionPool(langs, workers, progress)


def extract_chunk(jobs: Sequence[Job]) -> list[Extracted]:
    """Extract a chunk of (page, declared language) pairs; runs inside a worker process."""
    return [extract_one(page, lang) for page, lang in jobs]


def extract_one(page: FetchedPage, declared_lang: str) -> Extracted:
    """An article, or the fetch-log row saying why the page has none; never raises."""
    try:
        return extract_article(page, declared_lang), None
    except ExtractionError as exc:
        return None, problem(page, str(exc))
    except Exception as exc:  # a page that breaks a library must not stop the run
        log.exception("extraction crashed on %s", page.url)
        return None, problem(page, f"extraction failed: {type(exc).__name__}: {exc}")


def problem(page: FetchedPage, reason: str) -> FetchOutcome:
    """A fetch-log row for a page that yielded no article."""
    return FetchOutcome(page.source_id, page.url, "article", 200, reason, datetime.now(UTC))
