"""Export the analyst views (schema ``v1``) as Hive-partitioned Parquet or CSV.

Each dataset lands in ``<out>/<dataset>/week=<ISO week>/city=<city>/data_0.parquet``, the
layout DuckDB (``read_parquet(..., hive_partitioning = true)``), pyarrow.dataset,
pandas, polars and Spark read as one table with ``week`` and ``city`` as columns, and which
lets them skip the weeks and cities a query does not ask for. DuckDB writes the files
itself (``COPY ... PARTITION_BY``): no row passes through Python.

Partition values are percent-encoded in folder names (``city=Gda%C5%84sk``,
``city=S%C3%A3o%20Paulo``); DuckDB, pyarrow, pandas and polars decode them back (the first
three are tested), Spark decodes byte by byte and garbles letters beyond ASCII
(docs/queries.md shows the repair). Articles without a publication date sit in
``week=unknown`` (the views' own value), never in the NULL partition
``__HIVE_DEFAULT_PARTITION__``, which pandas cannot read back.

A dataset is written into a hidden folder beside its target and then swapped in, so a
re-export replaces the previous one whole (no stale weeks, no duplicate files) and a failed
export leaves the previous one as it was.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import duckdb

Format = Literal["parquet", "csv"]
FORMATS: tuple[str, ...] = get_args(Format)

# The v1 views exported, each partitioned by week and city; v1.runs has neither (it is
# about collection, not coverage) and v1.api_info is one row: both stay in the database.
DATASETS: tuple[str, ...] = ("articles", "frames", "terms", "voices", "weekly_frames")
PARTITION_BY = ("week", "city")

# zstd compresses text columns better than DuckDB's default snappy, and every reader named
# above decodes it. (On the demo newsroom the files are small enough that Parquet's own
# metadata dominates and both codecs give the same size.)
COPY_OPTIONS: dict[str, str] = {
    "parquet": "FORMAT parquet, COMPRESSION zstd",
    "csv": "FORMAT csv, HEADER true",
}


@dataclass(frozen=True)
class ExportedDataset:
    """One dataset written: where, how many rows, how long it took and its size on disk."""

    name: str
    path: Path
    rows: int
    seconds: float
    bytes: int


def export(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    fmt: Format,
    datasets: Sequence[str] | None = None,
) -> list[ExportedDataset]:
    """Write the v1 datasets (default: all of DATASETS) under ``out``, one folder each.

    ``con`` may be read-only: COPY writes files, not the database. Raises ValueError for an
    unknown format or dataset before anything is written.
    """
    names = _check(fmt, datasets)
    out.mkdir(parents=True, exist_ok=True)
    return [_export_one(con, out, name, fmt) for name in names]


def _check(fmt: str, datasets: Sequence[str] | None) -> list[str]:
    """The datasets to write, after refusing an unknown format or dataset name."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}")
    names = list(datasets) if datasets is not None else list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset {unknown[0]!r}; one of: {', '.join(DATASETS)}")
    return names


def _export_one(con: duckdb.DuckDBPyConnection, out: Path, name: str, fmt: str) -> ExportedDataset:
    """Write one dataset into a hidden folder beside its target, then swap it in."""
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out))
    try:
        rows = _copy(con, name, staging / name, fmt)
        target = out / name
        _swap(staging / name, target, staging / "previous")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportedDataset(name, target, rows, time.perf_counter() - started, _size(target))


def _copy(con: duckdb.DuckDBPyConnection, name: str, folder: Path, fmt: str) -> int:
    """COPY one v1 view into a partitioned folder; return the rows written."""
    # The name comes from DATASETS (checked); the path is quoted as an SQL string literal,
    # since COPY takes no parameter for its target.
    target = str(folder).replace("'", "''")
    partition = ", ".join(PARTITION_BY)
    rows = con.execute(
        f"COPY (SELECT * FROM v1.{name}) TO '{target}'"
        f" ({COPY_OPTIONS[fmt]}, PARTITION_BY ({partition}))"
    ).fetchall()
    folder.mkdir(exist_ok=True)  # an empty view writes no partition, still a dataset
    return int(rows[0][0])


def _swap(new: Path, target: Path, previous: Path) -> None:
    """Put ``new`` at ``target``, moving what was there to ``previous`` (deleted later)."""
    if target.exists():
        target.rename(previous)
    new.rename(target)


def _size(folder: Path) -> int:
    """Bytes of the files under a folder."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
