"""A killed run leaves the database consistent, and the next run completes it.

Two levels: a child process killed (SIGKILL) inside a store transaction (a crawl's, a
classify batch's), at a chosen point, proves the transaction boundary; a real ``framewatch
run`` killed with its whole process group after its first classify batch, then run again,
must end with the same database as an uninterrupted run: no partial article, no
duplicate, nothing lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import duckdb
import pytest

from flows.ingest import run_ingest
from pipeline import store
from pipeline.config import Settings
from pipeline.demo.newsroom import running_newsroom
from pipeline.sources import demo_sources_file
from tests.factories import make_article

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = 400
STORED = b"pipeline.ingest: stored the framings of"  # logged after each committed batch

KILLED_IN_TRANSACTION = """
    import os, signal
    from pathlib import Path
    from pipeline import store
    from tests.factories import make_article

    def die(*args, **kwargs):  # called after the articles and raw pages were written
        os.kill(os.getpid(), signal.SIGKILL)

    store._write_keys = die
    articles = [make_article(f"a{{i:04d}}", text=f"Text {{i}}. " * 300) for i in range({n})]
    with store.writing(Path({db!r})) as con:
        store.start_run(con, "killed", "test")
        store.store_crawl(con, "killed", articles, [])
"""


def test_a_kill_inside_the_store_transaction_leaves_none_of_the_batch(tmp_path: Path) -> None:
    db = tmp_path / "fw.duckdb"
    script = textwrap.dedent(KILLED_IN_TRANSACTION).format(n=ARTICLES, db=str(db))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=120)
    assert done.returncode == -signal.SIGKILL
    with duckdb.connect(str(db), read_only=True) as con:  # replays the WAL it left
        counts = [
            con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("articles", "article_signatures", "url_keys", "fetch_log")
        ]
        runs = con.execute("SELECT id, status FROM runs").fetchall()
    assert counts == [0, 0, 0, 0]  # the whole batch or nothing: nothing
    assert runs == [("killed", "running")]  # start_run was its own committed write
    articles = [make_article(f"a{i:04d}", text=f"Text {i}. " * 300) for i in range(ARTICLES)]
    with store.writing(db) as con:
        assert store.recover_interrupted_runs(con) == ["killed"]
        assert len(store.store_crawl(con, "again", articles, [])) == ARTICLES
        assert store.store_crawl(con, "third", articles, []) == []  # a rerun never duplicates
        assert con.execute("SELECT count(DISTINCT id), count(*) FROM articles").fetchall() == [
            (ARTICLES, ARTICLES)
        ]


KILLED_WHILE_SAVING_FRAMINGS = """
    import os, signal
    from pathlib import Path
    from pipeline import store
    from tests.factories import framing, make_article

    articles = [make_article(f"a{{i:04d}}", text=f"Text {{i}}.") for i in range({n})]
    with store.writing(Path({db!r})) as con:
        store.store_crawl(con, "run", articles, [])  # committed

    def die(*args, **kwargs):  # called after every classification row was written
        os.kill(os.getpid(), signal.SIGKILL)

    store.refresh_counted = die
    with store.writing(Path({db!r})) as con:
        store.save_framings(con, [framing(a.id, a.text, "threat_security") for a in articles])
"""


def test_a_kill_while_saving_a_classify_batch_leaves_it_unclassified(tmp_path: Path) -> None:
    db = tmp_path / "fw.duckdb"
    script = textwrap.dedent(KILLED_WHILE_SAVING_FRAMINGS).format(n=64, db=str(db))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=120)
    assert done.returncode == -signal.SIGKILL
    with duckdb.connect(str(db), read_only=True) as con:
        articles = con.execute(
            "SELECT count(*), count(model_version), count(*) FILTER (WHERE is_migration)"
            " FROM articles"
        ).fetchall()
        rows = [
            con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("article_frames", "article_terms", "article_evidence", "article_quotes")
        ]
    assert articles == [(64, 0, 0)]  # stored, and none of the batch classified
    assert rows == [0, 0, 0, 0]


def run_cli(db: Path, home: Path, newsroom: str, watched: bool = False) -> subprocess.Popen[bytes]:
    """``framewatch run`` on the demo sources into ``db``, in its own process group;
    ``watched`` runs it with debug logs on a pipe, for ``kill_while_classifying``."""
    env = {
        **os.environ,
        "FRAMEWATCH_DB": str(db),
        "FRAMEWATCH_STAGING": str(db.parent / "staging"),
        "FRAMEWATCH_SNAPSHOT": "false",
        # One classify batch in flight (Dask keeps several): the kill after the first
        # stored batch leaves the others undone.
        "FRAMEWATCH_TASK_RUNNER": "threads",
        "PREFECT_HOME": str(home),
    }
    command = [sys.executable, "-m", "pipeline.cli", *(["-v"] if watched else []), "run"]
    return subprocess.Popen(
        [*command, "--sources", str(demo_sources_file()), "--newsroom", newsroom],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if watched else subprocess.DEVNULL,
        start_new_session=True,  # the crawler and extraction workers die with it
    )


def kill_while_classifying(run: subprocess.Popen[bytes]) -> None:
    """SIGKILL the run's process group right after its first classified batch committed.

    The run logs each committed batch (``pipeline.ingest``, debug); the demo has several
    batches, so the kill lands with classified work stored and work left undone. (An
    earlier version guessed the moment from the write-ahead log's size, and sometimes
    killed inside the first batch.)
    """
    assert run.stderr is not None
    guard = threading.Timer(300, os.killpg, (run.pid, signal.SIGKILL))
    guard.start()  # a run that never gets there is killed, and the test fails below
    try:
        for line in run.stderr:
            if STORED in line:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait(30)
                return
    finally:
        guard.cancel()
        run.stderr.close()
    pytest.fail(f"the run ended (rc {run.wait(30)}) before it could be killed while classifying")


def snapshot(db: Path) -> dict[str, object]:
    """What must match between an uninterrupted run and a killed-and-rerun one."""
    with duckdb.connect(str(db), read_only=True) as con:
        q = con.execute
        return {
            "articles": q("SELECT id, url, title, text FROM articles ORDER BY id").fetchall(),
            "frames": q(
                "SELECT article_id, frame, assigned, round(score, 6) FROM article_frames"
                " ORDER BY ALL"
            ).fetchall(),
            "unclassified": q(
                "SELECT count(*) FROM articles WHERE model_version IS NULL"
            ).fetchall()[0][0],
            "raw_pages": q("SELECT count(*) FROM raw_pages").fetchall()[0][0],
        }


@pytest.mark.e2e
def test_a_killed_ingest_reruns_to_the_same_database(settings: Settings, tmp_path: Path) -> None:
    reference, crashed, home = tmp_path / "ref.duckdb", tmp_path / "crash.duckdb", tmp_path / "p"
    with running_newsroom() as room:  # one newsroom: same URLs, so same article ids
        uninterrupted = settings.model_copy(update={"db": reference, "staging": tmp_path / "s"})
        run_ingest(demo_sources_file(), uninterrupted, room.url)
        kill_while_classifying(run_cli(crashed, home, room.url, watched=True))
        with duckdb.connect(str(crashed), read_only=True) as con:  # consistent as killed
            partial = con.execute(
                "SELECT count(*) FILTER (WHERE model_version IS NOT NULL),"
                " count(*) FILTER (WHERE text = '' OR title IS NULL),"
                " count(*) - count(DISTINCT id),"
                " count(*) FILTER (WHERE is_migration),"
                " (SELECT count(DISTINCT article_id) FROM article_frames)"
                " FROM articles"
            ).fetchall()[0]
            status = con.execute("SELECT status FROM runs").fetchall()
        classified, empty, duplicates, migration, framed = partial
        assert empty == 0 and duplicates == 0
        assert migration == framed  # a migration article's classification and frames go together
        assert status == [("running",)]
        assert run_cli(crashed, home, room.url).wait(600) == 0
    before, after = snapshot(reference), snapshot(crashed)
    assert 0 < classified < len(after["articles"])  # killed with work left undone
    assert after == before
    with duckdb.connect(str(crashed), read_only=True) as con:
        runs = con.execute("SELECT status, note FROM runs ORDER BY started_at").fetchall()
    assert runs == [("failed", store.INTERRUPTED_NOTE), ("completed", None)]
