"""Translation catalogues and locale formats: every language is first-class."""

from __future__ import annotations

import re
from datetime import date

import pytest
import yaml

from dashboards.i18n import LANGUAGES, TRANSLATIONS_DIR, fmt_date, fmt_number, fmt_pct, translator

DOMAINS = sorted(p.name for p in TRANSLATIONS_DIR.iterdir() if p.is_dir())
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _load(domain: str, lang: str) -> dict[str, str]:
    path = TRANSLATIONS_DIR / domain / f"{lang}.yaml"
    return {str(k): str(v) for k, v in yaml.safe_load(path.read_text(encoding="utf-8")).items()}


def test_the_report_domain_exists() -> None:
    assert "report" in DOMAINS


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_every_key_and_placeholder(domain: str, lang: str) -> None:
    english, other = _load(domain, "en"), _load(domain, lang)
    assert set(other) == set(english), set(other) ^ set(english)
    for key, text in english.items():
        if isinstance(text, str):
            assert set(PLACEHOLDER.findall(other[key])) == set(PLACEHOLDER.findall(text)), key


def test_missing_language_falls_back_to_english() -> None:
    assert translator("xx")["title"] == translator("en")["title"]


def test_formats_per_locale() -> None:
    assert fmt_pct(0.123, "de") == "12\xa0%" and fmt_pct(0.123, "en") == "12%"
    assert (
        fmt_number(12345.6, "pl", 1) == "12\xa0345,6" and fmt_number(12345.6, "en", 1) == "12,345.6"
    )
    assert fmt_date(date(2026, 11, 23), "de") == "23.11.2026"
    assert fmt_date(date(2026, 11, 23), "xx") == fmt_date(date(2026, 11, 23), "en")
