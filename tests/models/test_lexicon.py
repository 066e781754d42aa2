"""The lexicon layer and sentence splitting on real spaCy pipelines (no mocks)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from models.lexicon import LEXICON_DIR, get_lexicon, load_lexicon
from models.nlp import SUPPORTED, split_sentences
from pipeline.records import TermHit

LEXICON_FILES = sorted(LEXICON_DIR.glob("*.yaml"))


def hits_of(text: str, lang: str) -> list[TermHit]:
    hits = get_lexicon(lang).match(text)
    for hit in hits:
        assert text[hit.start : hit.end] == hit.text, hit
    return hits


def test_german_loaded_term_and_metaphor_by_surface_form() -> None:
    text = (
        "Im Stadtrat war von einer Flüchtlingswelle die Rede.\n"
        "Ein Redner nannte die Neuankömmlinge Wirtschaftsflüchtlinge und Heuschrecken."
    )
    hits = hits_of(text, "de")
    found = {(h.kind, h.term, h.text) for h in hits}
    assert ("metaphor", "flüchtlingswelle", "Flüchtlingswelle") in found
    assert ("loaded_term", "flüchtlingswelle", "Flüchtlingswelle") in found
    assert ("loaded_term", "wirtschaftsflüchtlinge", "Wirtschaftsflüchtlinge") in found
    assert ("metaphor", "heuschrecken", "Heuschrecken") in found
    # the second paragraph's offsets are counted from the start of the whole text
    heu = next(h for h in hits if h.term == "heuschrecken")
    assert heu.start == text.index("Heuschrecken") and heu.category == "animal"
    loaded = next(h for h in hits if h.kind == "loaded_term" and h.term == "flüchtlingswelle")
    assert loaded.alternatives and loaded.category  # the guide's alternative and its name


def test_german_metaphor_found_by_lemma() -> None:
    # "durchfütterte" is not listed; its lemma is the listed "durchfüttern"
    text = "Die Gemeinde durchfütterte angeblich Hunderte Menschen."
    hits = hits_of(text, "de")
    assert [(h.kind, h.term, h.text) for h in hits] == [
        ("metaphor", "durchfüttern", "durchfütterte")
    ]
    assert hits[0].start == text.index("durchfütterte")


def test_german_noun_inflection_found_by_lemma() -> None:
    text = "Ein Redner verglich die Zuwanderung mit Seuchen."
    assert ("metaphor", "seuche") in {(h.kind, h.term) for h in hits_of(text, "de")}


def test_polish_inflected_loaded_term() -> None:
    text = (
        "Radny mówił o nielegalnych migrantów na granicy.\n"
        "Gazeta pisała o fali migrantów i o inwazji."
    )
    hits = hits_of(text, "pl")
    found = {(h.kind, h.term, h.text) for h in hits}
    assert ("loaded_term", "nielegalnych migrantów", "nielegalnych migrantów") in found
    assert ("loaded_term", "fali migrantów", "fali migrantów") in found
    assert ("metaphor", "inwazji", "inwazji") in found
    fala = next(h for h in hits if h.term == "fali migrantów")
    assert fala.start == text.index("fali migrantów")


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        (
            "de",
            "Der FC Oberhausen gewann am Samstag mit 3:1 gegen Rot-Weiss Essen. "
            "Die Fans feierten bis spät in die Nacht.",
        ),
        (
            "en",
            "Dublin Rovers beat Cork City 2-0 on Saturday night. The striker scored "
            "twice in the second half.",
        ),
        ("pl", "Lechia Gdańsk wygrała w sobotę z Wisłą Kraków 2:1. Kibice świętowali do późna."),
    ],
)
def test_sports_sentence_has_no_hits(lang: str, text: str) -> None:
    assert get_lexicon(lang).match(text) == []


@pytest.mark.parametrize("path", LEXICON_FILES, ids=lambda p: p.stem)
def test_every_lexicon_file_loads_and_cites_a_guide(path: Path) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert raw["lang"] == path.stem
    lexicon = load_lexicon(path.stem)
    kinds = {e.kind for e in lexicon.entries}
    assert {"migration_term", "metaphor", "loaded_term"} <= kinds
    assert len(lexicon.entries) == (
        len(raw.get("migration_terms", []))
        + len(raw.get("metaphors", []))
        + len(raw.get("loaded_terms", []))
    )
    for entry in raw.get("loaded_terms", []):
        assert str(entry.get("guide", "")).strip(), f"{path.name}: {entry} has no guide"
    for entry in lexicon.entries:
        assert entry.term.strip()
    get_lexicon(path.stem)  # builds the matchers on the real pipeline


def test_every_supported_language_has_a_lexicon() -> None:
    assert {p.stem for p in LEXICON_FILES} >= set(SUPPORTED)
    for lang in SUPPORTED:
        assert load_lexicon(lang).guide_status != "none"


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        (
            "de",
            "Der Rat tagte am Montag. Es ging um Dr. Müllers Antrag zum Haushalt.\n\n"
            "  Die Sitzung dauerte drei Stunden! Danach gab es Fragen.\n"
            "Kurz.\nEin letzter Absatz ohne Punkt",
        ),
        (
            "pl",
            "Rada miasta obradowała w poniedziałek. Dyskutowano o budżecie na 2027 r.\n"
            "Sesja trwała trzy godziny. Potem były pytania mieszkańców?\n\n"
            "Ostatni akapit bez kropki",
        ),
        (
            "en",
            "The council met on Monday. Mr. Byrne asked about the budget.\n"
            "The session lasted three hours! Residents then asked questions.\n \n"
            "  A last paragraph without a full stop",
        ),
    ],
)
def test_sentence_offsets_slice_the_text(lang: str, text: str) -> None:
    sentences = split_sentences(text, lang)
    assert len(sentences) >= 5
    for s in sentences:
        assert text[s.start : s.end] == s.text
        assert "\n" not in s.text
        assert s.text == s.text.strip() and s.text
    starts = [s.start for s in sentences]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in pairwise(sentences))
    last_line = text.splitlines()[-1].strip()
    assert sentences[-1].text == last_line
