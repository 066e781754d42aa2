"""One writer, many readers: the writer lock, waiting for readers, the readers' snapshot.

Every conflict here is between real processes on a real DuckDB file, because DuckDB's lock
is per process: a second connection inside one process would not show the problem.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline import store

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def holding(script: str) -> Iterator[subprocess.Popen[str]]:
    """Run a child Python script that prints 'ready' once it holds what it holds."""
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "ready", child.stderr.read() if child.stderr else line
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)


def writer_script(db: Path, seconds: float, snapshot: bool = False) -> str:
    """A child that writes one run row, then holds the writer connection for a while."""
    return f"""
        import time
        from pathlib import Path
        from pipeline import store
        with store.writing(Path({str(db)!r}), snapshot={snapshot}) as con:
            con.execute(
                "INSERT INTO runs (id, started_at, status) VALUES ('child', now(), 'running')"
            )
            print("ready", flush=True)
            time.sleep({seconds})
        """


def reader_script(db: Path, seconds: float) -> str:
    """A child that holds a read-only connection for a while."""
    return f"""
        import time
        from pathlib import Path
        from pipeline import store
        con = store.open_readonly(Path({str(db)!r}))
        print("ready", flush=True)
        time.sleep({seconds})
        con.close()
        """


def make_db(path: Path, runs: int = 1) -> None:
    """A database with ``runs`` completed run rows, and its snapshot."""
    with store.writing(path, snapshot=True) as con:
        for i in range(runs):
            con.execute(
                "INSERT INTO runs (id, started_at, status) VALUES (?, now(), 'completed')",
                [f"r{i}"],
            )


def test_a_second_writer_is_refused_at_once_with_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "fw.duckdb"
    make_db(db)
    with holding(writer_script(db, 30)) as child:
        started = time.monotonic()
        refused = pytest.raises(store.DatabaseBusy, match="another framewatch run")
        with refused as info, store.writing(db, wait_seconds=20):
            pass
        assert time.monotonic() - started < 5  # refused, not waited for
        assert str(child.pid) in str(info.value)


def test_two_cli_runs_give_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "fw.duckdb"
    make_db(db)
    env = {**os.environ, "FRAMEWATCH_DB": str(db), "FRAMEWATCH_STAGING": str(tmp_path / "st")}
    sources = ROOT / "sources" / "demo.yaml"
    with holding(writer_script(db, 60)):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "run", "--sources", str(sources)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0
    assert "another framewatch run is writing" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_readers_get_the_snapshot_while_a_writer_holds_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "fw.duckdb"
    make_db(db, runs=2)
    # the snapshot: the child's row is not in it
    with holding(writer_script(db, 30, snapshot=True)), store.open_readonly(db) as con:
        ids = sorted(r[0] for r in con.execute("SELECT id FROM runs").fetchall())
    assert ids == ["r0", "r1"]
    assert "reading the snapshot" in caplog.text


def test_without_a_snapshot_a_reader_is_told_to_wait(tmp_path: Path) -> None:
    db = tmp_path / "fw.duckdb"
    with store.writing(db):  # no snapshot made
        pass
    with (
        holding(writer_script(db, 30)),
        pytest.raises(store.DatabaseBusy, match="running ingest"),
    ):
        store.open_readonly(db)


def test_a_writer_waits_for_a_reader_and_then_writes(tmp_path: Path) -> None:
    db = tmp_path / "fw.duckdb"
    make_db(db)
    with holding(reader_script(db, 1.5)):
        started = time.monotonic()
        with store.writing(db, wait_seconds=30) as con:
            waited = time.monotonic() - started
            con.execute("INSERT INTO runs (id, started_at, status) VALUES ('w', now(), 'x')")
    assert 0.5 < waited < 25


def test_a_writer_gives_up_on_a_reader_that_stays_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "fw.duckdb"
    make_db(db)
    with (
        holding(reader_script(db, 30)),
        pytest.raises(store.DatabaseBusy, match="held open by another process"),
        store.writing(db, wait_seconds=1),
    ):
        pass


def test_a_killed_writer_leaves_no_lock_and_its_run_is_closed_by_the_next(tmp_path: Path) -> None:
    db = tmp_path / "fw.duckdb"
    make_db(db)
    with holding(writer_script(db, 60)) as child:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    with store.writing(db, wait_seconds=5) as con:  # the kernel dropped the lock
        assert store.recover_interrupted_runs(con) == ["child"]
        status, note, finished = con.execute(
            "SELECT status, note, finished_at FROM runs WHERE id = 'child'"
        ).fetchall()[0]
    assert (status, finished) == ("failed", None)
    assert note == store.INTERRUPTED_NOTE


def test_the_snapshot_holds_what_was_committed_and_replaces_the_old_one(tmp_path: Path) -> None:
    db = tmp_path / "fw.duckdb"
    make_db(db, runs=1)
    with store.writing(db, snapshot=True) as con:
        con.execute("INSERT INTO runs (id, started_at, status) VALUES ('new', now(), 'done')")
    snap = store.snapshot_path(db)
    assert not snap.with_name(snap.name + ".partial").exists()
    import duckdb

    with duckdb.connect(str(snap), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(2,)]


def test_a_scheduled_writer_queues_behind_a_manual_one(tmp_path: Path) -> None:
    db = tmp_path / "fw.duckdb"
    make_db(db)
    started = time.monotonic()
    with holding(writer_script(db, 1.5)), store.writing(db, 30, lock_wait=30) as con:
        waited = time.monotonic() - started  # for the first writer's 1.5 s, not refused
        con.execute("INSERT INTO runs (id, started_at, status) VALUES ('q', now(), 'x')")
    assert waited > 1.0


def run_ids(db: Path) -> list[str]:
    """The run ids a reader of ``db`` sees."""
    with store.open_readonly(db) as con:
        return sorted(r[0] for r in con.execute("SELECT id FROM runs").fetchall())


def test_readers_go_to_the_snapshot_as_soon_as_a_writer_holds_the_lock(tmp_path: Path) -> None:
    """A writer that holds the lock may be waiting for the file's readers: new readers must
    not keep it waiting, so they read the snapshot even though the file is still free."""
    db = tmp_path / "fw.duckdb"
    make_db(db, runs=1)  # the snapshot has r0
    with store.writing(db) as con:  # the file gets a row the snapshot lacks
        con.execute("INSERT INTO runs (id, started_at, status) VALUES ('late', now(), 'done')")
    with store.writer_lock(db):
        assert run_ids(db) == ["r0"]
    assert run_ids(db) == ["late", "r0"]
    # A killed writer's pid stays in the file: dead, or alive again in another process.
    for pid in (2147483646, os.getpid(), 0, 10**30):
        store.lock_path(db).write_text(f"{pid} 2026-01-01T00:00:00Z\n")
        assert not store.writer_active(db)
        assert run_ids(db) == ["late", "r0"]
