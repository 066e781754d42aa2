"""Records for tests, with every field a test does not care about filled in plausibly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from models.labels import load_labels
from pipeline.records import Article, Evidence, Framing, TermHit

PUBLISHED = datetime(2026, 11, 20, 8, tzinfo=UTC)
FETCHED = datetime(2026, 11, 21, tzinfo=UTC)


def make_article(
    id: str,
    source_id: str = "s1",
    text: str = "Ein Text über die Stadt. " * 20,
    *,
    title: str | None = None,
    url: str | None = None,
    published_at: datetime | None = PUBLISHED,
    fetched_at: datetime = FETCHED,
    content_hash: str | None = None,
    author: str = "",
) -> Article:
    """A stored-looking German article, by default at http://<source_id>/<id>."""
    url = url or f"http://{source_id}/{id}"
    return Article(
        id=id,
        url=url,
        requested_url=url,
        canonical_url=url,
        source_id=source_id,
        lang="de",
        declared_lang="de",
        title=title or f"Titel {id}",
        text=text,
        author=author,
        published_at=published_at,
        date_source="feed",
        fetched_at=fetched_at,
        content_hash=content_hash or f"h{hash(text)}",
    )


def framing(
    article_id: str,
    text: str,
    frame: str | None,
    *,
    migration: bool = True,
    terms: Sequence[TermHit] = (),
    score: float = 0.9,
    model: str = "m1",
    sentence: str | None = None,
) -> Framing:
    """A German classification assigning ``frame`` (no frame when None): every label scored
    (``score`` for the frame, 0.05 for the rest) with ``sentence`` (default: the text's first
    line) as evidence, as the classifier stores it; a text that is not about migration gets
    no frames at all."""
    codes = load_labels().codes
    frames = {c: (score if c == frame else 0.05) for c in codes} if migration else {}
    sentence = sentence or text.split("\n", 1)[0]
    start = text.index(sentence)
    evidence = tuple(
        Evidence(c, s, start, start + len(sentence), sentence) for c, s in frames.items()
    )
    return Framing(
        article_id=article_id,
        lang="de",
        migration=migration,
        migration_score=0.9 if migration else 0.1,
        frames=frames,
        labels=(frame,) if frame else (),
        group=frame.split("_")[0] if frame else "none",
        hostile=0.2,
        evidence=evidence,
        terms=tuple(terms),
        model_version=model,
    )


def database_at(path: Path, version: int, rows: Sequence[str] = ()) -> None:
    """A database as the release with migrations up to ``version`` made it, with ``rows``
    (SQL statements) written in that old schema: the start of every upgrade test."""
    from pipeline.store import migrations

    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL)"
    )
    for number, name, sql in migrations():
        if number <= version:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, name])
    for sql in rows:
        con.execute(sql)
    con.close()
