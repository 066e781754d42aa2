"""The evaluation gate: quality floors pinned on the cross-validated figures.

``models/heads/cv.json`` is written by `make heads` (framewatch train) with the figures of
the committed heads and a digest of the data they were trained on. ``models/eval_floors.json``
pins floors on those figures. A retraining that drops a figure below its floor fails here;
raising a floor is a commit; lowering one must add a history entry with a reason.
The last test recomputes what the committed heads do on the seed sentences with the real
encoder, so the gate also fails when the encoder or backend drifts from training.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.classify import Classifier
from models.data import digest, load_seeds, load_training_data
from models.heads import HEADS_DIR, load_heads
from models.metrics import label_scores, macro_f1
from models.train import CV_FILE, headline
from tests.conftest import SHARED

FLOORS = Path(__file__).parents[2] / "models" / "eval_floors.json"


def _json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def cv() -> dict[str, Any]:
    return _json(HEADS_DIR / CV_FILE)


@pytest.fixture(scope="module")
def floors() -> dict[str, Any]:
    return _json(FLOORS)


def test_cross_validated_figures_meet_their_floors(
    cv: dict[str, Any], floors: dict[str, Any]
) -> None:
    figures = headline(cv)
    low = {
        k: (figures.get(k), v) for k, v in floors["floors"].items() if not figures.get(k, -1) >= v
    }
    assert not low, f"below the floor (figure, floor): {low}"


def test_figures_belong_to_the_committed_heads_and_the_floors_to_that_data(
    cv: dict[str, Any], floors: dict[str, Any]
) -> None:
    assert load_heads().meta["data_digest"] == cv["data_digest"]
    assert floors["data_digest"] == cv["data_digest"], (
        "the heads were retrained on other data: review the figures and re-pin the floors"
    )


def test_the_training_data_is_what_the_heads_were_trained_on(cv: dict[str, Any]) -> None:
    dev = SHARED / "data" / "dev"
    if not dev.exists():
        pytest.skip("needs ../shared/data/dev (CI has it; a fresh clone does not)")
    assert digest(load_training_data(dev)) == cv["data_digest"], (
        "seeds or development data changed since training: run `make heads`"
    )


def test_floors_only_go_down_with_a_reason(floors: dict[str, Any]) -> None:
    history = floors["history"]
    assert history and history[-1]["floors"] == floors["floors"]
    for before, after in itertools.pairwise(history):
        lowered = [k for k, v in after["floors"].items() if v < before["floors"].get(k, 0)]
        if lowered:
            assert after.get("reason", "").strip(), f"floors {lowered} lowered without a reason"


def test_committed_heads_reproduce_their_seed_figures(
    classifier: Classifier, cv: dict[str, Any]
) -> None:
    """In-sample figures on the seeds, recomputed now with the real encoder and backend."""
    seeds = load_seeds()
    x = classifier.embed([e.text for e in seeds])
    pred = classifier.sentence_probabilities(x) >= classifier.thresholds
    gold = np.array([[c in (e.labels or ()) for c in classifier.codes] for e in seeds])
    fine = macro_f1(label_scores(gold, pred, np.ones_like(gold), classifier.codes))
    recorded = cv["seed_fit"]["fine_macro_f1"]
    assert abs(fine - recorded) <= 0.02, (fine, recorded)
