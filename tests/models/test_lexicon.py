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


# --- lexicon audit: metaphor coverage, guides, guide status (see shared/notes/terminology.md) ---

REQUIRED_METAPHOR_KINDS = {"water", "war", "animal"}
METAPHOR_KINDS = REQUIRED_METAPHOR_KINDS | {"burden", "disease"}
# The documented guide_status values (each lexicon file's header explains them).
GUIDE_STATUSES = {"national_guide", "general_guidance"}
# As terminology.md states it: a journalists' guide was found for these languages ...
NATIONAL_GUIDES = {
    "de": {"NdM-Glossar", "Bundeszentrale für politische Bildung (bpb)"},
    "it": {"Carta di Roma", "EMN Italy glossary"},
    "en": {"AP Stylebook", "PICUM Words Matter", "Ethical Journalism Network"},
    "pl": {"Waż słowa (Fundacja Ocalenie)", "migranciwpolsce.pl", "etykajezyka.pl"},
}
# ... and none for these, whose loaded terms cite general guidance only.
GENERAL_GUIDANCE = {
    "PICUM Words Matter",
    "IOM Glossary on Migration (2019)",
    "UNHCR",
    "Ethical Journalism Network",
}
GENERAL_LANGS = {"pt", "hr", "es", "fr"}
LANG_NAMES = {
    "de": "German",
    "it": "Italian",
    "en": "English",
    "pl": "Polish",
    "pt": "Portuguese",
    "hr": "Croatian",
    "es": "Spanish",
    "fr": "French",
}
TERMINOLOGY = LEXICON_DIR.parents[1].parent / "shared" / "notes" / "terminology.md"


def raw_lexicon(lang: str) -> dict:
    return yaml.safe_load((LEXICON_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("lang", sorted(SUPPORTED))
def test_every_language_has_water_war_and_animal_metaphors(lang: str) -> None:
    kinds = [str(m.get("kind", "")) for m in raw_lexicon(lang)["metaphors"]]
    assert set(kinds) <= METAPHOR_KINDS, f"{lang}: unknown metaphor kind in {set(kinds)}"
    assert set(kinds) >= REQUIRED_METAPHOR_KINDS, f"{lang}: kinds {set(kinds)}"
    terms = [str(m["term"]).lower() for m in raw_lexicon(lang)["metaphors"]]
    assert len(terms) == len(set(terms)), f"{lang}: duplicate metaphor entries"


@pytest.mark.parametrize("lang", sorted(SUPPORTED))
def test_every_loaded_term_cites_a_guide_of_its_file_and_has_alternatives(lang: str) -> None:
    raw = raw_lexicon(lang)
    guides = {g["name"]: g["url"] for g in raw["guides"]}
    assert guides and all(str(u).startswith("http") for u in guides.values())
    for entry in raw["loaded_terms"]:
        alternatives = entry.get("alternatives")
        assert alternatives and all(str(a).strip() for a in alternatives), f"{lang}: {entry}"
        guide = str(entry.get("guide", "")).strip()
        assert any(name in guide for name in guides), f"{lang}: {entry['term']!r} cites {guide!r}"
        assert str(entry.get("url", "")).startswith("http"), f"{lang}: {entry['term']!r} has no URL"
    for entry in load_lexicon(lang).entries:
        if entry.kind == "loaded_term":  # what the report shows: the guide and an alternative
            assert entry.category and entry.alternatives


@pytest.mark.parametrize("lang", sorted(SUPPORTED))
def test_guide_status_is_documented_and_matches_terminology(lang: str) -> None:
    raw = raw_lexicon(lang)
    status = load_lexicon(lang).guide_status
    assert status in GUIDE_STATUSES
    names = {g["name"] for g in raw["guides"]}
    note = str(raw.get("guide_note", ""))
    if lang in GENERAL_LANGS:
        assert status == "general_guidance"
        assert "no national" in note.lower() and "guide" in note.lower()
        assert names <= GENERAL_GUIDANCE, f"{lang}: cites {names - GENERAL_GUIDANCE}"
    else:
        assert status == "national_guide"
        assert NATIONAL_GUIDES[lang] <= names
        assert names <= NATIONAL_GUIDES[lang] | GENERAL_GUIDANCE
        assert note.strip()


def test_guides_are_those_of_terminology_notes() -> None:
    if not TERMINOLOGY.exists():
        pytest.skip(f"{TERMINOLOGY} not present (../shared is not part of a fresh clone)")
    text = TERMINOLOGY.read_text(encoding="utf-8").replace('"', "")
    # "## German: NdM-Glossar ..." -> that section's text
    sections = {part.split("\n", 1)[0]: part for part in text.split("\n## ")[1:]}
    for lang in SUPPORTED:
        name = LANG_NAMES[lang]
        section = next(s for h, s in sections.items() if name in h.split(":")[0])
        if lang in GENERAL_LANGS:
            assert "No national journalism guide" in section, lang
        else:
            for guide in NATIONAL_GUIDES[lang]:
                assert guide.split(" (")[0] in section, (lang, guide)
        for guide in {g["name"] for g in raw_lexicon(lang)["guides"]}:
            assert guide.split(" (")[0] in text, (lang, guide)


@pytest.mark.parametrize(
    ("lang", "text", "metaphor", "loaded"),
    [
        (
            "de",
            "Ein Ratsherr warnte im Sozialausschuss vor einer Migrantenflut: Die Stadt werde "
            "von Asylanten regelrecht belagert.",
            "belagert",  # by lemma: the entry is "belagern"
            "Asylanten",
        ),
        (
            "en",
            "At the meeting a councillor claimed the town was being swamped by a flood of "
            "illegal immigrants.",
            "swamped",
            "illegal immigrants",
        ),
        (
            "it",
            "In consiglio comunale il capogruppo ha parlato di un'ondata di clandestini "
            "sbarcati a Lampedusa.",
            "ondata",
            "clandestini",
        ),
        (
            "pl",
            "Radny ostrzegał przed szturmem na granicę, jaki mieli przypuścić nielegalni "
            "imigranci, i przed hordami nachodźców.",
            "hordami",
            "nielegalni imigranci",
        ),
        (
            "hr",
            "Vijećnik je ustvrdio da ilegalci nadiru preko granice i da je grad pod opsadom.",
            "pod opsadom",
            "ilegalci",
        ),
        (
            "es",
            "El concejal habló de una avalancha en la valla y de inmigrantes ilegales que "
            "llegan cada noche.",
            "avalancha",
            "inmigrantes ilegales",
        ),
        (
            "fr",
            "Le maire a dénoncé une vague migratoire et des migrants illégaux qui assiègent "
            "la ville.",
            "assiègent",  # by lemma
            "migrants illégaux",
        ),
        (
            "pt",
            "O vereador disse que os imigrantes ilegais chegam numa enxurrada e que a cidade "
            "está sob cerco.",
            "enxurrada",
            "imigrantes ilegais",
        ),
    ],
)
def test_metaphor_and_loaded_term_in_a_realistic_sentence(
    lang: str, text: str, metaphor: str, loaded: str
) -> None:
    hits = hits_of(text, lang)  # checks that every hit's offsets slice to its text
    metaphors = {h.text: h for h in hits if h.kind == "metaphor"}
    loaded_terms = {h.text: h for h in hits if h.kind == "loaded_term"}
    assert metaphor in metaphors, [(h.kind, h.text) for h in hits]
    assert loaded in loaded_terms, [(h.kind, h.text) for h in hits]
    m, lt = metaphors[metaphor], loaded_terms[loaded]
    assert m.category in METAPHOR_KINDS
    assert text[m.start : m.end] == metaphor and m.start == text.index(metaphor)
    assert text[lt.start : lt.end] == loaded and lt.start == text.index(loaded)
    assert lt.alternatives and lt.category


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        (
            "de",
            "Die Hitzewelle legte die Straßenbahnen lahm. Der FC holte zwei ausländische Spieler.",
        ),
        ("en", "A heat wave closed schools in Cork, and the council approved a new bus route."),
        ("it", "Il Brescia ha ingaggiato due giocatori stranieri. Caldo record in provincia."),
        ("pl", "Nad Zalewem Wiślanym trwa migracja ptaków, a upały potrwają do niedzieli."),
        ("hr", "Azil za pse u Sisku traži udomitelje, a strani igrači stigli su u HNK Rijeka."),
        (
            "es",
            "La ola de calor cerró piscinas en Valencia y el club fichó a un jugador extranjero.",
        ),
        ("fr", "La vague de chaleur a fermé les écoles; le club a recruté un joueur étranger."),
        ("pt", "A onda de calor fechou praias e a migração de dados do município terminou."),
    ],
)
def test_ordinary_news_has_no_migration_terms(lang: str, text: str) -> None:
    # Migration terms gate relevance, so the usual false friends must not match them
    # (metaphors may: they are only counted in migration articles).
    assert [h.term for h in hits_of(text, lang) if h.kind == "migration_term"] == []
