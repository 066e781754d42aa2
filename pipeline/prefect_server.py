"""A local Prefect server for ``framewatch serve`` when no PREFECT_API_URL is given.

Prefect's temporary in-process server (what a plain flow call starts) runs no scheduler:
deployments served against it would never get a scheduled run. So ``serve`` starts the real
server (``prefect server start``) on loopback as a child process, with its UI on the same
port, and stops it when serving stops. With PREFECT_API_URL set, that server is used.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

log = logging.getLogger(__name__)
START_TIMEOUT = 120.0  # seconds: a first start migrates a new database (~20 s measured here)


@contextmanager
def prefect_api(port: int, log_file: Path) -> Iterator[str]:
    """The API URL to use: PREFECT_API_URL when set, else a local server started here."""
    from prefect.settings import PREFECT_API_URL

    given = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()  # env or a profile
    if given:
        yield given
        return
    url = f"http://127.0.0.1:{port}/api"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_healthy(url, server, log_file)
            yield url
        finally:
            stop(server)


def wait_healthy(url: str, server: subprocess.Popen[bytes], log_file: Path) -> None:
    """Return when the API answers its health check; raise with the log's path otherwise."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Prefect server exited ({server.returncode}); see {log_file}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(server)
    raise RuntimeError(f"the Prefect server did not start in {START_TIMEOUT:.0f} s; see {log_file}")


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL after 15 s."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
