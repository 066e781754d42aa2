"""``framewatch serve``: the scheduled deployments, made from ``pipeline.schedule.plan``.

Only wiring: each planned job becomes a Prefect deployment with the configured retries,
timeout and schedule; writers share one global concurrency limit; classify starts when an
ingest run completes. Settings are not flow parameters (Prefect stores parameters in its
database, secrets masked): each run reads them from the environment ``serve`` runs in.
"""

from __future__ import annotations

from typing import Any, cast

from prefect import Flow, serve
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron

from flows.classify import classify_flow
from flows.health import health_flow
from flows.ingest import ingest_flow
from flows.report import report_flow
from pipeline.config import Settings
from pipeline.runtime import task_runner
from pipeline.schedule import WRITER_LIMIT, Job, plan
from pipeline.sources import load_sources

FLOWS: dict[str, Flow[Any, Any]] = {
    "ingest": ingest_flow,
    "classify": classify_flow,
    "report": report_flow,
    "health": health_flow,
}
# A new hourly ingest while the last one still runs is skipped, not queued: it would
# only find what the running one is fetching.
ONE_AT_A_TIME = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """Every planned job as a deployment ready to serve."""
    jobs = plan(settings, load_sources(settings.sources_file))
    return [deployment(job, settings) for job in jobs]


def deployment(job: Job, settings: Settings) -> RunnerDeployment:
    """One job: its flow with retries, timeout and task runner, its schedule, its trigger."""
    flow = FLOWS[job.flow].with_options(
        retries=settings.flow_retries,
        retry_delay_seconds=settings.flow_retry_delay,
        timeout_seconds=job.timeout_seconds,
        task_runner=task_runner(settings) if job.flow in ("ingest", "classify") else None,
    )
    made = flow.to_deployment(
        name=job.name,
        schedules=[Cron(job.cron, timezone=job.timezone)] if job.cron else None,
        parameters=parameters(job, settings),
        concurrency_limit=ONE_AT_A_TIME,
        triggers=[after(job.after)] if job.after else None,
        tags=["framewatch", job.flow],
        _sync=True,  # type: ignore[call-arg]  # also where a loop runs (async_dispatch)
    )
    return cast(RunnerDeployment, made)  # async_dispatch: the sync branch outside a loop


def parameters(job: Job, settings: Settings) -> dict[str, Any]:
    """The run parameters of a job (plain JSON: Prefect stores them)."""
    if job.flow == "report":
        pdf = settings.browser.exists()
        return {"cities": list(job.cities), "network": job.network, "last_week": True,
                "pdf": pdf, "timezone": job.timezone}  # fmt: skip
    if job.flow == "ingest":
        return {"sources_file": str(settings.sources_file), "classify": False,
                "writer_limit": WRITER_LIMIT}  # fmt: skip
    return {"writer_limit": WRITER_LIMIT}


def after(flow_name: str) -> DeploymentEventTrigger:
    """Start when a run of that flow completes (the event Prefect emits for it)."""
    # The related *deployment*, not the flow: a one-off `framewatch run` of the same flow
    # (which classifies itself) must not start the served classify.
    return DeploymentEventTrigger(
        expect={"prefect.flow-run.Completed"},
        match_related={"prefect.resource.role": "deployment",
                       "prefect.resource.name": flow_name},
    )  # fmt: skip


def ensure_writer_limit() -> None:
    """Create (or keep) the global limit of one writing run at a time."""
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(WRITER_LIMIT, 1)


def serve_all(settings: Settings) -> None:
    """Register the deployments and run their flows as they come due, until stopped."""
    ensure_writer_limit()
    serve(*deployments(settings), print_starting_message=False)
