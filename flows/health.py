"""The daily health flow: retention, then each outlet's health, with a digest to operators."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from pipeline import ops
from pipeline.config import Settings
from pipeline.health import source_health, worst_first
from pipeline.records import SourceHealth
from pipeline.timeutil import utc_now

maintain_task = task(name="retention", cache_policy=NO_CACHE)(ops.maintain)


@ops.framewatch_flow("framewatch-health")
def health_flow(
    settings: Settings | None = None, writer_limit: str | None = None
) -> list[SourceHealth]:
    """Drop what the retention settings say is too old, then flag outlets that need a look:
    a table in the Prefect UI every day, a notice only when an outlet is flagged."""
    settings, now = settings or Settings(), utc_now()
    with ops.writer(settings, writer_limit) as con:
        maintain_task(con, settings, now)
        rows = worst_first(source_health(con, now))
    create_table_artifact(
        [{"outlet": h.name, "city": h.city, "status": h.status, "flags": ", ".join(h.flags)}
         for h in rows],
        key="source-health",
        description=f"Source health on {now:%Y-%m-%d}",
        _sync=True,  # type: ignore[call-arg]  # Prefect's async_dispatch keyword
    )  # fmt: skip
    flagged = [h for h in rows if h.status != "ok"]
    if flagged:
        ops.send_notice(ops.health_notice(flagged, now.date(), settings.ops_lang), settings)
    return flagged
