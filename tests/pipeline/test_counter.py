"""The counter-narrative bank: the shipped starter bank, a city's override, the validation."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from models.labels import load_labels
from pipeline.counter import (
    GENERAL,
    Citation,
    CounterBankError,
    CounterEntry,
    Fact,
    Guidance,
    Suggestion,
    bank_keys,
    entries_for,
    load_bank,
)
from pipeline.language import SUPPORTED

T = TypeVar("T")
LANGS = tuple(SUPPORTED)
SOURCE = {
    "title": "Our city in figures",
    "publisher": "City statistics office",
    "year": 2025,
    "url": "https://stats.example.org/city",
}


def texts(word: str) -> dict[str, str]:
    """A distinct text per language, as a city's translator would write it."""
    return {lang: f"{word} ({lang})." for lang in LANGS}


def write(tmp_path: Path, data: object) -> Path:
    """An override file with this content."""
    path = tmp_path / "city-bank.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def all_items(bank: dict[str, CounterEntry]) -> list[tuple[str, Guidance | Fact]]:
    """Every guidance item and fact of a bank, with its key."""
    items: list[tuple[str, Guidance | Fact]] = []
    for key, entry in bank.items():
        items += [(key, g) for g in entry.guidance] + [(key, f) for f in entry.facts]
    return items


# --- the shipped starter bank -------------------------------------------------------------


def test_shipped_bank_covers_general_and_every_frame_code() -> None:
    bank = load_bank()
    assert set(bank) == {GENERAL, *load_labels().codes}
    for key, entry in bank.items():
        assert entry.key == key
        assert 2 <= len(entry.guidance) <= 4, key


def test_every_shipped_text_is_in_all_languages_and_translated() -> None:
    for key, item in all_items(load_bank()):
        assert set(item.text) == set(LANGS), key
        assert all(text.strip() for text in item.text.values()), key
        # Two languages with byte-identical text mean one of them was not translated.
        for a, b in itertools.combinations(LANGS, 2):
            assert item.text[a] != item.text[b], (key, a, b, item.text[a])


def test_every_shipped_item_names_a_source_with_a_web_link() -> None:
    for key, item in all_items(load_bank()):
        source = item.source
        assert source.title and source.publisher, key
        assert re.match(r"https?://[^/\s]+", source.url), (key, source.url)
        assert 1990 <= source.year <= 2030, (key, source.year)


def test_every_shipped_fact_has_source_and_as_of() -> None:
    facts = [(key, f) for key, f in all_items(load_bank()) if isinstance(f, Fact)]
    assert facts, "the starter bank ships at least one sourced fact"
    for key, fact in facts:
        assert fact.source.url.startswith("https://"), key
        assert re.fullmatch(r"\d{4}(-\d{2}){0,2}(/\d{4}(-\d{2}){0,2})?", fact.as_of), key


def test_shipped_guidance_keeps_figures_in_facts() -> None:
    # No unsourced statistic: a figure in guidance would be cited to a practice guide, not to
    # the statistic's publisher, so the starter bank keeps every figure in `facts`.
    for key, item in all_items(load_bank()):
        if isinstance(item, Guidance):
            digits = {lang: t for lang, t in item.text.items() if re.search(r"\d", t)}
            assert not digits, (key, digits)


def test_a_bank_file_is_read_once_per_process_and_callers_get_a_copy(tmp_path: Path) -> None:
    path = write(tmp_path, {"threat_jobs": {"facts": []}})
    first = load_bank(path)
    first.clear()  # a caller changing its dict must not change the next caller's
    path.write_text("threat_jobs: [unclosed\n", encoding="utf-8")  # edited after loading
    again = load_bank(tmp_path / "." / path.name)  # the same file, spelt differently
    assert again["threat_jobs"].facts == () and set(again) == set(bank_keys())


# --- a city's override file ---------------------------------------------------------------


def test_override_replaces_one_frame_and_keeps_the_others(tmp_path: Path) -> None:
    starter = load_bank()
    override = {
        "threat_jobs": {
            "guidance": [{"text": texts("Talk to the job centre"), "source": SOURCE}],
            "facts": [{"text": texts("Local figure 12"), "source": SOURCE, "as_of": "2025-06"}],
        }
    }
    bank = load_bank(write(tmp_path, override))
    jobs = bank["threat_jobs"]
    assert [g.text["de"] for g in jobs.guidance] == ["Talk to the job centre (de)."]
    assert [(f.text["hr"], f.as_of) for f in jobs.facts] == [("Local figure 12 (hr).", "2025-06")]
    assert jobs.facts[0].source == Citation(
        "Our city in figures", "City statistics office", 2025, "https://stats.example.org/city"
    )
    assert {k: v for k, v in bank.items() if k != "threat_jobs"} == {
        k: v for k, v in starter.items() if k != "threat_jobs"
    }


def test_override_giving_only_facts_keeps_the_starter_guidance(tmp_path: Path) -> None:
    starter = load_bank()
    fact = {"text": texts("Our share is 7 per cent"), "source": SOURCE, "as_of": 2024}
    bank = load_bank(write(tmp_path, {"threat_fiscal": {"facts": [fact]}}))
    assert bank["threat_fiscal"].guidance == starter["threat_fiscal"].guidance
    assert [f.as_of for f in bank["threat_fiscal"].facts] == ["2024"]


def test_override_can_remove_starter_facts(tmp_path: Path) -> None:
    assert load_bank()["threat_invasion"].facts
    bank = load_bank(write(tmp_path, {"threat_invasion": {"facts": []}}))
    assert bank["threat_invasion"].facts == ()
    assert bank["threat_invasion"].guidance == load_bank()["threat_invasion"].guidance


def test_yaml_date_as_of_is_kept_as_iso_string(tmp_path: Path) -> None:
    path = tmp_path / "city.yaml"
    path.write_text(
        "hero_integration:\n  facts:\n    - as_of: 2025-03-31\n"
        f"      source: {yaml.safe_dump(SOURCE, default_flow_style=True).strip()}\n"
        "      text:\n" + "".join(f"        {lang}: Course places {lang}.\n" for lang in LANGS),
        encoding="utf-8",
    )
    assert load_bank(path)["hero_integration"].facts[0].as_of == "2025-03-31"


# --- validation: every refusal names the file and the key ---------------------------------


def guidance(**changes: object) -> dict[str, object]:
    """A valid guidance item, with some fields changed (None removes a field)."""
    item: dict[str, object] = {"text": texts("Say it well"), "source": dict(SOURCE)}
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


def fact(**changes: object) -> dict[str, object]:
    """A valid fact, with some fields changed (None removes a field)."""
    item: dict[str, object] = {"text": texts("Figure 3"), "source": dict(SOURCE), "as_of": "2025"}
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


def without(mapping: Mapping[str, T], key: str) -> dict[str, T]:
    """A copy of a mapping without one key."""
    return {k: v for k, v in mapping.items() if k != key}


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"threat_jobz": {"facts": []}}, "threat_jobz", r"unknown frame codes \['threat_jobz'\]"),
        (
            {"threat_jobs": {"guidance": [guidance(text=without(texts("x"), "hr"))]}},
            "threat_jobs.guidance[0].text",
            r"missing languages \['hr'\]",
        ),
        (
            {"victim_humanitarian": {"facts": [fact(text=texts("x") | {"pl": "  "})]}},
            "victim_humanitarian.facts[0].text",
            r"missing languages \['pl'\]",
        ),
        (
            {"threat_fiscal": {"facts": [fact(source=None)]}},
            "threat_fiscal.facts[0]",
            "unsourced fact",
        ),
        (
            {"threat_fiscal": {"facts": [fact(source=without(SOURCE, "url"))]}},
            "threat_fiscal.facts[0].source",
            r"missing \['url'\]",
        ),
        (
            {"threat_fiscal": {"facts": [fact(source=without(SOURCE, "title"))]}},
            "threat_fiscal.facts[0].source",
            r"missing \['title'\]",
        ),
        (
            {"threat_fiscal": {"facts": [fact(as_of=None)]}},
            "threat_fiscal.facts[0].as_of",
            "a fact needs as_of",
        ),
        (
            {"threat_fiscal": {"facts": [fact(as_of="last year")]}},
            "threat_fiscal.facts[0].as_of",
            "a fact needs as_of",
        ),
        (
            {
                "hero_contribution": {
                    "guidance": [guidance(source=SOURCE | {"url": "javascript:alert(1)"})]
                }
            },
            "hero_contribution.guidance[0].source.url",
            "must be an http",
        ),
        (
            {"general": {"guidance": [guidance(source=SOURCE | {"url": "www.example.org"})]}},
            "general.guidance[0].source.url",
            "must be an http",
        ),
        (
            {"threat_security": {"guidance": [guidance(source=None)]}},
            "threat_security.guidance[0]",
            "guidance names no source",
        ),
        (
            {"threat_jobs": {"guidance": [guidance(source=None, text=texts("Only 4 in 10"))]}},
            "threat_jobs.guidance[0]",
            "contains a figure",
        ),
        (
            {"threat_jobs": {"guidance": [guidance(source=SOURCE | {"year": "recent"})]}},
            "threat_jobs.guidance[0].source.year",
            "must be a year",
        ),
        (
            {"threat_jobs": {"guidence": []}},
            "threat_jobs",
            r"unknown fields \['guidence'\]",
        ),
        (
            {"threat_jobs": {"guidance": [guidance(text=texts("x") | {"nl": "Zeg het."})]}},
            "threat_jobs.guidance[0].text",
            r"unknown languages \['nl'\]",
        ),
        ({"threat_jobs": {"facts": "none"}}, "threat_jobs.facts", "must be a list"),
    ],
)
def test_bad_entries_are_refused_naming_file_and_key(
    tmp_path: Path, data: object, key: str, message: str
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(CounterBankError, match=message) as raised:
        load_bank(path)
    text = str(raised.value)
    assert str(path) in text
    assert key in text


def test_a_figure_free_guidance_without_source_gets_no_figure_hint(tmp_path: Path) -> None:
    path = write(tmp_path, {"threat_jobs": {"guidance": [guidance(source=None)]}})
    with pytest.raises(CounterBankError) as raised:
        load_bank(path)
    assert "guidance names no source" in str(raised.value)
    assert "contains a figure" not in str(raised.value)


def test_missing_file_and_broken_yaml_are_named(tmp_path: Path) -> None:
    with pytest.raises(CounterBankError, match="not found"):
        load_bank(tmp_path / "nowhere.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("threat_jobs: [unclosed\n", encoding="utf-8")
    with pytest.raises(CounterBankError, match="not valid YAML") as raised:
        load_bank(broken)
    assert str(broken) in str(raised.value)
    listed = write(tmp_path, ["threat_jobs"])
    with pytest.raises(CounterBankError, match="must be a mapping"):
        load_bank(listed)


# --- what the report shows ----------------------------------------------------------------


def test_entries_for_gives_general_once_then_each_frame_in_order() -> None:
    bank = load_bank()
    frames = ["threat_invasion", "hero_integration", "threat_invasion"]
    suggestions = entries_for(bank, frames, "de")
    keys = list(dict.fromkeys(s.frame for s in suggestions))
    assert keys == [GENERAL, "threat_invasion", "hero_integration"]
    invasion = bank["threat_invasion"]
    expected = [
        Suggestion("threat_invasion", "guidance", g.text["de"], g.source) for g in invasion.guidance
    ] + [
        Suggestion("threat_invasion", "fact", f.text["de"], f.source, f.as_of)
        for f in invasion.facts
    ]
    assert [s for s in suggestions if s.frame == "threat_invasion"] == expected
    assert sum(s.frame == GENERAL for s in suggestions) == len(bank[GENERAL].guidance)


def test_entries_for_speaks_the_report_language() -> None:
    bank = load_bank()
    for lang in LANGS:
        suggestions = entries_for(bank, ["victim_discrimination"], lang)
        assert suggestions[0].text == bank[GENERAL].guidance[0].text[lang]
        assert all(s.source.url for s in suggestions)
    assert entries_for(bank, ["threat_jobs"], "it") != entries_for(bank, ["threat_jobs"], "hr")


def test_entries_for_nothing_rose_is_empty_and_bad_input_is_refused() -> None:
    bank = load_bank()
    assert entries_for(bank, [], "fr") == []
    with pytest.raises(ValueError, match="unsupported language 'nl'"):
        entries_for(bank, ["threat_jobs"], "nl")
    with pytest.raises(ValueError, match=r"no counter-narrative entry for frames \['threat_x'\]"):
        entries_for(bank, ["threat_x"], "en")
