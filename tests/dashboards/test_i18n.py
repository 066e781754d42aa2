"""Translation catalogues and locale formats: every language is first-class."""

from __future__ import annotations

import re
from datetime import date

import pytest

from dashboards.i18n import (
    LANGUAGES,
    TRANSLATIONS_DIR,
    _catalogue,
    fmt_date,
    fmt_number,
    fmt_pct,
    translator,
)

DOMAINS = sorted(p.name for p in TRANSLATIONS_DIR.iterdir() if p.is_dir())
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_the_report_domain_exists() -> None:
    assert "report" in DOMAINS


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_every_key_and_placeholder(domain: str, lang: str) -> None:
    # The catalogues as loaded, before English fills gaps: a missing file or key shows here.
    english, other = _catalogue(domain, "en"), _catalogue(domain, lang)
    assert english and set(other) == set(english), set(other) ^ set(english)
    for key, text in english.items():
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
