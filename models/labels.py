"""The label set: ten immigration-specific frames in three groups, from one data file.

``models/labels.yaml`` holds, for every label, its group and a display name and description
in every supported language (the codebook, ../shared/notes/taxonomy.md, in each language).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LABELS_FILE = Path(__file__).parent / "labels.yaml"
GROUPS = ("threat", "victim", "hero")


@dataclass(frozen=True)
class Label:
    """One frame code with its group and per-language texts."""

    code: str
    group: str
    names: dict[str, str]
    descriptions: dict[str, str]

    def name(self, lang: str) -> str:
        """Display name in a language, English when the language has none."""
        return self.names.get(lang) or self.names.get("en") or self.code


@dataclass(frozen=True)
class LabelSet:
    """All labels, in file order, and the group names."""

    labels: tuple[Label, ...]
    group_names: dict[str, dict[str, str]]
    _names: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def codes(self) -> tuple[str, ...]:
        """Label codes in file order."""
        return tuple(label.code for label in self.labels)

    def group_of(self, code: str) -> str:
        """The group (threat/victim/hero) of a code."""
        return next(label.group for label in self.labels if label.code == code)

    def strongest_group(self, scores: Mapping[str, float], assigned: Iterable[str]) -> str:
        """The group of the highest-scoring assigned label; "none" when none is assigned."""
        codes = list(assigned)
        return self.group_of(max(codes, key=lambda c: scores[c])) if codes else "none"

    def get(self, code: str) -> Label:
        """The label with this code."""
        return next(label for label in self.labels if label.code == code)

    def names(self, lang: str) -> dict[str, str]:
        """Code -> display name in a language (English where it has none).

        Cached per label set and language, since every report, pack and page asks for it;
        callers must not change the dict they get. The cache lives on the instance (a
        LabelSet holds dicts, so it cannot be a functools.cache key).
        """
        if lang not in self._names:
            self._names[lang] = {label.code: label.name(lang) for label in self.labels}
        return self._names[lang]


@lru_cache(maxsize=1)
def load_labels(path: Path = LABELS_FILE) -> LabelSet:
    """Read and check the label file."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    labels = tuple(
        Label(
            code,
            str(entry["group"]),
            dict(entry.get("names", {})),
            dict(entry.get("descriptions", {})),
        )
        for code, entry in data["labels"].items()
    )
    bad = [
        label.code
        for label in labels
        if label.group not in GROUPS or not label.code.startswith(label.group + "_")
    ]
    if bad:
        raise ValueError(f"{path}: labels with a wrong group: {bad}")
    return LabelSet(labels, {g: dict(v) for g, v in data.get("groups", {}).items()})
