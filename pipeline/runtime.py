"""Building the heavy objects once: the encoder, the heads, the classifier."""

from __future__ import annotations

import os
from functools import lru_cache

from models.classify import Classifier
from models.encoder import Encoder
from models.heads import load_heads
from pipeline.config import Settings

PREFECT_DEFAULTS = {
    # Offline-friendly Prefect: no telemetry, and time for a cold temporary server here.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


def prefect_defaults() -> None:
    """Set Prefect's offline defaults unless the user set them (call before importing it)."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)


def load_encoder(settings: Settings) -> Encoder:
    """The configured encoder (bundled e5-small and its ONNX graph are built once)."""
    return _encoder(
        settings.encoder,
        str(settings.model_cache),
        settings.device,
        settings.allow_download,
        settings.backend,
    )


@lru_cache(maxsize=2)
def _encoder(
    model: str, cache: str, device: str | None, allow_download: bool, backend: str
) -> Encoder:
    """Cached per configuration: loading weights takes seconds."""
    from pathlib import Path

    return Encoder.load(
        model, Path(cache), device=device, allow_download=allow_download, backend=backend
    )


def load_classifier(settings: Settings) -> Classifier:
    """Encoder + heads; refuses heads trained on another encoder's embeddings."""
    encoder = load_encoder(settings)
    heads = load_heads(settings.heads)
    if heads.encoder_version != encoder.version:
        # Heads are linear layers on one encoder's embedding space: on another they are noise.
        raise RuntimeError(
            f"the classifier heads were trained on {heads.encoder_version}, the configured "
            f"encoder is {encoder.version}: train heads for it (`framewatch train --out DIR`) "
            "and set FRAMEWATCH_HEADS=DIR"
        )
    return Classifier(encoder, heads, batch_size=settings.batch_size)
