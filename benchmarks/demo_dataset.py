"""Write the demo newsroom's gold labels as an evaluation dataset for `framewatch eval`.

The demo articles are fictional and were written by the project, but no demo text is used
for training or for choosing thresholds, so they are a held-out, eight-language article set:

    .venv/bin/python benchmarks/demo_dataset.py > /tmp/demo.jsonl
    .venv/bin/framewatch eval --dataset /tmp/demo.jsonl --unit article
"""

from __future__ import annotations

import json
import sys

from benchmarks.relevance import DEMO_DAY, demo_items
from models.labels import load_labels
from pipeline.demo.newsroom import load_outlets


def main() -> None:
    """Print one JSON line per demo article: text, language, gold group, frames, relevance."""
    labels = load_labels()
    frames = {
        f"{o.source.id}/{a.slug}": a.frames
        for o in load_outlets(today=DEMO_DAY, base_url="http://127.0.0.1:8765")
        for a in o.articles
    }
    for item in demo_items():
        gold = frames[item.doc.id]
        row = {
            "id": item.doc.id,
            "text": f"{item.doc.title}\n{item.doc.text}",
            "lang": item.doc.lang,
            "group": labels.group_of(gold[0]) if gold else "none",
            "labels": list(gold),
            "migration": item.gold,
        }
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
