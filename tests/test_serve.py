"""``framewatch serve`` against a real local Prefect server.

One module-scoped server (``prefect server start`` on loopback, a fresh PREFECT_HOME):
registration is checked by reading the deployments back through Prefect's client; the
served process is checked by running its deployments: an ingest run on the demo newsroom
must start the classify deployment by its trigger, and both must complete.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.settings import PREFECT_API_URL, temporary_settings

from pipeline.config import Settings
from pipeline.demo.newsroom import running_newsroom
from pipeline.prefect_server import prefect_api
from pipeline.schedule import WRITER_LIMIT
from pipeline.sources import demo_sources_file

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real Prefect server with its own database; its API URL and home."""
    home = tmp_path_factory.mktemp("prefect-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREFECT_HOME", str(home))
        mp.delenv("PREFECT_API_URL", raising=False)
        with prefect_api(free_port(), home / "server.log") as url:
            yield url, home


@pytest.fixture(scope="module")
def newsroom_sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo sources with the running newsroom's address filled in."""
    with running_newsroom() as room:
        path = tmp_path_factory.mktemp("sources") / "demo.yaml"
        text = demo_sources_file().read_text(encoding="utf-8")
        path.write_text(text.replace("{newsroom}", room.url), encoding="utf-8")
        yield path


def test_serve_registers_every_deployment_with_its_schedule(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    from flows.serve import deployments, ensure_writer_limit

    url, _ = server
    settings = Settings(db=tmp_path / "fw.duckdb", sources_file=demo_sources_file())
    with temporary_settings({PREFECT_API_URL: url}):
        ensure_writer_limit()
        for d in deployments(settings):
            d.apply(_sync=True)  # type: ignore[call-arg]  # a loop may be running (Playwright)
        with get_client(sync_client=True) as client:
            found = {d.name: d for d in client.read_deployments()}
            limit = client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
            automations = client.read_automations()
    assert {"ingest", "classify", "health", "report-europe-berlin", "report-europe-lisbon"} <= set(
        found
    )
    ingest = found["ingest"]
    assert [(s.schedule.cron, s.schedule.timezone) for s in ingest.schedules] == [  # type: ignore[union-attr]
        ("0 * * * *", "Europe/Berlin")
    ]
    assert ingest.parameters["classify"] is False
    assert ingest.parameters["writer_limit"] == WRITER_LIMIT
    assert ingest.global_concurrency_limit is not None
    assert ingest.global_concurrency_limit.limit == 1
    assert ingest.concurrency_options is not None
    assert ingest.concurrency_options.collision_strategy == "CANCEL_NEW"
    lisbon = found["report-europe-lisbon"]
    assert lisbon.schedules[0].schedule.timezone == "Europe/Lisbon"  # type: ignore[union-attr]
    assert lisbon.parameters["cities"] == ["Lisbon"] and lisbon.parameters["last_week"]
    assert found["classify"].schedules == []
    classify_after = [
        a.trigger
        for a in automations
        if "prefect.flow-run.Completed" in a.trigger.expect  # type: ignore[union-attr]
    ]
    assert [t.match_related.root for t in classify_after] == [  # type: ignore[union-attr]
        {"prefect.resource.role": "deployment", "prefect.resource.name": "ingest"}
    ]  # a one-off `framewatch run` (no deployment) does not start it
    assert lisbon.parameters["timezone"] == "Europe/Lisbon"
    assert limit.limit == 1
    assert "settings" not in ingest.parameters  # secrets never go to Prefect's database


def wait_for(what: str, check, seconds: float = 300) -> object:  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}")


def test_served_ingest_runs_and_triggers_classify(
    server: tuple[str, Path], newsroom_sources: Path, tmp_path: Path
) -> None:
    url, home = server
    db = tmp_path / "served.duckdb"
    env = {
        **os.environ,
        "PREFECT_API_URL": url,
        "PREFECT_HOME": str(home),
        "FRAMEWATCH_DB": str(db),
        "FRAMEWATCH_STAGING": str(tmp_path / "staging"),
        "FRAMEWATCH_SOURCES_FILE": str(newsroom_sources),
        "FRAMEWATCH_INGEST_CRON": "0 0 1 1 *",  # nothing comes due during the test
        "FRAMEWATCH_ALLOW_PRIVATE": "true",  # the newsroom is on loopback
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "wb"),  # noqa: SIM115
        start_new_session=True,
    )
    try:
        with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
            by_name = DeploymentFilter(name=DeploymentFilterName(any_=["ingest"]))

            def registered() -> list[object]:  # by this serve, not by the test before
                found = client.read_deployments(deployment_filter=by_name)
                mine = str(newsroom_sources)
                return [d for d in found if d.parameters.get("sources_file") == mine]

            ingest = wait_for("serve to register", registered)
            run = client.create_flow_run_from_deployment(ingest[0].id)  # type: ignore[index, attr-defined]
            finished = wait_for("the ingest run", lambda: _final(client, run.id))
            assert finished == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
            classify = wait_for("a classify run", lambda: _runs_of(client, "framewatch-classify"))
            states = wait_for("classify to finish", lambda: _final(client, classify[0].id))
            assert states == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(60)
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        left, stored = con.execute(
            "SELECT count(*) FILTER (WHERE model_version IS NULL), count(*) FROM articles"
        ).fetchall()[0]
    assert stored >= 150 and left == 0


def _final(client, run_id) -> str | None:  # type: ignore[no-untyped-def]
    """The run's state type once it is final, else None."""
    state = client.read_flow_run(run_id).state
    return state.type.value if state is not None and state.is_final() else None


def _runs_of(client, flow_name: str) -> list[object]:  # type: ignore[no-untyped-def]
    """Flow runs of a flow by its name."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    flows = FlowFilter(name=FlowFilterName(any_=[flow_name]))
    return list(client.read_flow_runs(flow_filter=flows))
