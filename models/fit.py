"""Fitting one head: regularisation, calibration and thresholds, all chosen out of fold.

Every choice a head makes (C, the Platt calibration, the sentence threshold, the article
threshold) is made on out-of-fold predictions of the training data, grouped so that no
source document (a parliamentary speech, a seed) sits on both sides of a fold. The
out-of-fold predictions are returned too: they are the cross-validation figures that the
evaluation gate pins (models/heads/cv.json).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedGroupKFold

from models.heads import GroupHead, Head, sigmoid
from models.metrics import scores

C_GRID = (0.03, 0.1, 0.3, 1.0)  # regularisation, chosen per head by out-of-fold log-loss
# The group head has four classes and more data per class: it wants stronger regularisation.
GROUP_C_GRID = (0.003, 0.01, 0.03, 0.1)
FOLDS = 5
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)
# An article's label probability is the noisy-or of its TOP_K best sentences: two sentences
# that each suggest a frame make it likelier than one, but a long article must not collect
# a frame from many weak sentences (that is what made "max over 20 sentences" over-fire).
TOP_K = 2
MIN_DOC_POSITIVES = 10  # fewer positive multi-sentence documents: choose on all documents
# A local news article offers 10-20 sentences to the rule, more than a training document, so
# the article threshold never goes below the point where at most this share of negative
# training sentences pass on their own (out of fold).
MAX_SENTENCE_FPR = 0.01
# Article thresholds maximise F-beta with beta 0.5 (precision counts twice as much as
# recall): a wrong "threat: public order" on a real article costs the users' trust in every
# label, a missed one costs one example. Sentence thresholds stay at the F1 optimum.
ARTICLE_BETA = 0.5


@dataclass(frozen=True)
class Fitted:
    """A fitted head and its cross-validated figures' raw material.

    ``oof``: calibrated out-of-fold probabilities. ``pred``: out-of-fold decisions, each
    fold's threshold chosen on the other folds only, so reported figures are not flattered
    by choosing and scoring a threshold on the same predictions.
    """

    head: Head
    oof: np.ndarray
    pred: np.ndarray
    splits: list[tuple[np.ndarray, np.ndarray]]


def fit_linear(x: np.ndarray, y: np.ndarray, c: float, balanced: bool) -> tuple[np.ndarray, float]:
    """Standardise, fit, and fold the scaling into the weights (one dot product at run time)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if balanced else None)
    model.fit((x - mean) / scale, y)
    coef = model.coef_[0] / scale
    return coef, float(model.intercept_[0] - np.sum(coef * mean))


def folds(y: np.ndarray, groups: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped, stratified folds of one head's examples (fixed seed, so reproducible)."""
    splitter = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def oof_logits(
    x: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]], c: float, bal: bool
) -> np.ndarray:
    """Out-of-fold logits of a linear head."""
    out = np.zeros(len(y))
    for train_idx, test_idx in splits:
        coef, intercept = fit_linear(x[train_idx], y[train_idx], c, bal)
        out[test_idx] = x[test_idx] @ coef + intercept
    return out


def platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: p = sigmoid(a * logit + b), fitted by maximum likelihood."""
    if y.min() == y.max():
        return 1.0, 0.0
    model = LogisticRegression(C=1e4, max_iter=1000)
    model.fit(logits.reshape(-1, 1), y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def crossfit_calibrated(
    logits: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Calibrated out-of-fold probabilities, each fold calibrated on the other folds only.

    Fitting Platt on all out-of-fold logits and scoring them again would flatter the
    reliability figure; this keeps the reported calibration error honest.
    """
    out = np.zeros(len(y))
    for train_idx, test_idx in splits:
        a, b = platt(logits[train_idx], y[train_idx])
        out[test_idx] = sigmoid(a * logits[test_idx] + b)
    return out


def f_beta(y: np.ndarray, pred: np.ndarray, beta: float = 1.0) -> float:
    """F-beta of boolean predictions (beta < 1 weighs precision more)."""
    s = scores(y, pred)
    b2 = beta * beta
    denominator = b2 * s.precision + s.recall
    return (1 + b2) * s.precision * s.recall / denominator if denominator else 0.0


def best_threshold(y: np.ndarray, p: np.ndarray, beta: float = 1.0) -> float:
    """The threshold with the best F-beta (ties: the higher, i.e. the more precise one)."""
    return float(max(THRESHOLD_GRID, key=lambda t: (f_beta(y, p >= t, beta), t)))


def crossfit_decisions(
    y: np.ndarray, p: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Out-of-fold decisions with each fold's threshold chosen on the other folds."""
    out = np.zeros(len(y), dtype=bool)
    for train_idx, test_idx in splits:
        out[test_idx] = p[test_idx] >= best_threshold(y[train_idx], p[train_idx])
    return out


def fit_head(
    name: str, x: np.ndarray, y: np.ndarray, groups: Sequence[str], balanced: bool = False
) -> Fitted:
    """Choose C by out-of-fold log-loss, calibrate, pick the sentence threshold, refit on all."""
    splits = folds(y, groups)
    runs = {c: oof_logits(x, y, splits, c, balanced) for c in C_GRID}
    c = min(runs, key=lambda k: log_loss(y, sigmoid(runs[k]), labels=[False, True]))
    a, b = platt(runs[c], y)
    oof = crossfit_calibrated(runs[c], y, splits)
    threshold = best_threshold(y.astype(bool), oof)
    pred = crossfit_decisions(y.astype(bool), oof, splits)
    coef, intercept = fit_linear(x, y, c, balanced)
    metrics = {
        **scores(y.astype(bool), pred).as_dict(),
        "C": c,
        "examples": len(y),
        "cv": f"{FOLDS} grouped folds; calibration and threshold of each fold from the others",
    }
    return Fitted(Head(name, coef, intercept, threshold, metrics, (a, b)), oof, pred, splits)


def noisy_or(probs: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """P(at least one of the k best sentences carries the label), sentences independent.

    ``probs`` is [sentences] or [sentences, labels]; the result has one value per label.
    """
    if probs.shape[0] == 0:
        return np.zeros(probs.shape[1:])
    top = np.sort(probs, axis=0)[-k:]
    return np.asarray(1.0 - np.prod(1.0 - top, axis=0))


def document_scores(
    oof: np.ndarray, y: np.ndarray, doc_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per document: noisy-or score, gold (any sentence positive), sentence count."""
    index: dict[str, list[int]] = {}
    for i, d in enumerate(doc_ids):
        index.setdefault(d, []).append(i)
    rows = list(index.values())
    score = np.array([float(noisy_or(oof[r])) for r in rows])
    gold = np.array([bool(y[r].any()) for r in rows])
    return score, gold, np.array([len(r) for r in rows])


def article_threshold(oof: np.ndarray, y: np.ndarray, doc_ids: Sequence[str]) -> float:
    """The document-level threshold with the best F0.5 on out-of-fold sentence scores.

    Multi-sentence documents (speeches) are the closest thing to articles in the training
    data; when they hold too few positives for a label, all documents are used. The result
    is raised to ``fpr_floor`` (see MAX_SENTENCE_FPR).
    """
    score, gold, size = document_scores(oof, y.astype(bool), doc_ids)
    multi = size > 1
    if gold[multi].sum() >= MIN_DOC_POSITIVES:
        score, gold = score[multi], gold[multi]
    return max(best_threshold(gold, score, ARTICLE_BETA), fpr_floor(y.astype(bool), oof))


@dataclass(frozen=True)
class DocumentFigures:
    """Out-of-fold document decisions of the article rule, for the CV report."""

    gold: np.ndarray
    score: np.ndarray
    pred: np.ndarray
    multi: np.ndarray  # documents with more than one sentence


def crossfit_documents(
    oof: np.ndarray,
    y: np.ndarray,
    doc_ids: Sequence[str],
    splits: list[tuple[np.ndarray, np.ndarray]],
) -> DocumentFigures:
    """The article rule as it runs (noisy-or >= article threshold AND one sentence passing
    the sentence threshold), each fold's thresholds chosen on the other folds."""
    docs = np.asarray(doc_ids)
    parts: list[tuple[np.ndarray, ...]] = []
    for train_idx, test_idx in splits:
        t_sentence = best_threshold(y[train_idx], oof[train_idx])
        t_article = article_threshold(oof[train_idx], y[train_idx], list(docs[train_idx]))
        score, gold, size = document_scores(oof[test_idx], y[test_idx], list(docs[test_idx]))
        evidence = document_scores(
            (oof[test_idx] >= t_sentence).astype(float), y[test_idx], list(docs[test_idx])
        )[0]
        parts.append((gold, score, (score >= t_article) & (evidence > 0), size > 1))
    gold, score, pred, multi = (np.concatenate([p[i] for p in parts]) for i in range(4))
    return DocumentFigures(gold, score, pred, multi)


def fpr_floor(y: np.ndarray, p: np.ndarray, max_fpr: float = MAX_SENTENCE_FPR) -> float:
    """The lowest threshold that at most ``max_fpr`` of negative sentences pass."""
    negatives = p[~y]
    return float(next((t for t in THRESHOLD_GRID if np.mean(negatives >= t) <= max_fpr), 0.95))


def fit_group(
    x: np.ndarray, y: Sequence[str], groups: Sequence[str], classes: Sequence[str]
) -> tuple[GroupHead, np.ndarray]:
    """Multinomial group head: C and temperature out of fold; also its out-of-fold logits."""
    labels = np.asarray(y)
    splits = folds(labels, groups)
    runs = {c: _oof_group(x, labels, splits, c, classes) for c in GROUP_C_GRID}
    c = min(runs, key=lambda k: _nll(runs[k], labels, classes))
    temperature = min(np.arange(0.5, 3.01, 0.1), key=lambda t: _nll(runs[c] / t, labels, classes))
    coef, intercept = _fit_multinomial(x, labels, c, classes)
    head = GroupHead(tuple(classes), coef, intercept, float(round(temperature, 2)), {"C": c})
    return head, runs[c] / head.temperature


def _fit_multinomial(
    x: np.ndarray, y: np.ndarray, c: float, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Balanced multinomial regression, scaling folded into the weights."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    model.fit((x - mean) / scale, y)
    order = [list(model.classes_).index(k) for k in classes]
    coef = (model.coef_[order] / scale).T
    return coef, model.intercept_[order] - mean @ coef


def _oof_group(
    x: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    c: float,
    classes: Sequence[str],
) -> np.ndarray:
    """Out-of-fold class logits [rows, classes]."""
    out = np.zeros((len(y), len(classes)))
    for train_idx, test_idx in splits:
        coef, intercept = _fit_multinomial(x[train_idx], y[train_idx], c, classes)
        out[test_idx] = x[test_idx] @ coef + intercept
    return out


def _nll(logits: np.ndarray, y: np.ndarray, classes: Sequence[str]) -> float:
    """Mean negative log-likelihood of softmax(logits)."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    idx = np.array([list(classes).index(v) for v in y])
    return float(-logp[np.arange(len(y)), idx].mean())
