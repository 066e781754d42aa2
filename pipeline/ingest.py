"""The stages of one ingest run as plain functions; ``flows.ingest`` wires them as tasks."""

from __future__ import annotations

import logging
import shutil
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipeline import store
from pipeline.config import Settings
from pipeline.crawl import crawl
from pipeline.extract_pool import ExtractionPool, MakeExtractor, Pending, local_extraction
from pipeline.feeds import plan_polls
from pipeline.records import Article, Document, FeedState, FetchOutcome, Framing, Source
from pipeline.retention import purged_keys
from pipeline.sources import load_sources

if TYPE_CHECKING:  # the classifier stack (torch) is loaded only by who classifies
    from models.classify import Classifier

log = logging.getLogger(__name__)
CLASSIFY_BATCH = 64  # articles per classify task and per store transaction
# Pending articles, one page at a time in id order: a keyset page (id > the last one seen)
# stays right while the batches already classified leave the pending set.
PENDING_PAGE = (
    f"SELECT id, lang, title, text FROM articles WHERE {store.PENDING} AND id > ?"
    " ORDER BY id LIMIT ?"
)
SubmitBatch = Callable[[list[Document]], Pending[list[Framing]]]


@dataclass(frozen=True)
class RunSummary:
    """What one run did, for the CLI's summary and the runs table."""

    run_id: str
    pages_fetched: int
    fetch_failures: int
    articles_new: int
    articles_classified: int
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Collected:
    """What crawling, extracting and storing one run produced."""

    pages_fetched: int
    outcomes: tuple[FetchOutcome, ...]  # everything written to fetch_log
    new_ids: tuple[str, ...]  # articles stored for the first time


def collect(
    sources_file: Path,
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    newsroom: str | None = None,
    progress: Callable[[int], None] | None = None,
    extraction: MakeExtractor | None = None,
) -> Collected:
    """Crawl, extract and store one run; the store step is one transaction.

    Extraction is fed page by page while the crawler still downloads, by default to a local
    process pool; ``extraction`` makes another extractor (tasks on Dask workers, see
    ``extract_pool.task_extraction``). Either way the articles come back here and are stored
    together after the crawl. Feeds are polled as their remembered state says (conditional
    requests, disabled feeds only probed); URLs already stored are not fetched again unless
    ``settings.refetch``.
    """
    sources = load_sources(sources_file, newsroom=newsroom)
    now = datetime.now(UTC)
    states = store.feed_states(con)
    # Articles that failed for a passing reason are found again only in their feed: a
    # feed answering 304 would hide them, so their outlets' feeds are fetched in full.
    retry = store.sources_needing_full_fetch(
        con, now - timedelta(hours=settings.feed_full_fetch_hours)
    )
    polls = plan_polls(
        states,
        feed_urls(sources, states),
        now,
        settings.feed_full_fetch_hours,
        settings.feed_probe_days,
        full_fetch_sources=retry,
    )
    ids = [s.id for s in sources]
    # --refetch fetches stored URLs again, but never a purged one (content removed on request).
    known = purged_keys(con, ids) if settings.refetch else store.known_keys(con, ids)
    staging = settings.staging / run_id
    langs = {s.id: s.lang for s in sources}
    make = extraction or local_extraction(settings.extract_workers)
    with make(langs, progress) as pool:
        result = crawl(
            sources_file, staging, settings, newsroom, known, polls=polls, on_pages=pool.submit
        )
        articles, problems = pool.results()
    outcomes = (*result.outcomes, *problems, *language_notes(articles))
    new_ids = store.store_crawl(
        con,
        run_id,
        articles,
        outcomes,
        pages=result.pages,
        raw_maxsize=settings.raw_html_maxsize,
        disable_after=settings.feed_disable_after,
    )
    if settings.raw_html_retention_days:
        store.purge_raw_pages(con, now - timedelta(days=settings.raw_html_retention_days))
    shutil.rmtree(staging, ignore_errors=True)  # the pages are in raw_pages now
    return Collected(len(result.pages), outcomes, tuple(new_ids))


def feed_urls(sources: Sequence[Source], states: Mapping[str, FeedState]) -> list[str]:
    """The feed and sitemap URLs to plan for: those the sources declare, and those found
    before (feeds discovered on home pages, sitemap-index children) that have a state."""
    ids = {s.id for s in sources}
    declared = [url for s in sources for url in (*s.feeds, *s.sitemaps)]
    found = [url for url, st in states.items() if st.source_id in ids and url not in declared]
    return declared + sorted(found)


@dataclass(frozen=True)
class Reextracted:
    """What ``reextract`` did."""

    pages: int  # stored raw pages extracted again
    failed: int  # of those, pages that still yield no article
    updated: int  # stored articles rewritten in place
    reset: int  # of those, changed enough to be classified again
    inserted: int  # articles stored for the first time


def reextract(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source_id: str | None = None,
    since: datetime | None = None,
    workers: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Reextracted:
    """Extract the stored raw pages again (after an extractor fix), without refetching.

    Articles whose text changed lose their classification, so the next classify pass
    redoes them; pages that yielded nothing before and do now become new articles. Pages
    go batch by batch, each batch stored in its own transaction, so memory stays bounded.
    """
    langs = dict(con.execute("SELECT id, lang FROM sources").fetchall())
    totals = [0, 0, 0, 0, 0]
    with ExtractionPool(langs, workers, progress) as pool:
        for batch in store.raw_pages(con, source_id=source_id, since=since):
            pool.submit(batch)
            articles, problems = pool.results()
            counts = store.update_reextracted(con, articles, run_id)
            for k, n in enumerate(
                (len(batch), len(problems), counts.updated, counts.reset, counts.inserted)
            ):
                totals[k] += n
    return Reextracted(*totals)


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
    """Classify every article not yet classified by this model version, here and now
    (``framewatch reextract``); the flows send the batches to their task runner instead."""
    return classify_batches(
        con, classifier.version, lambda docs: _done(classifier.classify(docs)), progress
    )


def classify_batches(
    con: duckdb.DuckDBPyConnection,
    version: str,
    submit: SubmitBatch,
    progress: Callable[[int], None] | None = None,
    window: int = 1,
) -> int:
    """Classify every article not yet classified by ``version``, CLASSIFY_BATCH at a time.

    ``submit`` starts one batch (a classify task on the flow's task runner) and the
    framings are stored here, the only writer, one transaction per batch in the order the
    batches were sent: a killed run keeps every batch it stored. At most ``window`` batches
    are in flight, and only their texts are in memory, however long the backlog.
    """
    in_flight: deque[Pending[list[Framing]]] = deque()
    done = 0
    for docs in pending_batches(con, version):
        in_flight.append(submit(docs))
        if len(in_flight) >= window:
            done += _store_batch(con, in_flight.popleft(), progress)
    while in_flight:
        done += _store_batch(con, in_flight.popleft(), progress)
    return done


def pending_batches(
    con: duckdb.DuckDBPyConnection, version: str, size: int = CLASSIFY_BATCH
) -> Iterator[list[Document]]:
    """The articles not yet classified by ``version``, ``size`` at a time in id order; each
    page is read when the one before has been handed on."""
    after = ""
    while page := con.execute(PENDING_PAGE, [version, after, size]).fetchall():
        yield [Document(id=i, lang=lang, title=title, text=text) for i, lang, title, text in page]
        after = page[-1][0]


def _store_batch(
    con: duckdb.DuckDBPyConnection,
    future: Pending[list[Framing]],
    progress: Callable[[int], None] | None,
) -> int:
    """Wait for one batch's framings and store them in one transaction; how many."""
    framings = future.result()
    store.save_framings(con, framings)
    # Committed: a killed run keeps this batch (the crash test waits for this line).
    log.debug("stored the framings of %d articles", len(framings))
    if progress is not None:
        progress(len(framings))
    return len(framings)


def _done(value: list[Framing]) -> Future[list[Framing]]:
    """A future that already holds its value (work done in this thread)."""
    future: Future[list[Framing]] = Future()
    future.set_result(value)
    return future


def classify_batch(settings: Settings, docs: Sequence[Document]) -> list[Framing]:
    """Classify one batch with the classifier of these settings (loaded once per process).

    Pure: records in, records out, no database, so it runs as a task anywhere, a Dask
    worker on another machine included.
    """
    from pipeline.runtime import shared_classifier  # the classifier stack, only here

    return shared_classifier(settings).classify(docs)


def model_version(settings: Settings) -> str:
    """The version the classifier of these settings stamps on its framings (loading it in
    this process, where the classify tasks that follow find it)."""
    from pipeline.runtime import shared_classifier

    return shared_classifier(settings).version


def failures(outcomes: Sequence[FetchOutcome]) -> int:
    """URLs and pages of a run that could not be used."""
    return sum(1 for o in outcomes if o.error)


def finish(con: duckdb.DuckDBPyConnection, summary: RunSummary, model_version: str | None) -> None:
    """Close the run row with its counts."""
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
