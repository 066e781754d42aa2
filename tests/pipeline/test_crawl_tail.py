"""PageTail: pages handed on as complete lines arrive; a torn line never becomes a page."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.crawl import PageTail
from pipeline.records import FetchedPage


def line(i: int) -> bytes:
    row = {
        "source_id": "s",
        "url": f"http://x/{i}",
        "requested_url": f"http://x/{i}",
        "html": "<p>ż</p>" * 10,
        "encoding": "utf-8",
        "fetched_at": "2026-11-22T10:00:00+00:00",
        "feed_title": "",
        "feed_published": None,
    }
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def test_complete_lines_are_handed_on_once_and_a_torn_line_waits(tmp_path: Path) -> None:
    path = tmp_path / "pages.jsonl"
    batches: list[list[FetchedPage]] = []
    tail = PageTail(path, batches.append)
    tail.poll()  # no file yet
    first, second = line(1), line(2)
    path.write_bytes(first + second[:15])  # the second line is still being written
    tail.poll()
    with path.open("ab") as fh:
        fh.write(second[15:] + line(3)[:-1])  # the third is torn (crawler killed)
    tail.poll()
    tail.poll()
    assert [[p.url for p in b] for b in batches] == [["http://x/1"], ["http://x/2"]]
    assert [p.url for p in tail.pages] == ["http://x/1", "http://x/2"]
    assert tail.pages[0].html.startswith("<p>ż</p>")
