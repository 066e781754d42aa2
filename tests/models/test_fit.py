"""Head fitting on small synthetic data: calibration, thresholds, documents, groups."""

from __future__ import annotations

import numpy as np

from models.fit import (
    article_threshold,
    crossfit_documents,
    document_scores,
    fit_group,
    fit_head,
    fpr_floor,
    noisy_or,
    platt,
)
from models.metrics import GROUPS, expected_calibration_error, scores


def _blobs(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Two overlapping Gaussian classes in 8 dimensions, in documents of 4 rows."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    x = rng.normal(size=(n, 8)) + np.outer(y, np.r_[1.2, 0.8, np.zeros(6)])
    return x, y, [f"doc{i // 4}" for i in range(n)]


def test_head_is_calibrated_and_its_threshold_is_chosen_out_of_fold() -> None:
    x, y, groups = _blobs()
    fitted = fit_head("t", x, y, groups)
    head = fitted.head
    assert fitted.oof.shape == y.shape
    assert expected_calibration_error(y, fitted.oof) < 0.08
    assert 0.5 < head.metrics["f1"] <= 1.0
    # the reported decisions are out of fold: they differ from refitting and rescoring
    in_sample = head.predict(x) >= head.threshold
    assert not np.array_equal(fitted.pred, in_sample)
    assert head.metrics["f1"] < scores(y, in_sample).f1 + 0.05
    p = head.predict(x)
    assert p.shape == (len(y),) and np.all((p >= 0) & (p <= 1))


def test_platt_recovers_a_known_scaling() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3, size=4000)
    y = rng.random(4000) < 1 / (1 + np.exp(-(0.5 * logits - 1.0)))
    a, b = platt(logits, y)
    assert abs(a - 0.5) < 0.08 and abs(b + 1.0) < 0.15


def test_noisy_or_uses_only_the_best_two_sentences() -> None:
    assert float(noisy_or(np.array([]))) == 0.0
    assert np.allclose(noisy_or(np.array([[0.5, 0.1], [0.5, 0.0]])), [0.75, 0.1])
    assert abs(noisy_or(np.array([0.5])) - 0.5) < 1e-12
    assert abs(noisy_or(np.array([0.1, 0.5, 0.5])) - 0.75) < 1e-12
    many_weak = noisy_or(np.full(20, 0.2))
    assert abs(many_weak - 0.36) < 1e-12  # twenty weak sentences count as two


def test_document_scores_group_sentences() -> None:
    oof = np.array([0.1, 0.8, 0.3, 0.2])
    y = np.array([0, 1, 0, 0], dtype=bool)
    score, gold, size = document_scores(oof, y, ["a", "a", "b", "b"])
    assert list(gold) == [True, False] and list(size) == [2, 2]
    assert abs(score[0] - (1 - 0.9 * 0.2)) < 1e-12


def test_article_threshold_never_below_the_sentence_fpr_floor() -> None:
    x, y, groups = _blobs(800)
    oof = fit_head("t", x, y, groups).oof
    floor = fpr_floor(y, oof)
    assert np.mean(oof[~y] >= floor) <= 0.01
    assert np.mean(oof[~y] >= floor - 0.02) > 0.01  # the lowest such threshold
    assert article_threshold(oof, y, groups) >= floor


def test_group_head_separates_four_classes() -> None:
    rng = np.random.default_rng(2)
    y = [GROUPS[i % 4] for i in range(400)]
    centers = np.eye(4, 6) * 3
    x = np.stack([centers[GROUPS.index(g)] for g in y]) + rng.normal(size=(400, 6))
    head, logits = fit_group(x, y, [f"d{i}" for i in range(400)], GROUPS)
    assert logits.shape == (400, 4)
    oof = [GROUPS[i] for i in logits.argmax(axis=1)]
    assert np.mean(np.array(oof) == np.array(y)) > 0.85
    assert head.predict(x[:4]) == y[:4]
    assert np.allclose(head.predict_proba(x).sum(axis=1), 1.0)


def test_document_decisions_need_evidence_and_use_other_folds_thresholds() -> None:
    x, y, groups = _blobs(800, seed=4)
    fitted = fit_head("t", x, y, groups)
    d = crossfit_documents(fitted.oof, y, groups, fitted.splits)
    assert len(d.gold) == len(set(groups)) and d.multi.all()
    assert set(np.flatnonzero(d.pred)) <= set(np.flatnonzero(d.score > 0))
    assert 0.5 < scores(d.gold, d.pred).f1 <= 1.0
