"""Train the classifier heads and measure them by cross-validation: deterministic, CPU, minutes.

``train_heads`` embeds every example once (cached), fits every head with models/fit.py and
returns the heads together with the cross-validation report (``cv.json``) that the model card
quotes and the evaluation gate pins. Every threshold and calibration is chosen out of fold on
the training data; no evaluation set is looked at.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.data import Example, digest
from models.encoder import Encoder
from models.fit import (
    FOLDS,
    TOP_K,
    Fitted,
    article_threshold,
    crossfit_documents,
    fit_group,
    fit_head,
)
from models.heads import GroupHead, Head, Heads
from models.labels import load_labels
from models.metrics import (
    GROUPS,
    confusion,
    expected_calibration_error,
    group_scores,
    label_scores,
    macro_f1,
    reliability,
    scores,
)

CV_FILE = "cv.json"


@dataclass(frozen=True)
class Trained:
    """The heads of one training run and their cross-validation report."""

    heads: Heads
    cv: dict[str, Any]


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
    elif progress:
        progress(len(texts))
    return np.stack([stored[k] for k in keys]) if keys else np.zeros((0, encoder.dim), np.float32)


def embedding_cache(encoder: Encoder, cache_dir: Path) -> Path:
    """One cache file per encoder weights and backend (int8 and fp32 embeddings differ)."""
    backend = getattr(encoder, "backend", "torch")
    return cache_dir / "embeddings" / f"{_slug(encoder.version)}-{backend}.npz"


def train_heads(
    encoder: Encoder,
    examples: Sequence[Example],
    cache_dir: Path,
    progress: Callable[[int], None] | None = None,
) -> Trained:
    """Embed every example once, fit every head, and report the cross-validated figures."""
    x = embed_cached(
        encoder, [e.text for e in examples], embedding_cache(encoder, cache_dir), progress
    )
    codes = load_labels().codes
    frames = {code: _fit_frame(code, x, examples) for code in codes}
    migration = _fit_binary("migration", x, examples, lambda e: e.migration, balanced=True)
    hostile = _fit_binary("hostile", x, examples, lambda e: e.hostile)
    group, group_logits, group_idx = _fit_groups(x, examples)
    heads = Heads(
        encoder_version=encoder.version,
        frames={c: f.head for c, f in frames.items()},
        # Balanced: the ratio of migration to other sentences in our training data reflects
        # how the data was collected (mostly migration sources), not local news.
        migration=migration.head,
        hostile=hostile.head,
        meta=_meta(examples),
        group=group,
    )
    cv = cv_report(examples, frames, migration, hostile, group, group_logits, group_idx)
    cv["seed_fit"] = _seed_fit(heads, x, examples)
    cv["encoder"] = {"version": encoder.version, "backend": getattr(encoder, "backend", "torch")}
    return Trained(heads, cv)


def _target(
    examples: Sequence[Example], pick: Callable[[Example], bool | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the examples that say something about a target, and its 0/1 values."""
    kept = [(i, v) for i, e in enumerate(examples) if (v := pick(e)) is not None]
    return np.array([i for i, _ in kept], dtype=int), np.array([bool(v) for _, v in kept])


@dataclass(frozen=True)
class _Fit:
    """A fitted head, the examples it was trained on, their out-of-fold probabilities and
    decisions (thresholds from the other folds), and the folds."""

    head: Head
    idx: np.ndarray
    y: np.ndarray
    oof: np.ndarray
    pred: np.ndarray
    splits: list[tuple[np.ndarray, np.ndarray]]


def _fit_binary(
    name: str,
    x: np.ndarray,
    examples: Sequence[Example],
    pick: Callable[[Example], bool | None],
    balanced: bool = False,
) -> _Fit:
    """Fit one binary head on the examples that inform it."""
    idx, y = _target(examples, pick)
    fitted: Fitted = fit_head(name, x[idx], y, [examples[i].group_id for i in idx], balanced)
    return _Fit(fitted.head, idx, y, fitted.oof, fitted.pred, fitted.splits)


def _frame_pick(code: str) -> Callable[[Example], bool | None]:
    """Target function for one frame label."""

    def pick(e: Example) -> bool | None:
        if e.labels is None or code in e.unsure:
            return None
        return code in e.labels

    return pick


def _fit_frame(code: str, x: np.ndarray, examples: Sequence[Example]) -> _Fit:
    """A frame head plus its article threshold (noisy-or over a document's sentences)."""
    fit = _fit_binary(code, x, examples, _frame_pick(code))
    docs = [examples[i].group_id for i in fit.idx]
    head = replace(fit.head, article_threshold=article_threshold(fit.oof, fit.y, docs))
    return replace(fit, head=head)


def _fit_groups(
    x: np.ndarray, examples: Sequence[Example]
) -> tuple[GroupHead, np.ndarray, np.ndarray]:
    """The four-way group head on the examples with a known group."""
    idx = np.array([i for i, e in enumerate(examples) if e.group is not None], dtype=int)
    y = [str(examples[i].group) for i in idx]
    head, logits = fit_group(x[idx], y, [examples[i].group_id for i in idx], GROUPS)
    return head, logits, idx


def cv_report(
    examples: Sequence[Example],
    frames: dict[str, _Fit],
    migration: _Fit,
    hostile: _Fit,
    group: GroupHead,
    group_logits: np.ndarray,
    group_idx: np.ndarray,
) -> dict[str, Any]:
    """The cross-validated figures: per source, per language, per label and group."""
    codes = list(frames)
    prob, gold, known, pred = _frame_matrices(len(examples), frames)
    group_pred = np.full(len(examples), "", dtype=object)
    group_pred[group_idx] = [group.classes[i] for i in group_logits.argmax(axis=1)]

    def subset(mask: np.ndarray) -> dict[str, Any]:
        return _subset_figures(examples, mask, codes, gold, pred, prob, known, group_pred)

    source = np.array([e.source for e in examples])
    langs = np.array([e.lang for e in examples])
    seed_langs = {
        lang: subset((source == "seed") & (langs == lang))
        for lang in sorted(set(langs[source == "seed"]))
    }
    best = max(v["fine_macro_f1"] for v in seed_langs.values())
    return {
        "data_digest": digest(examples),
        "folds": f"{FOLDS} grouped folds (StratifiedGroupKFold, shuffled, seed 0)",
        "dev": subset(source == "stereoimmigrants"),
        "seeds": {
            "all": subset(source == "seed"),
            "per_language": seed_langs,
            "worst_to_best_fine_macro_f1": round(
                min(v["fine_macro_f1"] for v in seed_langs.values()) / best, 4
            )
            if best
            else 0.0,
        },
        "all": subset(np.ones(len(examples), dtype=bool)),
        "articles": _article_figures(examples, frames),
        "migration": _binary_figures(examples, migration),
        "hostile": _binary_figures(examples, hostile),
        "stereo": _stereo_figures(examples, group, group_logits, group_idx),
    }


def _frame_matrices(
    n: int, frames: dict[str, _Fit]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold probabilities, gold values, a known-mask and out-of-fold decisions, each
    as [examples, labels]."""
    prob = np.zeros((n, len(frames)))
    gold, known, pred = (np.zeros((n, len(frames)), dtype=bool) for _ in range(3))
    for j, fit in enumerate(frames.values()):
        prob[fit.idx, j], gold[fit.idx, j], known[fit.idx, j] = fit.oof, fit.y, True
        pred[fit.idx, j] = fit.pred
    return prob, gold, known, pred


def _subset_figures(
    examples: Sequence[Example],
    mask: np.ndarray,
    codes: list[str],
    gold: np.ndarray,
    pred: np.ndarray,
    prob: np.ndarray,
    known: np.ndarray,
    group_pred: np.ndarray,
) -> dict[str, Any]:
    """Sentence-level figures of one subset of the out-of-fold predictions."""
    per_label = label_scores(gold[mask], pred[mask], known[mask], codes)
    with_group = mask & (group_pred != "")
    gold_groups = [str(examples[int(i)].group) for i in np.flatnonzero(with_group)]
    pred_groups = [str(g) for g in group_pred[with_group]]
    per_group = group_scores(gold_groups, pred_groups)
    k = known[mask]
    return {
        "examples": int(mask.sum()),
        "fine_macro_f1": round(macro_f1(per_label), 4),
        "group_macro_f1": round(macro_f1(per_group), 4),
        "labels": {c: s.as_dict() for c, s in per_label.items() if s.support},
        "groups": {g: s.as_dict() for g, s in per_group.items() if s.support},
        "group_confusion": confusion(gold_groups, pred_groups),
        "ece": round(expected_calibration_error(gold[mask][k], prob[mask][k]), 4),
    }


def _article_figures(examples: Sequence[Example], frames: dict[str, _Fit]) -> dict[str, Any]:
    """Document-level figures of the noisy-or rule on multi-sentence documents (speeches)."""
    per_label, golds, probs = {}, [], []
    for code, fit in frames.items():
        docs = [examples[i].group_id for i in fit.idx]
        d = crossfit_documents(fit.oof, fit.y, docs, fit.splits)
        if d.gold[d.multi].any():
            per_label[code] = scores(d.gold[d.multi], d.pred[d.multi])
            golds.append(d.gold[d.multi])
            probs.append(d.score[d.multi])
    g, p = (np.concatenate(golds), np.concatenate(probs)) if golds else (np.zeros(0), np.zeros(0))
    return {
        "rule": f"noisy-or of the {TOP_K} best sentences >= the label's article threshold and "
        "one sentence >= its sentence threshold; thresholds of each fold from the others",
        "documents": "multi-sentence training documents (StereoImmigrants speeches)",
        "macro_f1": round(macro_f1(per_label), 4),
        "labels": {c: s.as_dict() for c, s in per_label.items()},
        "ece": round(expected_calibration_error(g, p), 4),
        "reliability": reliability(g, p),
    }


def _binary_figures(examples: Sequence[Example], fit: _Fit) -> dict[str, Any]:
    """Out-of-fold figures of a binary head, overall and per source."""
    pred = fit.pred
    source = np.array([examples[i].source for i in fit.idx])
    return {
        "threshold": fit.head.threshold,
        **scores(fit.y, pred).as_dict(),
        "ece": round(expected_calibration_error(fit.y, fit.oof), 4),
        "per_source": {
            s: scores(fit.y[source == s], pred[source == s]).as_dict() for s in sorted(set(source))
        },
    }


def _stereo_figures(
    examples: Sequence[Example], group: GroupHead, logits: np.ndarray, idx: np.ndarray
) -> dict[str, float]:
    """The two StereoImmigrants tasks of Sánchez-Junquera et al. (2021), from the group head.

    Stereotype vs not: any of threat/victim/hero predicted. Victims vs threat: on the gold
    victim and threat sentences, whichever of the two gets the higher probability.
    """
    si = np.array([examples[i].source == "stereoimmigrants" for i in idx])
    if not si.any():
        return {}
    gold = np.array([examples[i].group for i in idx])[si]
    z = logits[si]
    pred = np.array([group.classes[i] for i in z.argmax(axis=1)])
    vt = (gold == "victim") | (gold == "threat")
    v, t = group.classes.index("victim"), group.classes.index("threat")
    vt_pred = np.where(z[vt, v] > z[vt, t], "victim", "threat")
    return {
        "stereotype_accuracy": round(float(np.mean((pred != "none") == (gold != "none"))), 4),
        "victim_vs_threat_accuracy": round(float(np.mean(vt_pred == gold[vt])), 4),
    }


def _seed_fit(heads: Heads, x: np.ndarray, examples: Sequence[Example]) -> dict[str, Any]:
    """In-sample figures of the final heads on the seeds: what the gate recomputes at test
    time with the live encoder, to catch drift between training and running."""
    idx = np.array([i for i, e in enumerate(examples) if e.source == "seed"], dtype=int)
    codes = list(heads.frames)
    probs = np.stack([heads.frames[c].predict(x[idx]) for c in codes], axis=1)
    pred = probs >= np.array([heads.frames[c].threshold for c in codes])
    gold = np.array([[c in (examples[i].labels or ()) for c in codes] for i in idx])
    per_label = label_scores(gold, pred, np.ones_like(gold), codes)
    return {"examples": len(idx), "fine_macro_f1": round(macro_f1(per_label), 4)}


def save_cv(cv: dict[str, Any], folder: Path) -> Path:
    """Write cv.json next to heads.json."""
    path = folder / CV_FILE
    path.write_text(json.dumps(cv, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


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
        "data_digest": digest(examples),
        "examples": dict(sorted(counts.items())),
        "method": "logistic regression per head on frozen e5 'query:' embeddings "
        "(standardised; C by out-of-fold log-loss), Platt-calibrated out of fold; sentence "
        "threshold = best out-of-fold F1; article threshold = best F0.5 of the noisy-or of the "
        f"{TOP_K} best sentences on training documents; group head multinomial, "
        f"temperature-calibrated (StratifiedGroupKFold, {FOLDS})",
    }


def headline(cv: dict[str, Any]) -> dict[str, Any]:
    """The figures the issue's targets and the evaluation gate are about."""
    dev, seeds = cv.get("dev", {}), cv.get("seeds", {})
    return {
        "dev_group_macro_f1": dev.get("group_macro_f1"),
        "dev_fine_macro_f1": dev.get("fine_macro_f1"),
        "dev_ece": dev.get("ece"),
        "seed_group_macro_f1": seeds.get("all", {}).get("group_macro_f1"),
        "seed_fine_macro_f1": seeds.get("all", {}).get("fine_macro_f1"),
        "seed_worst_to_best_language": seeds.get("worst_to_best_fine_macro_f1"),
        "article_macro_f1": cv.get("articles", {}).get("macro_f1"),
        "migration_f1": cv.get("migration", {}).get("f1"),
        "hostile_f1": cv.get("hostile", {}).get("f1"),
        **cv.get("stereo", {}),
    }
