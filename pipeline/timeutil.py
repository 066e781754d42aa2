"""Naive/aware UTC conversions: DuckDB TIMESTAMP columns hold UTC without a zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """An aware UTC datetime; a naive one (read from a TIMESTAMP column) is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@overload
def naive_utc(value: datetime) -> datetime: ...
@overload
def naive_utc(value: None) -> None: ...
def naive_utc(value: datetime | None) -> datetime | None:
    """Naive UTC for a TIMESTAMP column; a naive value is taken as UTC already."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def utc_now() -> datetime:
    """Naive UTC now, as TIMESTAMP columns store it."""
    return datetime.now(UTC).replace(tzinfo=None)
