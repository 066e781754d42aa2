"""Does fine-tuning the encoder beat frozen embeddings? One held-out fold, same split.

Fine-tunes the encoder (models/fine_tune.py) on four of the five grouped folds of the frame
data (seeds + StereoImmigrants), then fits the usual heads on the same four folds with the
fine-tuned and with the frozen encoder, and scores both on the fifth fold, which neither saw.
On a 2-core CPU one epoch takes ~15-25 minutes; with a GPU, a minute.

    .venv/bin/python benchmarks/fine_tune_fold.py --epochs 1 --out /tmp/ft
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from models.data import Example, load_training_data
from models.encoder import Encoder
from models.fine_tune import FineTuneConfig, fine_tune
from models.fit import fit_group, fit_linear, folds
from models.labels import load_labels
from models.metrics import GROUPS, group_scores, label_scores, macro_f1
from pipeline.config import Settings

REPO = Path(__file__).resolve().parents[1]


def _split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """Fold 0 of the shared grouped split held out; frame data only."""
    framed = [e for e in examples if e.group is not None]
    y = np.array([e.group for e in framed])
    train_idx, test_idx = folds(y, [e.group_id for e in framed])[0]
    return [framed[i] for i in train_idx], [framed[i] for i in test_idx]


def _score(encoder: Encoder, train: list[Example], test: list[Example]) -> dict[str, float]:
    """Fit frame and group heads on ``train`` embeddings, score on ``test``."""
    codes = load_labels().codes
    xa = encoder.encode([e.text for e in train], kind="query")
    xb = encoder.encode([e.text for e in test], kind="query")
    gold = np.array([[c in (e.labels or ()) for c in codes] for e in test])
    known = np.array([[c not in e.unsure for c in codes] for e in test])
    pred = np.zeros_like(gold)
    for j, c in enumerate(codes):
        ya = np.array([c in (e.labels or ()) for e in train])
        coef, icpt = fit_linear(xa, ya, 0.1, False)
        pred[:, j] = (xb @ coef + icpt) > 0
    head, _ = fit_group(xa, [str(e.group) for e in train], [e.group_id for e in train], GROUPS)
    groups = head.predict(xb)
    es = np.array([e.source == "stereoimmigrants" for e in test])
    gold_groups = [str(e.group) for e in test]
    return {
        "fine_macro_f1_dev": macro_f1(label_scores(gold[es], pred[es], known[es], codes)),
        "group_macro_f1_dev": macro_f1(
            group_scores(list(np.array(gold_groups)[es]), list(np.array(groups)[es]))
        ),
        "group_macro_f1_seeds": macro_f1(
            group_scores(list(np.array(gold_groups)[~es]), list(np.array(groups)[~es]))
        ),
    }


def main() -> None:
    """Run the comparison and print a JSON line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("/tmp/framewatch-ft"))
    ap.add_argument("--dev", type=Path, default=REPO.parent / "shared" / "data" / "dev")
    args = ap.parse_args()
    settings = Settings(backend="torch")
    train, test = _split(load_training_data(args.dev))
    frozen = Encoder.load(None, settings.model_cache, backend="torch")
    started = time.perf_counter()
    result = fine_tune(settings, train, args.out, FineTuneConfig(epochs=args.epochs, max_length=96))
    tuned = Encoder.load(str(args.out), settings.model_cache, backend="torch")
    out = {
        "train": len(train),
        "test": len(test),
        "epochs": args.epochs,
        "fine_tune_seconds": round(time.perf_counter() - started),
        "device": result.device,
        "frozen": _score(frozen, train, test),
        "fine_tuned": _score(tuned, train, test),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
