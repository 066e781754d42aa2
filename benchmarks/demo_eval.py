"""Measure the classifier on the demo newsroom's gold labels (article level).

The demo articles were written and labelled by the project (frames per article, codebook in
../shared/notes/taxonomy.md) and are NEVER used for training or threshold choice; this script
only measures. Usage, after `framewatch demo`:

    .venv/bin/python benchmarks/demo_eval.py [--db data/demo.duckdb]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb
import yaml

from models.labels import load_labels

ARTICLES = Path(__file__).parents[1] / "pipeline" / "demo" / "articles"


def gold() -> dict[tuple[str, str], tuple[bool, set[str]]]:
    """(outlet, slug) -> (migration, frames) as authored."""
    out = {}
    for path in sorted(ARTICLES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for a in data["articles"]:
            out[(data["outlet"], a["slug"])] = (bool(a["migration"]), set(a.get("frames") or []))
    return out


def predictions(db: Path) -> dict[tuple[str, str], tuple[bool, set[str]]]:
    """(outlet, slug) -> (is_migration, assigned frames) from the database."""
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT a.source_id, a.url, a.is_migration, list(f.frame) FILTER (WHERE f.assigned)"
        " FROM articles a LEFT JOIN article_frames f ON f.article_id = a.id GROUP BY ALL"
    ).fetchall()
    return {
        (s, u.rsplit("/", 1)[-1].split(".html")[0]): (bool(m), set(fs or []))
        for s, u, m, fs in rows
    }


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": round(p, 3),
        "recall": round(r, 3),
        "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0,
        "support": tp + fn,
    }


def main() -> None:
    """Print relevance and per-frame scores; last line JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=Path("data/demo.duckdb"))
    args = parser.parse_args()
    g, p = gold(), predictions(args.db)
    keys = sorted(set(g) & set(p))
    rel = prf(
        sum(g[k][0] and p[k][0] for k in keys),
        sum(p[k][0] and not g[k][0] for k in keys),
        sum(g[k][0] and not p[k][0] for k in keys),
    )
    print(f"articles compared: {len(keys)} (gold {len(g)}, stored {len(p)})")
    print(f"relevance: {rel}")
    mig = [k for k in keys if g[k][0]]
    scores = {}
    for code in load_labels().codes:
        s = prf(
            sum(code in g[k][1] and code in p[k][1] for k in mig),
            sum(code in p[k][1] and code not in g[k][1] for k in mig),
            sum(code in g[k][1] and code not in p[k][1] for k in mig),
        )
        scores[code] = s
        print(f"{code:<24} {s}")
    macro = round(
        sum(s["f1"] for s in scores.values() if s["support"])
        / max(1, sum(1 for s in scores.values() if s["support"])),
        3,
    )
    print(f"frames macro-F1 over gold migration articles: {macro}")
    print(json.dumps({"relevance_f1": rel["f1"], "frames_macro_f1": macro}))


if __name__ == "__main__":
    main()
