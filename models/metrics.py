"""Quality figures shared by training (cross-validation) and ``framewatch eval``.

One implementation for both, so that the figures a training run pins in the evaluation gate
and the figures an evaluation prints mean exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.labels import GROUPS as LABEL_GROUPS

GROUPS = (*LABEL_GROUPS, "none")  # the label groups, plus "no frame"
ECE_BINS = 10


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of one label (or group) over a set of items."""

    precision: float
    recall: float
    f1: float
    support: int  # gold positives
    predicted: int

    def as_dict(self) -> dict[str, float | int]:
        """Rounded, JSON-ready."""
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "support": self.support,
            "predicted": self.predicted,
        }


def scores(gold: np.ndarray, pred: np.ndarray) -> Scores:
    """Binary scores; F1 is 0 when there is nothing to find and nothing was predicted."""
    gold, pred = gold.astype(bool), pred.astype(bool)
    tp = float(np.sum(gold & pred))
    precision = tp / pred.sum() if pred.sum() else 0.0
    recall = tp / gold.sum() if gold.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, int(gold.sum()), int(pred.sum()))


def label_scores(
    gold: np.ndarray, pred: np.ndarray, known: np.ndarray, codes: Sequence[str]
) -> dict[str, Scores]:
    """Per-label scores over the items where the label is known (``known`` masks the rest)."""
    return {
        code: scores(gold[known[:, j], j], pred[known[:, j], j]) for j, code in enumerate(codes)
    }


def macro_f1(per_label: dict[str, Scores], min_support: int = 1) -> float:
    """Mean F1 over the labels that occur in the gold data at least ``min_support`` times."""
    values = [s.f1 for s in per_label.values() if s.support >= min_support]
    return float(np.mean(values)) if values else 0.0


def group_scores(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Scores]:
    """One-vs-rest scores for each group (threat, victim, hero, none)."""
    g, p = np.asarray(gold), np.asarray(pred)
    return {name: scores(g == name, p == name) for name in GROUPS}


def confusion(gold: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, int]]:
    """Counts of gold group (rows) against predicted group (columns)."""
    table = {g: dict.fromkeys(GROUPS, 0) for g in GROUPS}
    for g, p in zip(gold, pred, strict=True):
        table[g][p] += 1
    return table


def expected_calibration_error(gold: np.ndarray, prob: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: the support-weighted gap between mean probability and hit rate per bin.

    Equal-width bins over [0, 1]; items are (item, label) pairs flattened, so the figure says
    how far a stated probability of, say, 0.7 is from being right 70 % of the time.
    """
    gold, prob = gold.astype(float).ravel(), prob.astype(float).ravel()
    if gold.size == 0:
        return 0.0
    edges = np.minimum((prob * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        inside = edges == b
        if inside.any():
            gap += inside.sum() * abs(prob[inside].mean() - gold[inside].mean())
    return float(gap / gold.size)


def reliability(
    gold: np.ndarray, prob: np.ndarray, bins: int = ECE_BINS
) -> list[dict[str, float | int | str]]:
    """The reliability table behind the ECE: per bin, count, mean probability, hit rate."""
    gold, prob = gold.astype(float).ravel(), prob.astype(float).ravel()
    edges = np.minimum((prob * bins).astype(int), bins - 1)
    rows: list[dict[str, float | int | str]] = []
    for b in range(bins):
        inside = edges == b
        if inside.any():
            rows.append(
                {
                    "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
                    "count": int(inside.sum()),
                    "mean_probability": round(float(prob[inside].mean()), 4),
                    "hit_rate": round(float(gold[inside].mean()), 4),
                }
            )
    return rows
