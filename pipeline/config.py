"""Configuration: one pydantic-settings object, read from ``FRAMEWATCH_*`` variables.

Defaults run locally without any set-up: the database under ``data/``, reports under
``reports/``, built models under the user's cache directory (shared by every checkout).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache() -> Path:
    """The XDG cache directory for framewatch's built models."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "framewatch"


class Settings(BaseSettings):
    """Every knob of a run; the CLI and the flows read these, nothing else does."""

    model_config = SettingsConfigDict(env_prefix="FRAMEWATCH_", env_file=".env", extra="ignore")

    db: Path = Field(Path("data/framewatch.duckdb"), description="DuckDB database file")
    reports: Path = Field(Path("reports"), description="folder for weekly reports")
    staging: Path = Field(Path("data/staging"), description="crawl staging folder")
    model_cache: Path = Field(default_factory=_default_cache, description="built models")
    encoder: str = Field("e5-small", description="'e5-small' (bundled), a folder or a HF id")
    allow_download: bool = Field(False, description="let a HF model id download weights")
    device: str | None = Field(None, description="torch device; default cuda when present")
    backend: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="encoder backend: torch (float32), onnx (int8, CPU) or auto (torch on a GPU,"
        " else onnx); embeddings differ slightly, heads stay valid for both",
    )
    heads: Path | None = Field(None, description="classifier heads folder (default: bundled)")
    user_agent: str = Field(
        "framewatch/0.1 (+https://github.com/framewatch/framewatch; media monitoring research)",
        description="User-Agent sent by the crawler",
    )
    download_timeout: float = Field(10.0, description="seconds per request")
    download_maxsize: int = Field(10 * 1024 * 1024, description="largest page accepted, bytes")
    allow_private: bool = Field(False, description="fetch private/loopback addresses")
    concurrency_per_domain: int = Field(4, description="parallel requests per domain")
    batch_size: int = Field(32, description="encoder batch size")
