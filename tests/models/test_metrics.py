"""Quality figures on tiny hand-checked inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from models.metrics import (
    confusion,
    expected_calibration_error,
    group_scores,
    label_scores,
    macro_f1,
    reliability,
    scores,
)


def test_scores_by_hand() -> None:
    gold = np.array([1, 1, 0, 0, 1], dtype=bool)
    pred = np.array([1, 0, 1, 0, 1], dtype=bool)
    s = scores(gold, pred)
    assert (s.precision, s.recall) == (2 / 3, 2 / 3)
    assert abs(s.f1 - 2 / 3) < 1e-12 and s.support == 3 and s.predicted == 3


def test_nothing_to_find_nothing_found_is_zero_not_an_error() -> None:
    s = scores(np.zeros(3, bool), np.zeros(3, bool))
    assert s.f1 == 0.0 and s.support == 0


def test_unknown_cells_are_left_out_and_absent_labels_do_not_count_in_macro() -> None:
    gold = np.array([[1, 0], [0, 0], [1, 0]], dtype=bool)
    pred = np.array([[1, 1], [1, 0], [0, 0]], dtype=bool)
    known = np.array([[1, 1], [0, 1], [1, 1]], dtype=bool)  # row 1 of label a unknown
    per = label_scores(gold, pred, known, ["a", "b"])
    assert per["a"].precision == 1.0 and per["a"].recall == 0.5
    assert per["b"].support == 0
    assert macro_f1(per) == per["a"].f1  # b has no gold positives


def test_groups_and_confusion() -> None:
    gold = ["threat", "victim", "none", "none"]
    pred = ["threat", "threat", "none", "hero"]
    table = confusion(gold, pred)
    assert table["victim"]["threat"] == 1 and table["none"]["hero"] == 1
    assert sum(sum(r.values()) for r in table.values()) == 4
    assert group_scores(gold, pred)["threat"].precision == 0.5


def test_calibration_error_of_a_calibrated_and_a_miscalibrated_model() -> None:
    gold = np.array([1, 0, 1, 0] * 25, dtype=bool)
    assert expected_calibration_error(gold, np.full(100, 0.5)) < 1e-9
    assert abs(expected_calibration_error(gold, np.full(100, 0.9)) - 0.4) < 1e-9
    rows = reliability(gold, np.full(100, 0.9))
    assert rows == [{"bin": "0.9-1.0", "count": 100, "mean_probability": 0.9, "hit_rate": 0.5}]


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=1, max_size=60))
def test_calibration_error_is_a_share(pairs: list[tuple[bool, float]]) -> None:
    gold = np.array([g for g, _ in pairs])
    prob = np.array([p for _, p in pairs])
    assert 0.0 <= expected_calibration_error(gold, prob) <= 1.0
    assert sum(r["count"] for r in reliability(gold, prob)) == len(pairs)
