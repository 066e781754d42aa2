"""Building the heavy objects once (the encoder, the heads, the classifier) and choosing
where the flows' tasks run (threads here, or a Dask cluster).

Prefect is imported inside the functions that need it: ``prefect_defaults`` must run before
Prefect's first import, and commands that never run a flow should not pay for it.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from models.classify import Classifier
from models.encoder import Encoder
from models.heads import load_heads
from pipeline.config import Settings
from pipeline.progress import Progress

if TYPE_CHECKING:
    from prefect import Flow, Task
    from prefect.futures import PrefectFuture
    from prefect.task_runners import TaskRunner

P = ParamSpec("P")
R = TypeVar("R")

PREFECT_DEFAULTS = {
    # Offline-friendly Prefect: no telemetry, and time for a cold temporary server here.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # Dask logs every scheduler and worker start and stop at INFO through Prefect's console
    # handler; warnings and errors still show. Local workers inherit these variables.
    "DASK_LOGGING__DISTRIBUTED": "warning",
}
# Classifier per configuration, per process: a Dask worker loads it for its first batch
# and keeps it for the rest (the lock keeps two threads from loading it twice).
_CLASSIFIERS: dict[tuple[object, ...], Classifier] = {}
_CLASSIFIERS_LOCK = threading.Lock()


def prefect_defaults() -> None:
    """Set Prefect's offline defaults unless the user set them (call before importing it)."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)


def load_encoder(settings: Settings) -> Encoder:
    """The configured encoder (bundled e5-small and its ONNX graph are built once)."""
    return _encoder(
        settings.encoder,
        str(settings.model_cache),
        settings.device,
        settings.allow_download,
        settings.backend,
    )


@lru_cache(maxsize=2)
def _encoder(
    model: str, cache: str, device: str | None, allow_download: bool, backend: str
) -> Encoder:
    """Cached per configuration: loading weights takes seconds."""
    from pathlib import Path

    return Encoder.load(
        model, Path(cache), device=device, allow_download=allow_download, backend=backend
    )


def load_classifier(settings: Settings) -> Classifier:
    """Encoder + heads; refuses heads trained on another encoder's embeddings."""
    encoder = load_encoder(settings)
    heads = load_heads(settings.heads)
    if heads.encoder_version != encoder.version:
        # Heads are linear layers on one encoder's embedding space: on another they are noise.
        raise RuntimeError(
            f"the classifier heads were trained on {heads.encoder_version}, the configured "
            f"encoder is {encoder.version}: train heads for it (`framewatch train --out DIR`) "
            "and set FRAMEWATCH_HEADS=DIR"
        )
    return Classifier(encoder, heads, batch_size=settings.batch_size)


def shared_classifier(settings: Settings) -> Classifier:
    """The classifier of these settings, loaded once per process and kept."""
    key = (
        settings.encoder,
        settings.model_cache,
        settings.device,
        settings.allow_download,
        settings.backend,
        settings.heads,
        settings.batch_size,
    )
    with _CLASSIFIERS_LOCK:
        if key not in _CLASSIFIERS:
            _CLASSIFIERS[key] = load_classifier(settings)
        return _CLASSIFIERS[key]


def task_runner(settings: Settings) -> TaskRunner[Any]:
    """The task runner ``settings.task_runner`` names: Prefect's default thread pool, or
    Dask (the cluster at ``dask_address``, else a local one of ``dask_workers`` processes).

    Tasks sent to Dask take and return records, never a database connection: the flow's
    process stays the only writer, and workers need no access to the database file.
    """
    if settings.task_runner == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner()
    from prefect_dask import DaskTaskRunner

    prefect_defaults()  # local workers are spawned with this process's environment
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    logging.getLogger("distributed.nanny").addFilter(_quiet_worker_exit)
    return DaskTaskRunner(cluster_kwargs=local_cluster(settings))


def _quiet_worker_exit(record: logging.LogRecord) -> bool:
    """Drop the nanny's warning that a worker still exiting at cluster close was killed.

    A worker that has loaded the classifier takes seconds to exit, longer than the nanny
    waits when the flow's cluster closes; every result was collected by then, so the kill
    loses nothing and a warning per worker would only alarm. Other warnings pass.
    """
    return "still alive after" not in record.getMessage()


def local_cluster(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of the local Dask cluster: one process with one thread per worker
    (extraction and the encoder are CPU-bound and hold the GIL), on loopback only."""
    return {
        "n_workers": settings.dask_workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,  # no web dashboard: it would listen on every interface
    }


@contextmanager
def on_runner(flow: Flow[P, R], settings: Settings) -> Iterator[Flow[P, R]]:
    """The flow with the task runner of these settings, ready to call.

    Without a Prefect server (PREFECT_API_URL unset) Prefect starts a temporary one per
    process; Dask workers are processes of their own and would each start another (seconds
    each, and several servers on one database). So for Dask this process starts its
    temporary server and the flow runs with its address in Prefect's settings, which travel
    with every task: the workers report there. Workers on other machines cannot reach a
    server on this machine's loopback: give them a real server with PREFECT_API_URL.
    """
    configured = flow.with_options(task_runner=task_runner(settings))
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if settings.task_runner != "dask" or PREFECT_API_URL.value():
        yield configured
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the one Prefect would start itself (stopped at exit)
    server.start()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield configured


def submitter(task: Task[P, R]) -> Callable[P, PrefectFuture[R]]:
    """``task.submit``, always from the Prefect context of now (call this in the flow).

    A task submitted while another task runs carries that task's run context, its
    parameters included, to the worker; the collect task's parameters are a database
    connection and a progress callback, which cannot be pickled. Submitted in the flow's
    context, a task carries only the flow's parameters (settings, paths, records).
    """
    context = contextvars.copy_context()

    def submit(*args: P.args, **kwargs: P.kwargs) -> PrefectFuture[R]:
        """Submit in a copy of the captured context (a context runs once at a time)."""
        return context.copy().run(lambda: task.submit(*args, **kwargs))

    return submit


def runs_on_dask() -> bool:
    """Whether the running flow's task runner is Dask (its cluster is not started here)."""
    return _dask_runner() is not None


def classify_window() -> int:
    """Classify batches to keep in flight: one with threads (the classifier runs in this
    process, one batch at a time as before); two per Dask worker thread, so that no worker
    waits while the flow stores a batch."""
    runner = _dask_runner()
    if runner is None:
        return 1
    return 2 * max(1, sum(runner.client.nthreads().values()))


def _dask_runner() -> Any:
    """The running flow's DaskTaskRunner, None for another runner or outside a flow."""
    from prefect.context import FlowRunContext

    # A DaskTaskRunner exists only once prefect_dask is imported: a thread-pool run does
    # not import it (about a second) just to find out.
    module = sys.modules.get("prefect_dask.task_runners")
    context = FlowRunContext.get()
    if module is None or context is None:
        return None
    runner = context.task_runner
    return runner if isinstance(runner, module.DaskTaskRunner) else None


class FlowProgress:
    """Progress bars drawn by the flow's own process, that travel to Dask workers as quiet
    ones.

    Flow parameters go with every task sent to a Dask worker, pickled (after Prefect turns
    dataclasses into dicts): a terminal console cannot be pickled, and a worker has no
    terminal to draw on. So this wraps a Progress instead of being one.
    """

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def step(self, name: str, total: int | None) -> AbstractContextManager[Callable[[int], None]]:
        """The wrapped Progress's bar."""
        return self.progress.step(name, total)

    def __reduce__(self) -> tuple[Callable[[], Progress], tuple[()]]:
        return (Progress.quiet, ())


def flow_progress(progress: Progress | None) -> FlowProgress | None:
    """``progress`` as a flow parameter that can travel to Dask workers."""
    return None if progress is None else FlowProgress(progress)
