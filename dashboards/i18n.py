"""Translations of report strings: data files under ``dashboards/translations``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
FALLBACK = "en"


@cache
def _catalogue(lang: str) -> dict[str, str]:
    """The strings of one language ({} if the language has no file)."""
    path = TRANSLATIONS_DIR / f"{lang}.yaml"
    if not path.exists():
        return {}
    return {k: str(v) for k, v in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items()}


def translator(lang: str) -> dict[str, str]:
    """All strings for a language, English filling any key the language lacks."""
    return {**_catalogue(FALLBACK), **_catalogue(lang)}
