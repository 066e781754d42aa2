"""Ingest throughput on the demo newsroom, stage by stage, with a baseline in the same run.

The baseline is the cheapest honest alternative for each stage measured on the same pages:
plain ``trafilatura.extract`` (no metadata, no dates, no language ID) for extraction, and
the lexicon alone (no encoder) for classification. Usage:

    .venv/bin/python benchmarks/ingest.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import trafilatura

from pipeline.runtime import prefect_defaults

prefect_defaults()  # before Prefect is imported: it reads its settings once

from flows.ingest import ingest_flow  # noqa: E402
from models.lexicon import get_lexicon  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.crawl import crawl  # noqa: E402
from pipeline.demo.newsroom import running_newsroom  # noqa: E402
from pipeline.sources import demo_sources_file  # noqa: E402
from pipeline.store import open_readonly  # noqa: E402


def main() -> None:
    """Run the flow once into a temporary database and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=Path(tmp) / "b.duckdb", staging=Path(tmp) / "staging")
        with running_newsroom() as room:
            summary = ingest_flow(demo_sources_file(), settings, room.url)
            # the flow deletes its staging files; crawl again for the baseline's pages
            pages = crawl(demo_sources_file(), Path(tmp) / "pages", settings, room.url).pages
        with open_readonly(settings.db) as con:
            rows = con.execute("SELECT lang, text FROM articles").fetchall()
    n = summary.articles_new
    print(f"articles: {n}; stage seconds: { {k: round(v, 1) for k, v in summary.seconds.items()} }")
    for stage in ("crawl+extract+store", "classify"):
        print(f"{stage:<19} {n / summary.seconds[stage]:8.1f} articles/s (framewatch)")
    start = time.monotonic()
    for page in pages:
        trafilatura.extract(page.html)
    print(
        f"{'extract':<9} {len(pages) / (time.monotonic() - start):8.1f} articles/s "
        "(baseline: plain trafilatura.extract)"
    )
    start = time.monotonic()
    for lang, text in rows:
        get_lexicon(lang).match(text)
    print(
        f"{'classify':<9} {len(rows) / (time.monotonic() - start):8.1f} articles/s "
        "(baseline: lexicon only, no encoder)"
    )
    total = sum(summary.seconds.values())
    print(f"end to end {n / total:.2f} articles/s over {total:.0f} s")


if __name__ == "__main__":
    main()
