"""Classifier heads: small logistic-regression layers on frozen sentence embeddings.

One head per frame label, one for migration relevance and one for hostility. A head is a
weight vector, a bias and a decision threshold (chosen by cross-validation on training data
only), stored in one JSON file with the metrics measured while training, so the committed
file says how good it is and what it was trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HEADS_DIR = Path(__file__).parent / "heads"
HEADS_FILE = "heads.json"


@dataclass(frozen=True)
class Head:
    """A linear probability head: sigmoid(x · coef + intercept) >= threshold."""

    name: str
    coef: np.ndarray
    intercept: float
    threshold: float
    metrics: dict[str, Any] = field(default_factory=dict)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for rows of embeddings."""
        if x.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        logits = x.astype(np.float64) @ self.coef + self.intercept
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (weights rounded: 7 digits change no decision)."""
        return {
            "coef": [round(float(v), 7) for v in self.coef],
            "intercept": round(self.intercept, 7),
            "threshold": self.threshold,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> Head:
        """Rebuild a head from its JSON dict."""
        return cls(
            name,
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
            float(data["threshold"]),
            dict(data.get("metrics", {})),
        )


@dataclass(frozen=True)
class Heads:
    """All heads of one training run, tied to the encoder that produced the embeddings."""

    encoder_version: str
    frames: dict[str, Head]
    migration: Head
    hostile: Head
    meta: dict[str, Any]
    version: str = ""

    def frame_matrix(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Codes, stacked weights [dim, n] and intercepts [n] for scoring all frames at once."""
        codes = list(self.frames)
        weights = np.stack([self.frames[c].coef for c in codes], axis=1)
        return codes, weights, np.array([self.frames[c].intercept for c in codes])


def save_heads(heads: Heads, folder: Path) -> Path:
    """Write heads.json (stable key order, so a rebuild with the same data diffs empty)."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "encoder_version": heads.encoder_version,
        "meta": heads.meta,
        "migration": heads.migration.to_json(),
        "hostile": heads.hostile.to_json(),
        "frames": {code: head.to_json() for code, head in heads.frames.items()},
    }
    path = folder / HEADS_FILE
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_heads(folder: Path | None = None) -> Heads:
    """Read heads.json from a folder (default: the heads committed with framewatch)."""
    path = (folder or HEADS_DIR) / HEADS_FILE
    if not path.exists():
        raise FileNotFoundError(f"no classifier heads at {path}: run `make heads`")
    raw = path.read_bytes()
    data = json.loads(raw)
    return Heads(
        encoder_version=data["encoder_version"],
        frames={c: Head.from_json(c, h) for c, h in data["frames"].items()},
        migration=Head.from_json("migration", data["migration"]),
        hostile=Head.from_json("hostile", data["hostile"]),
        meta=data.get("meta", {}),
        version=hashlib.sha1(raw).hexdigest()[:8],
    )
