"""Words and formats of each language: string catalogues (data files) and Babel's locale data.

Strings live in ``dashboards/translations/<domain>/<lang>.yaml``, one domain per surface
(``report``, ``app`` for the dashboard, ``pack`` for training packs, ``alerts``), so that a
translator edits plain files and two surfaces never fight over one key; words that must read
the same everywhere (the trend verdicts) live once in ``common``. English fills any key a
language lacks. Numbers, percentages and dates go through Babel (CLDR data), so a German
reader sees "12 %" and "23.11.2026", a Polish one "12%" and "23 lis 2026".
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

import yaml
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from pipeline.language import SUPPORTED

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
FALLBACK = "en"
LANGUAGES = SUPPORTED  # every language framewatch detects has its strings: one list


@cache
def _catalogue(domain: str, lang: str) -> dict[str, str]:
    """The strings of one domain and language ({} if there is no file)."""
    path = TRANSLATIONS_DIR / domain / f"{lang}.yaml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in data.items()}


COMMON = "common"  # words every surface shares (the trend verdicts), so they never diverge


def translator(lang: str, domain: str = "report") -> dict[str, str]:
    """All strings of a domain for a language, with the shared ``common`` words; English
    fills any key the language lacks."""
    return {
        **_catalogue(COMMON, FALLBACK),
        **_catalogue(COMMON, lang),
        **_catalogue(domain, FALLBACK),
        **_catalogue(domain, lang),
    }


@cache
def locale(lang: str) -> Locale:
    """Babel's locale for a language code; English when Babel does not know it."""
    try:
        return Locale.parse(lang)
    except (ValueError, UnknownLocaleError):
        return Locale.parse(FALLBACK)


def fmt_pct(value: float, lang: str) -> str:
    """A share (0..1) as a whole percentage in the language's convention."""
    return str(format_percent(value, locale=locale(lang)))


def fmt_number(value: float, lang: str, digits: int = 0) -> str:
    """A number with the language's grouping and decimal signs."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(value, pattern, locale=locale(lang)))


def fmt_date(value: date | datetime, lang: str, style: str = "medium") -> str:
    """A date as the language writes it (style: short, medium, long)."""
    day = value.date() if isinstance(value, datetime) else value
    return str(format_date(day, style, locale=locale(lang)))


def fmt_period(start: datetime, end: datetime, lang: str) -> str:
    """A half-open period [start, end) as its first and last day, e.g. '16.11.2026 – 22.11.2026'."""
    return f"{fmt_date(start, lang)} – {fmt_date(end - timedelta(days=1), lang)}"
