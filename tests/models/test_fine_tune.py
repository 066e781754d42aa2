"""The fine-tuning path end to end on a handful of seeds (two real optimiser steps, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from models.data import load_seeds
from models.encoder import Encoder
from models.fine_tune import FineTuneConfig, fine_tune
from pipeline.config import Settings


def test_fine_tuned_encoder_loads_and_moved(settings: Settings, tmp_path: Path) -> None:
    seeds = load_seeds()
    examples = seeds[:4] + seeds[-4:]  # framed and unframed sentences
    out = tmp_path / "ft"
    config = FineTuneConfig(epochs=1, batch_size=4, max_length=32, learning_rate=1e-4)
    local = Settings(**{**settings.model_dump(), "device": "cpu"})
    result = fine_tune(local, examples, out, config)
    assert result.steps == 2 and result.device == "cpu" and np.isfinite(result.final_loss)
    provenance = json.loads((out / "framewatch.json").read_text(encoding="utf-8"))
    assert provenance["version"].endswith(provenance["data_digest"])
    tuned = Encoder.load(str(out), settings.model_cache, backend="torch")
    base = Encoder.load(None, settings.model_cache, backend="torch")
    texts = [e.text for e in examples[:3]]
    a, b = tuned.encode(texts), base.encode(texts)
    assert tuned.version == provenance["version"] != base.version
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    assert not np.allclose(a, b, atol=1e-4)  # the weights moved
