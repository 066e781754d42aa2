"""Precision and recall of the "is this article about migration" decision on labelled texts.

Two sets, measured separately because they answer different questions:

* ``demo``: the bundled demo newsroom (``pipeline/demo/articles/*.yaml``, fictional, written and
  labelled by the project). Texts are built from the YAML as the newsroom renders them (title;
  lead and body paragraphs, one a line), without starting the server or the crawler.
* ``fixtures``: real news pages from ``../shared/fixtures/extraction`` (German, Spanish, Italian,
  Polish, Portuguese outlets), labelled by hand in ``benchmarks/data/relevance_fixtures.jsonl``.
  That file holds only each page's path, publisher, URL, text language, label and a one-line
  reason: the page texts are the publishers' (test use only) and are read from ``../shared`` at
  run time. Fresh clones have no ``../shared``; the set is then skipped with a message.

Neither set is used for training or for choosing thresholds; this script only measures.
Usage (from the repository root)::

    .venv/bin/python benchmarks/relevance.py [--no-fixtures] [--shared DIR] [--from-html]

The last line printed is a one-line JSON summary.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(ROOT))

from pipeline.records import Document  # noqa: E402

LABELS = Path(__file__).parent / "data" / "relevance_fixtures.jsonl"
FIXTURES = Path("fixtures") / "extraction"
DEMO_DAY = date(2026, 1, 5)  # any fixed day: the texts do not depend on it


@dataclass(frozen=True)
class Item:
    """One labelled text."""

    doc: Document
    gold: bool
    source: str  # outlet (demo) or publisher (fixtures)


@dataclass(frozen=True)
class Result:
    """An item with the classifier's decision."""

    item: Item
    predicted: bool
    score: float


def demo_items() -> list[Item]:
    """Every demo newsroom article with its authored ``migration`` label."""
    from pipeline.demo.newsroom import load_outlets

    items = []
    # The base URL only completes the feed addresses in sources/demo.yaml; nothing is served.
    for outlet in load_outlets(today=DEMO_DAY, base_url="http://127.0.0.1:8765"):
        for a in outlet.articles:
            # What the extractor keeps of an article page: the lead and the body paragraphs,
            # one a line; the headline is the Article's title.
            text = "\n".join(p for p in (a.teaser, *a.body) if p.strip())
            doc = Document(
                id=f"{outlet.source.id}/{a.slug}",
                lang=outlet.source.lang,
                text=text,
                title=a.title,
            )
            items.append(Item(doc, a.migration, outlet.source.id))
    return items


def load_labels(path: Path = LABELS) -> list[dict[str, Any]]:
    """The hand labels of the fixture pages (no texts)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def expected_text(folder: Path, entry: dict[str, Any]) -> tuple[str, str]:
    """(title, text) of a fixture page from its expected extraction (summary + sections)."""
    data = json.loads((folder / entry["expected"]).read_text(encoding="utf-8"))
    version = data[entry["version_key"]]
    body = version.get("body") or {}
    paragraphs = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        paragraphs += section.get("paragraphs") or []
    return str(version.get("title") or ""), "\n".join(p for p in paragraphs if p.strip())


def extracted_text(folder: Path, entry: dict[str, Any], lang: str) -> tuple[str, str, str]:
    """(title, text, detected language) as the pipeline's own extractor gets them from the HTML."""
    from pipeline.extract import extract_article
    from pipeline.records import FetchedPage

    html = gzip.decompress((folder / entry["html"]).read_bytes()).decode("utf-8", "replace")
    page = FetchedPage(
        source_id=entry["publisher"],
        url=entry["url"],
        requested_url=entry["url"],
        html=html,
        encoding="utf-8",
        fetched_at=datetime.now(UTC),
    )
    article = extract_article(page, declared_lang=lang)
    return article.title, article.text, article.lang


def fixture_items(shared: Path, from_html: bool = False) -> tuple[list[Item], str | None]:
    """The labelled real pages, or ([], why) when ../shared or a page is missing."""
    folder = shared / FIXTURES
    index_path = folder / "index.json"
    if not index_path.exists():
        return [], (
            f"fixture set skipped: {index_path} not found (../shared is not part of a fresh "
            "clone; pass --shared DIR to point at it, or --no-fixtures)"
        )
    index = {e["html"]: e for e in json.loads(index_path.read_text(encoding="utf-8"))}
    items, missing = [], []
    for label in load_labels():
        entry = index.get(label["html"])
        if entry is None or not (folder / entry["html"]).exists():
            missing.append(label["html"])
            continue
        lang = label["lang"]
        if from_html:
            title, text, lang = extracted_text(folder, entry, lang)
        else:
            title, text = expected_text(folder, entry)
        doc = Document(id=label["html"], lang=lang, text=text, title=title)
        items.append(Item(doc, bool(label["migration"]), label["publisher"]))
    if missing:
        return items, f"{len(missing)} labelled page(s) not found under {folder}: {missing}"
    return items, None


def prf(results: Iterable[Result]) -> dict[str, Any]:
    """Counts, precision, recall and F1 of a group of results (None where undefined)."""
    rs = list(results)
    tp = sum(r.item.gold and r.predicted for r in rs)
    fp = sum(r.predicted and not r.item.gold for r in rs)
    fn = sum(r.item.gold and not r.predicted for r in rs)
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r else None
    if f1 is None and p is not None and r is not None:
        f1 = 0.0
    return {
        "n": len(rs),
        "gold_pos": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": len(rs) - tp - fp - fn,
        "precision": None if p is None else round(p, 3),
        "recall": None if r is None else round(r, 3),
        "f1": None if f1 is None else round(f1, 3),
    }


def _num(value: float | None) -> str:
    """A score, or n/a where it is undefined (no predicted or no gold positives)."""
    return "  n/a" if value is None else f"{value:.3f}"


def line(name: str, s: dict[str, Any]) -> str:
    """One table row."""
    return (
        f"  {name:<10} n={s['n']:>3}  gold+={s['gold_pos']:>3}  TP={s['tp']:>3}  FP={s['fp']:>3}"
        f"  FN={s['fn']:>3}  TN={s['tn']:>3}  P={_num(s['precision'])}  R={_num(s['recall'])}"
        f"  F1={_num(s['f1'])}"
    )


def report(name: str, results: Sequence[Result]) -> dict[str, Any]:
    """Print one set's scores, per language, and every error; return its summary."""
    total = prf(results)
    print(f"\n== {name}: {len(results)} texts")
    print(line("all", total))
    per_lang = {}
    for lang in sorted({r.item.doc.lang for r in results}):
        per_lang[lang] = prf(r for r in results if r.item.doc.lang == lang)
        print(line(lang, per_lang[lang]))
    errors = [r for r in results if r.predicted != r.item.gold]
    print(f"  errors ({len(errors)}):" if errors else "  errors: none")
    for r in sorted(errors, key=lambda r: (r.item.gold, r.item.doc.lang, r.item.doc.id)):
        kind = "FN" if r.item.gold else "FP"
        title = r.item.doc.title.replace("\n", " ")[:90]
        print(
            f"    {kind} {r.item.doc.id}  lang={r.item.doc.lang}  gold={r.item.gold}"
            f"  score={r.score:.3f}  {title}"
        )
    return {
        **total,
        "per_lang": {
            k: {x: v[x] for x in ("n", "tp", "fp", "fn", "tn", "f1")} for k, v in per_lang.items()
        },
    }


def classify(items: Sequence[Item]) -> list[Result]:
    """Run the configured classifier on the items' documents."""
    from pipeline.config import Settings
    from pipeline.runtime import load_classifier

    classifier = load_classifier(Settings())
    framings = classifier.classify([i.doc for i in items])
    if len(framings) != len(items):
        raise RuntimeError(f"classifier returned {len(framings)} results for {len(items)} texts")
    out = []
    for item, framing in zip(items, framings, strict=True):
        if framing.article_id != item.doc.id:
            raise RuntimeError(f"result for {framing.article_id} where {item.doc.id} was expected")
        out.append(Result(item, bool(framing.migration), float(framing.migration_score)))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Measure both sets; the last line is a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-fixtures", action="store_true", help="demo newsroom set only")
    parser.add_argument(
        "--shared",
        type=Path,
        default=ROOT.parent / "shared",
        help="folder holding fixtures/extraction (default: ../shared next to the repository)",
    )
    parser.add_argument(
        "--from-html",
        action="store_true",
        help="fixtures: extract title/text/language from the HTML with the pipeline's extractor "
        "instead of reading the expected extraction",
    )
    args = parser.parse_args(argv)

    sets: dict[str, list[Item]] = {"demo": demo_items()}
    skipped = None
    if args.no_fixtures:
        skipped = "fixture set skipped: --no-fixtures"
    else:
        fixtures, why = fixture_items(args.shared, from_html=args.from_html)
        if fixtures:
            sets["fixtures"] = fixtures
        if why:
            skipped = why
    if skipped:
        print(skipped)

    started = time.perf_counter()
    all_items = [i for items in sets.values() for i in items]
    results = classify(all_items)
    seconds = time.perf_counter() - started
    print(f"classified {len(all_items)} texts in {seconds:.1f} s")

    summary: dict[str, Any] = {}
    start = 0
    for name, items in sets.items():
        summary[name] = report(name, results[start : start + len(items)])
        start += len(items)
    summary["skipped"] = skipped
    summary["text_source"] = "html" if args.from_html else "expected"
    print()
    print(json.dumps(summary, ensure_ascii=False, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
