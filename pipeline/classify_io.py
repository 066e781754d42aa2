"""``framewatch classify``: JSONL texts in, JSONL framings out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.classify import Classifier
from pipeline.language import detect_language
from pipeline.records import Document, Framing


def read_documents(path: Path) -> list[Document]:
    """Input lines {"id", "text", "lang"?}; a missing language is detected."""
    docs = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "text" not in row:
                raise ValueError(f"{path}:{number}: no 'text' field")
            text = str(row["text"])
            lang = str(row.get("lang") or detect_language(text) or "xx").lower()
            docs.append(Document(id=str(row.get("id", number)), lang=lang, text=text))
    return docs


def framing_json(f: Framing) -> dict[str, Any]:
    """The output line of one framing: evidence (with the words that carry the frame) for
    assigned labels only, lexicon hits and quotations with their speakers."""
    return {
        "id": f.article_id,
        "lang": f.lang,
        "migration": f.migration,
        "migration_score": round(f.migration_score, 4),
        "frames": f.frames,
        "labels": list(f.labels),
        "group": f.group,
        "hostile": round(f.hostile, 4),
        "evidence": [
            {
                "label": e.label,
                "score": e.score,
                "start": e.start,
                "end": e.end,
                "text": e.text,
                "cues": [
                    {
                        "text": c.text,
                        "start": c.start,
                        "end": c.end,
                        "weight": c.weight,
                        "source": c.source,
                    }
                    for c in e.cues
                ],
            }
            for e in f.evidence
            if e.label in f.labels
        ],
        "evidence_counts": {k: v for k, v in f.evidence_counts.items() if k in f.labels},
        "terms": [
            {
                "kind": t.kind,
                "term": t.term,
                "start": t.start,
                "end": t.end,
                "text": t.text,
                "alternatives": list(t.alternatives),
            }
            for t in f.terms
            if t.kind != "migration_term"
        ],
        "quotes": [
            {
                "text": q.text,
                "start": q.start,
                "end": q.end,
                "speaker": q.speaker,
                "speaker_category": q.speaker_category,
            }
            for q in f.quotes
        ],
        "model_version": f.model_version,
    }


def classify_file(src: Path, dst: Path, classifier: Classifier) -> int:
    """Classify every line of ``src`` into ``dst``; return the count."""
    docs = read_documents(src)
    framings = classifier.classify(docs)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", encoding="utf-8") as fh:
        for f in framings:
            fh.write(json.dumps(framing_json(f), ensure_ascii=False) + "\n")
    return len(framings)
