"""Data files are read as YAML, where a bare no, on, yes or off is a boolean, not a word.

Word lists (pronouns, place words, speech verbs) hold short words such as Portuguese "no"
or Polish "on"; unquoted, YAML turns them into False/True and the word silently drops out
of every rule that uses it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DATA = sorted(
    p
    for folder in ("models", "pipeline", "dashboards", "sources")
    for p in (REPO / folder).rglob("*.yaml")
)


def _booleans_in_lists(value: object, where: str = "") -> list[str]:
    """Paths of booleans that stand inside a list (a word list), recursively."""
    if isinstance(value, dict):
        return [b for k, v in value.items() for b in _booleans_in_lists(v, f"{where}.{k}")]
    if isinstance(value, list):
        found = [f"{where}[{i}]" for i, v in enumerate(value) if isinstance(v, bool)]
        return found + [b for v in value for b in _booleans_in_lists(v, where)]
    return []


def test_there_are_data_files() -> None:
    assert len(DATA) > 20


@pytest.mark.parametrize("path", DATA, ids=lambda p: str(p.relative_to(REPO)))
def test_word_lists_hold_no_yaml_booleans(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert _booleans_in_lists(data) == [], "quote words like no/on/yes/off in " + str(path)
