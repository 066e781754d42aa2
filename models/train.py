"""Train the classifier heads from JSONL data: deterministic, on CPU, in minutes.

Data (see docs/model-card.md): the project's seed sentences in every language
(``models/data/seeds``), StereoImmigrants (Spanish parliamentary sentences with a
threat/victim/hero taxonomy) for frames, and IWG (German) plus a fixed sample of HatEval
(English) for hostility, from ``../shared/data/dev``. Thresholds are chosen on out-of-fold
predictions of the training data itself (grouped by speech for StereoImmigrants, so no speech
straddles folds); no evaluation data is looked at.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from models.encoder import Encoder
from models.heads import Head, Heads
from models.labels import load_labels

log = logging.getLogger(__name__)

SEEDS_DIR = Path(__file__).parent / "data" / "seeds"
HATEVAL_SAMPLE = 3000  # per-class balanced sample: enough signal, ~3 min less embedding
C_GRID = (0.03, 0.1, 0.3, 1.0)  # regularisation, chosen per head by out-of-fold log-loss
FOLDS = 5
# An article offers 10-20 sentences to the max-over-sentences rule, so a threshold that lets
# through 1 negative sentence in 20 would tag most articles. Frame thresholds are therefore
# kept at or above the point where at most MAX_SENTENCE_FPR of negative training sentences
# pass (out of fold), in addition to maximising F1.
MAX_SENTENCE_FPR = 0.01


@dataclass(frozen=True)
class Example:
    """One training sentence; None means 'this example says nothing about that target'."""

    id: str
    text: str
    lang: str
    source: str
    group_id: str  # examples sharing it stay in one CV fold
    labels: tuple[str, ...] | None
    unsure: tuple[str, ...]  # labels neither positive nor negative (StereoImmigrants' 'any')
    migration: bool | None
    hostile: bool | None


def _jsonl(path: Path) -> Iterable[dict[str, Any]]:
    """Rows of a JSONL file."""
    with path.open(encoding="utf-8") as fh:
        yield from (json.loads(line) for line in fh if line.strip())


def load_seeds(folder: Path = SEEDS_DIR) -> list[Example]:
    """The project's own seed sentences, all languages."""
    out = []
    for path in sorted(folder.glob("*.jsonl")):
        for r in _jsonl(path):
            out.append(
                Example(
                    r["id"],
                    r["text"],
                    r["lang"],
                    "seed",
                    r["id"],
                    tuple(r.get("labels", [])),
                    (),
                    bool(r["migration"]),
                    bool(r.get("hostile", False)),
                )
            )
    return out


def load_stereoimmigrants(path: Path) -> list[Example]:
    """StereoImmigrants: frames; stereotype sentences also count as migration-relevant."""
    return [
        Example(
            r["id"],
            r["text"],
            "es",
            "stereoimmigrants",
            f"si-{r['doc_id']}",
            tuple(r.get("labels", [])),
            tuple(r.get("labels_any", [])),
            True if r["group"] != "none" else None,
            None,
        )
        for r in _jsonl(path)
    ]


def load_hostility(iwg: Path, hateval: Path, sample: int = HATEVAL_SAMPLE) -> list[Example]:
    """IWG (all) and a balanced, hash-ordered (so: fixed) sample of HatEval."""
    out = [
        Example(r["id"], r["text"], "de", "iwg", r["id"], None, (), None, bool(r["hostile"]))
        for r in _jsonl(iwg)
    ]
    rows = sorted(_jsonl(hateval), key=lambda r: hashlib.sha1(r["id"].encode()).hexdigest())
    for flag in (True, False):
        picked = [r for r in rows if bool(r["hostile"]) is flag][: sample // 2]
        out += [
            Example(r["id"], r["text"], "en", "hateval", r["id"], None, (), None, flag)
            for r in picked
        ]
    return out


def load_training_data(dev_dir: Path | None) -> list[Example]:
    """Seeds always; the shared development sets when the folder is there."""
    examples = load_seeds()
    if dev_dir is not None and dev_dir.exists():
        examples += load_stereoimmigrants(dev_dir / "stereoimmigrants_train.jsonl")
        examples += load_hostility(
            dev_dir / "iwg_refugees_de.jsonl", dev_dir / "hateval_en_train.jsonl"
        )
    else:
        log.warning("no development data at %s: training on seed sentences only", dev_dir)
    return examples


def embed_cached(
    encoder: Encoder,
    texts: Sequence[str],
    cache: Path,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embeddings ('query: ' prefix, as e5 asks for classification), cached per text."""
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    stored: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache) as npz:
            stored = dict(zip(npz["keys"].tolist(), npz["vectors"], strict=True))
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in stored}.items())
    if missing:
        vectors = encoder.encode([t for _, t in missing], kind="query", progress=progress)
        stored.update(zip([k for k, _ in missing], vectors, strict=True))
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, keys=np.array(list(stored)), vectors=np.stack(list(stored.values())))
    return np.stack([stored[k] for k in keys]) if keys else np.zeros((0, encoder.dim), np.float32)


def _metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and false-positive rate of boolean predictions."""
    tp = float(np.sum(pred & y))
    prec = tp / max(1.0, float(pred.sum()))
    rec = tp / max(1.0, float(y.sum()))
    fpr = float(np.sum(pred & ~y)) / max(1.0, float((~y).sum()))
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {
        "f1": round(f1, 4),
        "precision": round(prec, 4),
        "recall": round(rec, 4),
        "fpr": round(fpr, 4),
    }


def _best_threshold(
    y: np.ndarray, p: np.ndarray, max_fpr: float | None
) -> tuple[float, dict[str, float]]:
    """The F1-maximising threshold on out-of-fold probabilities, raised until the
    false-positive rate is at most ``max_fpr`` when one is given."""
    grid = np.round(np.arange(0.05, 0.981, 0.005), 3)
    best = max(grid, key=lambda t: (_metrics(y, p >= t)["f1"], -t))
    if max_fpr is not None:
        best = next(
            (t for t in grid if t >= best and _metrics(y, p >= t)["fpr"] <= max_fpr), grid[-1]
        )
    return float(best), _metrics(y, p >= best)


def _fit(x: np.ndarray, y: np.ndarray, c: float, balanced: bool) -> tuple[np.ndarray, float]:
    """Standardise, fit, and fold the scaling into the weights (one dot product at run time)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if balanced else None)
    model.fit((x - mean) / scale, y)
    coef = model.coef_[0] / scale
    return coef, float(model.intercept_[0] - np.sum(coef * mean))


def _oof(
    x: np.ndarray, y: np.ndarray, groups: Sequence[str], c: float, balanced: bool
) -> np.ndarray:
    """Out-of-fold probabilities (grouped, stratified folds)."""
    oof = np.zeros(len(y))
    folds = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    for train_idx, test_idx in folds.split(x, y, groups):
        coef, intercept = _fit(x[train_idx], y[train_idx], c, balanced)
        oof[test_idx] = 1 / (1 + np.exp(-(x[test_idx] @ coef + intercept)))
    return oof


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary log-loss."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_head(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str],
    balanced: bool = False,
    max_fpr: float | None = None,
) -> Head:
    """Pick C and the threshold out of fold, then fit on all the data."""
    runs = {c: _oof(x, y, groups, c, balanced) for c in C_GRID}
    c = min(runs, key=lambda k: _log_loss(y, runs[k]))
    threshold, scores = _best_threshold(y.astype(bool), runs[c], max_fpr)
    coef, intercept = _fit(x, y, c, balanced)
    metrics: dict[str, Any] = {
        **scores,
        "C": c,
        "positives": int(y.sum()),
        "examples": len(y),
        "cv": "out-of-fold, 5 grouped folds",
    }
    return Head(name, coef, intercept, threshold, metrics)


def _target(
    examples: Sequence[Example], pick: Callable[[Example], bool | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the examples that say something about a target, and its 0/1 values."""
    values = [(i, pick(e)) for i, e in enumerate(examples)]
    kept = [(i, v) for i, v in values if v is not None]
    return np.array([i for i, _ in kept], dtype=int), np.array([bool(v) for _, v in kept])


def _frame_pick(code: str) -> Callable[[Example], bool | None]:
    """Target function for one frame label."""

    def pick(e: Example) -> bool | None:
        if e.labels is None or code in e.unsure:
            return None
        return code in e.labels

    return pick


def train_heads(
    encoder: Encoder,
    examples: Sequence[Example],
    cache_dir: Path,
    progress: Callable[[int], None] | None = None,
) -> Heads:
    """Embed every example once, then fit every head."""
    cache = cache_dir / "embeddings" / f"{_slug(encoder.version)}.npz"
    x = embed_cached(encoder, [e.text for e in examples], cache, progress)
    groups = [e.group_id for e in examples]

    def head(name: str, pick: Callable[[Example], bool | None], **kw: Any) -> Head:
        idx, y = _target(examples, pick)
        return fit_head(name, x[idx], y, [groups[i] for i in idx], **kw)

    frames = {
        code: head(code, _frame_pick(code), max_fpr=MAX_SENTENCE_FPR)
        for code in load_labels().codes
    }
    return Heads(
        encoder_version=encoder.version,
        frames=frames,
        # Balanced: the ratio of migration to other sentences in our training data reflects
        # how the data was collected (mostly migration sources), not local news.
        migration=head("migration", lambda e: e.migration, balanced=True),
        hostile=head("hostile", lambda e: e.hostile),
        meta=_meta(examples),
    )


def _slug(text: str) -> str:
    """A file-name-safe form of a version string."""
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in text)


def _meta(examples: Sequence[Example]) -> dict[str, Any]:
    """Provenance: what the heads were trained on, when, how."""
    counts: dict[str, int] = {}
    for e in examples:
        key = f"{e.source}:{e.lang}"
        counts[key] = counts.get(key, 0) + 1
    return {
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": "make heads  (framewatch train --out models/heads)",
        "examples": dict(sorted(counts.items())),
        "method": "logistic regression (standardised; C from a grid by out-of-fold log-loss) "
        "per head on frozen e5 'query:' embeddings; threshold = max out-of-fold F1 "
        f"(StratifiedGroupKFold, 5), frames raised to sentence FPR <= {MAX_SENTENCE_FPR}",
    }
