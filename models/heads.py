"""Classifier heads: small logistic-regression layers on frozen sentence embeddings.

One head per frame label, one for migration relevance, one for hostility, and a four-way
group head (threat / victim / hero / none). A binary head is a weight vector, a bias, a Platt
calibration (so its outputs are probabilities whose reliability was measured) and decision
thresholds for sentences and for articles, all chosen by cross-validation on training data
only. Everything lives in one JSON file together with the metrics measured while training,
so the committed file says how good it is and what it was trained on.
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


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, safe for large |z|."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


@dataclass(frozen=True)
class Head:
    """A calibrated linear head: p = sigmoid(a * (x · coef + intercept) + b).

    ``threshold`` decides a sentence; ``article_threshold`` decides an article from the
    noisy-or of its best sentences (see models/classify.py). Both are on the calibrated scale.
    """

    name: str
    coef: np.ndarray
    intercept: float
    threshold: float
    metrics: dict[str, Any] = field(default_factory=dict)
    calibration: tuple[float, float] = (1.0, 0.0)
    article_threshold: float | None = None

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Uncalibrated scores for rows of embeddings (also what attribution decomposes)."""
        return np.asarray(x.astype(np.float64) @ self.coef + self.intercept)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for rows of embeddings."""
        if x.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        a, b = self.calibration
        return sigmoid(a * self.logits(x) + b).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (weights rounded: 7 digits change no decision)."""
        return {
            "coef": [round(float(v), 7) for v in self.coef],
            "intercept": round(self.intercept, 7),
            "calibration": [round(v, 6) for v in self.calibration],
            "threshold": self.threshold,
            "article_threshold": self.article_threshold,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> Head:
        """Rebuild a head from its JSON dict."""
        a, b = data.get("calibration", (1.0, 0.0))
        article = data.get("article_threshold")
        return cls(
            name,
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
            float(data["threshold"]),
            dict(data.get("metrics", {})),
            (float(a), float(b)),
            None if article is None else float(article),
        )


@dataclass(frozen=True)
class GroupHead:
    """Multinomial head over threat / victim / hero / none, temperature-calibrated."""

    classes: tuple[str, ...]
    coef: np.ndarray  # [dim, classes]
    intercept: np.ndarray  # [classes]
    temperature: float = 1.0
    metrics: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities [rows, classes]."""
        z = (x.astype(np.float64) @ self.coef + self.intercept) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def predict(self, x: np.ndarray) -> list[str]:
        """The most probable group of every row."""
        if x.shape[0] == 0:
            return []
        return [self.classes[i] for i in self.predict_proba(x).argmax(axis=1)]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "classes": list(self.classes),
            "coef": [[round(float(v), 7) for v in row] for row in self.coef.T],
            "intercept": [round(float(v), 7) for v in self.intercept],
            "temperature": round(self.temperature, 6),
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroupHead:
        """Rebuild from its JSON dict."""
        return cls(
            tuple(data["classes"]),
            np.asarray(data["coef"], dtype=np.float64).T,
            np.asarray(data["intercept"], dtype=np.float64),
            float(data.get("temperature", 1.0)),
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
    group: GroupHead | None = None
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
        "group": heads.group.to_json() if heads.group else None,
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
        group=GroupHead.from_json(data["group"]) if data.get("group") else None,
        version=hashlib.sha1(raw).hexdigest()[:8],
    )
