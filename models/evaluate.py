"""``framewatch eval``: the classifier against a labelled JSONL dataset.

Lines are ``{"id","text","lang","group","labels"}`` (frames; optional ``labels_any``:
alternatives, left out of that line's scoring, as in training) and/or
``{"id","text","lang","hostile"}``; ``migration`` is scored when present. A line is scored
as one sentence (the heads' sentence thresholds; the group from the group head) or, with
``unit="article"``, as a whole article through the full classifier (the article rule,
relevance gate included). The figures are those of models/metrics.py, the same code the
cross-validation in models/train.py uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.classify import Classifier
from models.data import Example
from models.metrics import (
    confusion,
    expected_calibration_error,
    group_scores,
    label_scores,
    macro_f1,
    reliability,
    scores,
)
from pipeline.records import Document


@dataclass(frozen=True)
class Predictions:
    """The classifier's output on a dataset, aligned with its examples."""

    probs: np.ndarray  # [examples, labels] calibrated
    labels: np.ndarray  # [examples, labels] assigned
    groups: list[str]
    hostile: np.ndarray  # probability
    hostile_pred: np.ndarray
    migration: np.ndarray  # probability-like score
    migration_pred: np.ndarray


def predict(clf: Classifier, examples: Sequence[Example], unit: str = "sentence") -> Predictions:
    """Run the classifier on every example, as sentences or as articles."""
    if unit == "article":
        return _predict_articles(clf, examples)
    x = clf.embed([e.text for e in examples])
    probs = clf.sentence_probabilities(x)
    hostile = clf.heads.hostile.predict(x)
    migration = clf.heads.migration.predict(x)
    groups = clf.heads.group.predict(x) if clf.heads.group else _groups_from(clf, probs)
    return Predictions(
        probs,
        probs >= clf.thresholds,
        groups,
        hostile,
        hostile >= clf.heads.hostile.threshold,
        migration,
        migration >= clf.heads.migration.threshold,
    )


def _groups_from(clf: Classifier, probs: np.ndarray) -> list[str]:
    """Without a group head: the group of the most probable assigned label (as articles)."""
    return [
        clf.labels.strongest_group(
            dict(zip(clf.codes, row, strict=True)),
            [c for c, p, t in zip(clf.codes, row, clf.thresholds, strict=True) if p >= t],
        )
        for row in probs
    ]


def _predict_articles(clf: Classifier, examples: Sequence[Example]) -> Predictions:
    """The full article pipeline on every text."""
    docs = [Document(e.id, e.lang, e.text) for e in examples]
    framings = clf.classify(docs)
    probs = np.array([[f.frames.get(c, 0.0) for c in clf.codes] for f in framings])
    assigned = np.array([[c in f.labels for c in clf.codes] for f in framings])
    hostile = np.array([f.hostile for f in framings])
    return Predictions(
        probs.reshape(len(docs), len(clf.codes)),
        assigned.reshape(len(docs), len(clf.codes)),
        [f.group for f in framings],
        hostile,
        hostile >= clf.heads.hostile.threshold,
        np.array([f.migration_score for f in framings]),
        np.array([f.migration for f in framings]),
    )


def evaluate(
    clf: Classifier, examples: Sequence[Example], unit: str = "sentence"
) -> dict[str, Any]:
    """Every figure of one evaluation, JSON-ready."""
    pred = predict(clf, examples, unit)
    report: dict[str, Any] = {"examples": len(examples), "unit": unit, "model": clf.version}
    framed = np.array([e.labels is not None for e in examples])
    if framed.any():
        report["frames"] = _frame_figures(clf, examples, pred, framed)
    hostile = np.array([e.hostile is not None for e in examples])
    if hostile.any():
        report["hostile"] = _binary(examples, hostile, pred.hostile, pred.hostile_pred, "hostile")
    relevant = np.array([e.migration is not None for e in examples])
    if relevant.any():
        report["migration"] = _binary(
            examples, relevant, pred.migration, pred.migration_pred, "migration"
        )
    return report


def _gold_matrix(
    examples: Sequence[Example], codes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Gold label matrix and known-mask (labels_any entries are unknown)."""
    gold = np.array([[c in (e.labels or ()) for c in codes] for e in examples], dtype=bool)
    known = np.array([[c not in e.unsure for c in codes] for e in examples], dtype=bool)
    return gold.reshape(len(examples), len(codes)), known.reshape(len(examples), len(codes))


def _frame_figures(
    clf: Classifier, examples: Sequence[Example], pred: Predictions, mask: np.ndarray
) -> dict[str, Any]:
    """Per label, per group, per language, confusion and calibration."""
    subset = [e for e, m in zip(examples, mask, strict=True) if m]
    gold, known = _gold_matrix(subset, clf.codes)
    probs, assigned = pred.probs[mask], pred.labels[mask]
    per_label = label_scores(gold, assigned, known, clf.codes)
    gold_groups = [e.group or _group_of(clf, e) for e in subset]
    pred_groups = [g for g, m in zip(pred.groups, mask, strict=True) if m]
    per_group = group_scores(gold_groups, pred_groups)
    langs = np.array([e.lang for e in subset])
    return {
        "labels": {c: s.as_dict() for c, s in per_label.items()},
        "fine_macro_f1": round(macro_f1(per_label), 4),
        "groups": {g: s.as_dict() for g, s in per_group.items()},
        "group_macro_f1": round(macro_f1(per_group), 4),
        "per_language": {
            lang: _language(clf, gold, assigned, known, gold_groups, pred_groups, langs == lang)
            for lang in sorted(set(langs))
        },
        "group_confusion": confusion(gold_groups, pred_groups),
        "ece": round(expected_calibration_error(gold[known], probs[known]), 4),
        "reliability": reliability(gold[known], probs[known]),
    }


def _group_of(clf: Classifier, e: Example) -> str:
    """A gold group derived from gold labels when the line gives none."""
    return clf.labels.group_of(e.labels[0]) if e.labels else "none"


def _language(
    clf: Classifier,
    gold: np.ndarray,
    assigned: np.ndarray,
    known: np.ndarray,
    gold_groups: list[str],
    pred_groups: list[str],
    mask: np.ndarray,
) -> dict[str, Any]:
    """Macro-F1 (labels and groups) of one language."""
    per_label = label_scores(gold[mask], assigned[mask], known[mask], clf.codes)
    g = [x for x, m in zip(gold_groups, mask, strict=True) if m]
    p = [x for x, m in zip(pred_groups, mask, strict=True) if m]
    return {
        "examples": int(mask.sum()),
        "fine_macro_f1": round(macro_f1(per_label), 4),
        "group_macro_f1": round(macro_f1(group_scores(g, p)), 4),
    }


def _binary(
    examples: Sequence[Example], mask: np.ndarray, prob: np.ndarray, pred: np.ndarray, attr: str
) -> dict[str, Any]:
    """Scores and calibration of a binary target (hostility or relevance), per language."""
    gold = np.array([bool(getattr(e, attr)) for e in examples])
    langs = np.array([e.lang for e in examples])
    out: dict[str, Any] = {
        **scores(gold[mask], pred[mask]).as_dict(),
        "ece": round(expected_calibration_error(gold[mask], prob[mask]), 4),
    }
    out["per_language"] = {
        lang: scores(gold[mask & (langs == lang)], pred[mask & (langs == lang)]).as_dict()
        for lang in sorted(set(langs[mask]))
    }
    return out


def format_report(report: dict[str, Any]) -> list[str]:
    """Human-readable lines (the JSON summary is printed after them by the CLI)."""
    lines = [f"{report['examples']} examples, scored per {report['unit']}; model {report['model']}"]
    if "frames" in report:
        lines += _format_frames(report["frames"])
    for key in ("hostile", "migration"):
        if key in report:
            r = report[key]
            lines.append(
                f"{key}: precision {r['precision']:.3f} recall {r['recall']:.3f} "
                f"F1 {r['f1']:.3f} (support {r['support']}), calibration error {r['ece']:.3f}"
            )
    return lines


def _format_frames(r: dict[str, Any]) -> list[str]:
    """The frame tables."""
    lines = ["", f"{'label':<24}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}"]
    for name, s in [*r["labels"].items(), *r["groups"].items()]:
        lines.append(
            f"{name:<24}{s['precision']:>10.3f}{s['recall']:>8.3f}{s['f1']:>7.3f}{s['support']:>9}"
        )
    lines.append(
        f"fine-label macro-F1 {r['fine_macro_f1']:.3f}   group macro-F1 {r['group_macro_f1']:.3f}"
    )
    lines.append(
        "per language (fine / group macro-F1): "
        + ", ".join(
            f"{lang} {v['fine_macro_f1']:.3f}/{v['group_macro_f1']:.3f} (n={v['examples']})"
            for lang, v in r["per_language"].items()
        )
    )
    lines.append("group confusion (rows gold, columns predicted: threat victim hero none):")
    for gold, row in r["group_confusion"].items():
        lines.append(f"  {gold:<8}" + "".join(f"{n:>7}" for n in row.values()))
    lines.append(f"calibration error (ECE, label probabilities): {r['ece']:.3f}")
    return lines


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The last-line JSON: headline figures only."""
    out: dict[str, Any] = {"examples": report["examples"], "unit": report["unit"]}
    if "frames" in report:
        f = report["frames"]
        out |= {
            "fine_macro_f1": f["fine_macro_f1"],
            "group_macro_f1": f["group_macro_f1"],
            "ece": f["ece"],
            "per_language_fine_macro_f1": {
                k: v["fine_macro_f1"] for k, v in f["per_language"].items()
            },
        }
    for key in ("hostile", "migration"):
        if key in report:
            out[f"{key}_f1"] = report[key]["f1"]
    return out
