"""Configuration: one pydantic-settings object, read from ``FRAMEWATCH_*`` variables.

Defaults run locally without any set-up: the database under ``data/``, reports under
``reports/``, built models under the user's cache directory (shared by every checkout).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    download_delay: float = Field(0.0, description="minimum seconds between requests to a host")
    max_retries: int = Field(2, description="retries of a 5xx answer or a timeout")
    retry_backoff: float = Field(
        1.0,
        description="seconds before a first retry, doubled for each further one (at most 60 s;"
        " a 429/503 answer's Retry-After may ask for longer, also capped at 60 s)",
    )
    max_redirects: int = Field(5, description="redirects followed per request")
    refetch: bool = Field(False, description="fetch article URLs already stored again")
    feed_full_fetch_hours: float = Field(
        24.0, description="fetch a feed without validators when its last full fetch is older"
    )
    feed_disable_after: int = Field(
        48, description="consecutive failures after which a feed is only probed, not polled"
    )
    feed_probe_days: float = Field(7.0, description="how often a disabled feed is probed")
    raw_html_maxsize: int = Field(
        5 * 1024 * 1024, description="raw HTML larger than this is not kept (bytes)"
    )
    raw_html_retention_days: int = Field(
        180, description="raw HTML older than this is dropped (0 keeps it forever)"
    )
    extract_workers: int = Field(0, description="extraction processes; 0 = one per core")
    batch_size: int = Field(32, description="encoder batch size")
    # Outputs people read: report, alerts, dashboard, training packs (issue 5).
    counter_bank: Path | None = Field(
        None, description="counter-narrative bank YAML (default: the bundled starter bank)"
    )
    browser: Path = Field(
        Path("/usr/bin/chromium"), description="Chromium for PDF reports (skipped when absent)"
    )
    smtp_host: str | None = Field(None, description="SMTP server for alert e-mails")
    smtp_port: int = Field(587, description="SMTP port")
    smtp_user: str | None = Field(None, description="SMTP login, when the server wants one")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_starttls: bool = Field(True, description="upgrade the SMTP connection with STARTTLS")
    alert_from: str = Field("framewatch@localhost", description="sender of alert e-mails")
    alert_to: list[str] = Field(default_factory=list, description="recipients of alert e-mails")
    # SecretStr: whoever has a Slack/Teams webhook URL can post, and Prefect stores flow
    # parameters (these settings) in its database, masking only secrets.
    webhook_url: SecretStr | None = Field(
        None, description="webhook for alerts (Slack, Teams, JSON); a secret"
    )
    webhook_format: Literal["slack", "teams", "json"] = Field(
        "slack", description="payload shape the webhook expects"
    )
    dashboard_host: str = Field("127.0.0.1", description="address the dashboard binds")
    dashboard_port: int = Field(8050, description="port of the dashboard")
    dashboard_token: SecretStr | None = Field(
        None, description="login token; required when the dashboard binds beyond loopback"
    )
    # Unattended operation (issue 6): schedules, the single writer, retention, scale-out.
    sources_file: Path = Field(
        Path("sources/epic-cities.yaml"), description="sources YAML the scheduled ingest reads"
    )
    ingest_cron: str = Field("0 * * * *", description="cron of the scheduled ingest (hourly)")
    health_cron: str = Field("30 6 * * *", description="cron of the daily source health check")
    report_cron: str = Field(
        "0 7 * * 1", description="cron of the weekly report, in each city's own time zone"
    )
    timezone: str = Field(
        "Europe/Berlin", description="IANA time zone of the ingest and health schedules"
    )
    city_timezones: dict[str, str] = Field(
        default_factory=dict,
        description="time zone per city where the country's default is wrong (e.g. Canaries)",
    )
    flow_retries: int = Field(2, description="retries of a failed scheduled flow run")
    flow_retry_delay: int = Field(
        300, description="seconds before a flow retry; task retries back off exponentially"
    )
    ingest_timeout_minutes: float = Field(
        50.0, description="an ingest run taking longer fails (and is retried next hour)"
    )
    report_timeout_minutes: float = Field(30.0, description="a report run taking longer fails")
    writer_wait_seconds: float = Field(
        600.0,
        description="how long a writer waits for readers holding the database file"
        " before it gives up",
    )
    snapshot: bool = Field(
        True,
        description="after each write, copy the database to <db>.snapshot.duckdb for readers"
        " (report, dashboard, sql) that find the file locked by a running ingest",
    )
    text_retention_days: int = Field(
        365,
        description="full texts fetched longer ago than this are dropped; headlines, frame"
        " statistics and short evidence excerpts stay (0 keeps them forever)",
    )
    excerpt_chars: int = Field(
        240, description="longest evidence excerpt kept after a text is dropped"
    )
    prefect_port: int = Field(
        4200,
        description="port of the local Prefect server `framewatch serve` starts when"
        " PREFECT_API_URL is not set (its UI is on the same port)",
    )
    ops_lang: str = Field(
        "en", description="language of operators' notices (failed runs, source health)"
    )
    task_runner: Literal["threads", "dask"] = Field(
        "threads", description="where extraction and classification tasks run"
    )
    dask_address: str | None = Field(
        None, description="scheduler of an existing Dask cluster (tcp://host:8786)"
    )
    dask_workers: int = Field(
        2, description="workers of the local Dask cluster started when no address is given"
    )
