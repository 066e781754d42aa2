"""Fine-tuning the encoder on framewatch's data: the path for users with a GPU.

Frozen embeddings plus linear heads are what a 2-core CPU can train in minutes, and what
framewatch ships. Research on the same frame family (Mendelsohn et al. 2021) fine-tunes the
whole transformer; this module does that, multi-task: one shared encoder, a multi-label
frame layer (binary cross-entropy, unknown labels masked), a four-way group layer and a
hostility layer, each loss only over the examples that inform it. The output is an ordinary
transformers folder with framewatch provenance; point ``FRAMEWATCH_ENCODER`` at it and run
``framewatch train`` so heads, thresholds and cross-validated figures are made for it.
Note that cv.json figures of a fine-tuned encoder are optimistic unless the folds used to
measure it were also left out of fine-tuning: hold data out before you fine-tune.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.data import Example, digest
from models.encoder import DEFAULT_MODEL_ALIAS, ensure_default_model
from models.labels import load_labels
from models.metrics import GROUPS
from pipeline.config import Settings


@dataclass(frozen=True)
class FineTuneConfig:
    """Hyper-parameters; defaults follow common practice for small BERT encoders."""

    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 3e-5
    max_length: int = 128
    warmup: float = 0.1
    seed: int = 0


@dataclass(frozen=True)
class FineTuneResult:
    """What a fine-tuning run did."""

    examples: int
    steps: int
    seconds: float
    device: str
    final_loss: float


class _MultiTask(torch.nn.Module):
    """Encoder + frame, group and hostility layers on the mean-pooled token states."""

    def __init__(self, encoder: Any, labels: int) -> None:
        super().__init__()
        self.encoder = encoder
        dim = int(encoder.config.hidden_size)
        self.frames = torch.nn.Linear(dim, labels)
        self.group = torch.nn.Linear(dim, len(GROUPS))
        self.hostile = torch.nn.Linear(dim, 1)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Logits of the three tasks."""
        states = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1)
        return self.frames(pooled), self.group(pooled), self.hostile(pooled).squeeze(-1)


def _targets(batch: Sequence[Example], codes: Sequence[str]) -> dict[str, torch.Tensor]:
    """Targets and masks of a batch (a mask is 0 where the example says nothing)."""
    frames = [[float(c in (e.labels or ())) for c in codes] for e in batch]
    frame_mask = [[float(e.labels is not None and c not in e.unsure) for c in codes] for e in batch]
    return {
        "frames": torch.tensor(frames),
        "frame_mask": torch.tensor(frame_mask),
        "group": torch.tensor([GROUPS.index(e.group) if e.group else 0 for e in batch]),
        "group_mask": torch.tensor([float(e.group is not None) for e in batch]),
        "hostile": torch.tensor([float(bool(e.hostile)) for e in batch]),
        "hostile_mask": torch.tensor([float(e.hostile is not None) for e in batch]),
    }


def _loss(out: tuple[torch.Tensor, ...], t: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of the three masked losses, each averaged over the examples it applies to."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    frames = (bce(out[0], t["frames"], reduction="none") * t["frame_mask"]).sum()
    frames = frames / t["frame_mask"].sum().clamp(min=1)
    group = torch.nn.functional.cross_entropy(out[1], t["group"], reduction="none")
    group = (group * t["group_mask"]).sum() / t["group_mask"].sum().clamp(min=1)
    hostile = (bce(out[2], t["hostile"], reduction="none") * t["hostile_mask"]).sum()
    return frames + group + hostile / t["hostile_mask"].sum().clamp(min=1)


def _base_source(settings: Settings) -> str:
    """The folder or model id to start from (the bundled e5 is built first if needed)."""
    if settings.encoder == DEFAULT_MODEL_ALIAS:
        return str(ensure_default_model(settings.model_cache))
    return settings.encoder


def _device(settings: Settings) -> torch.device:
    """The configured device, else CUDA when present."""
    if settings.device:
        return torch.device(settings.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _seed(seed: int) -> None:
    """Seed every generator the run uses."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fine_tune(
    settings: Settings, examples: Sequence[Example], out: Path, config: FineTuneConfig
) -> FineTuneResult:
    """Fine-tune the configured encoder on ``examples`` and save it to ``out``."""
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

    _seed(config.seed)
    source, local = _base_source(settings), not settings.allow_download
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
    encoder = AutoModel.from_pretrained(source, local_files_only=local, add_pooling_layer=False)
    codes = load_labels().codes
    device = _device(settings)
    model = _MultiTask(encoder, len(codes)).to(device)
    order = list(range(len(examples)))
    steps = config.epochs * max(1, -(-len(order) // config.batch_size))
    optim = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    sched = get_linear_schedule_with_warmup(optim, int(config.warmup * steps), steps)
    started, loss = time.perf_counter(), torch.tensor(0.0)
    model.train()
    for _ in range(config.epochs):
        random.shuffle(order)
        for i in range(0, len(order), config.batch_size):
            batch = [examples[j] for j in order[i : i + config.batch_size]]
            loss = _step(model, tokenizer, batch, codes, config, device)
            loss.backward()
            optim.step()
            sched.step()
            optim.zero_grad()
    _save(model.encoder, tokenizer, out, examples, config, source)
    return FineTuneResult(
        len(examples), steps, time.perf_counter() - started, str(device), float(loss.detach())
    )


def _step(
    model: _MultiTask,
    tokenizer: Any,
    batch: Sequence[Example],
    codes: Sequence[str],
    config: FineTuneConfig,
    device: torch.device,
) -> torch.Tensor:
    """The loss of one batch (inputs get the 'query: ' prefix the heads use)."""
    enc = tokenizer(
        ["query: " + e.text for e in batch],
        padding=True,
        truncation=True,
        max_length=config.max_length,
        return_tensors="pt",
    )
    inputs = {k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
    targets = {k: v.to(device) for k, v in _targets(batch, codes).items()}
    return _loss(model(inputs), targets)


def _save(
    encoder: Any,
    tokenizer: Any,
    out: Path,
    examples: Sequence[Example],
    config: FineTuneConfig,
    source: str,
) -> None:
    """The encoder as a transformers folder, with provenance that names its data."""
    out.mkdir(parents=True, exist_ok=True)
    encoder.save_pretrained(out)
    tokenizer.save_pretrained(out)
    data = digest(examples)
    provenance = {
        "model": f"{Path(source).name}-framewatch-ft",
        "version": f"{Path(source).name}-ft@{data}",
        "base": source,
        "data_digest": data,
        "config": asdict(config),
        "fine_tuned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / "framewatch.json").write_text(json.dumps(provenance, indent=1) + "\n", encoding="utf-8")
