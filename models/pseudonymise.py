"""Pseudonyms for private persons in the excerpts of a training pack; public figures kept.

A training pack quotes local news about people who never chose to be in a trainer's slides:
the 34-year-old whose flat was searched, the neighbour quoted at the shelter. Their names are
replaced by a stable pseudonym in the pack's language ("Person A", "Persona A", "Osoba A");
the mayor, the councillor and the police spokesperson keep theirs, since what they say in
office is the point of the exercise.

How names are found (title and text of an article together, so that a surname alone in the
excerpt is known from the full name in the first paragraph):

1. Candidate names are runs of up to ``MAX_NAME_TOKENS`` capitalised words (spaCy ``Matcher``)
   that are no stop word, title, role or category word of ``models/voice/<lang>.yaml``, no
   listed place and no month. In German, which capitalises every noun, a word that the lookup
   lemmatizer inflects ('Rotes' -> 'rot') is no name either, nor the noun after an article or
   possessive ('sein Sohn Tim Schranz': only 'Tim Schranz' is replaced). A first name with an
   initial ('Mehmet A.') is a name. Words in capitals ('AYDIN') and social-media handles
   ('@ahmedkhan') are candidates too.
2. A run is a person's name when something says so: the named-entity model where one exists
   offline (en, fr: PERSON/PER entities), an honorific before it ('Frau', 'pani'), a speech
   verb or source marker next to it ('sagte Müller', 'según García', from the voice files), an
   age ('(34)', 'der 34-jährige', ', 34 anni'), a public role next to it, an initial after it,
   or, in the languages without a model, two or more name words together ('Mehmet Aydın').
   A common word of the language (``common_words``: spaCy lookup tables) needs more: an
   honorific, an age, a listed first name, or (one word, nouns in lower case) a speech cue;
   a run needs one uncommon word. Organisation words end a run ('Flüchtlingsrat Oberhausen').
   Wrong guesses lean towards pseudonymising: a club name taken for a person costs less than
   a neighbour named in a slide.
3. A name is public when a role word of ``models/lexicons/persons/public_roles.yaml`` or of the
   voice files' ``official``/``police`` categories stands right before it or after a comma
   ('Bürgermeister Daniel Schranz', 'Daniel Schranz, Oberbürgermeister'), when a party
   follows it in brackets ('Schranz (SPD)'), or when the city lists its full name (public
   figures file; a listed name never makes a one-word mention public).
4. Persons: a full name joins a person of the pack with the same first and last name (never a
   person known by a surname alone: that may be anyone). A single word with a cue and no full
   name of the same text is a person of its own. ``learn`` sees every text of the pack first;
   ``redact`` then resolves every single capitalised word (a sentence's first word, a word in
   capitals, inflected forms: 'Aydıns', 'Kowalskiemu' by a shared prefix as ``models.voice``
   does) against the persons of the same text, and failing that against every private person
   of the pack. When a private and a public person of the text share the word, the word is
   pseudonymised: it is ambiguous, and doubt counts for privacy.
5. A handle ('@ahmedkhan') that contains a private person's name becomes the pseudonym; one
   that contains only a public figure's name stays; any other becomes ``hidden_handle``
   ('@…'), since an account name is a name.

The text outside the replaced names is never changed (a first and last name replaced by one
pseudonym count as one name); offsets given with the text (the highlighted framing words) are
moved to where the same words stand afterwards. ``fold`` gives names the form they take in
URLs and capitals, so that ``pipeline.pack`` can tell a link that spells a hidden name.
"""

from __future__ import annotations

import gzip
import json
import re
import string
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import spacy
import spacy_lookups_data
import yaml
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.pipeline import Lemmatizer
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from models.nlp import REAL_PIPELINES, get_nlp, parse, stop_words
from models.voice import (
    MAX_ENDING,
    MIN_PREFIX,
    VoiceFile,
    VoiceFinder,
    get_voice,
    shared_prefix,
)

PERSONS_DIR = Path(__file__).parent / "lexicons" / "persons"
NER_LABELS = frozenset({"PERSON", "PER"})
MAX_NAME_TOKENS = 4
LETTERS = re.compile(r"^[^\W\d_]+(?:['’-][^\W\d_]+)*$")  # 'Aydın', "O'Neill", 'Jean-Pierre'
WINDOW_CHARS = 40  # characters before or after a name searched for an age
INITIAL = re.compile(r"^[^\W\d_]\.$")  # 'A.' in 'Mehmet A.', how the press names suspects
HANDLE = re.compile(r"(?<![\w@])@\w[\w.]*\w")  # '@ahmedkhan', '@ahmed.khan'
FILLER_POS = frozenset({"DET", "ADJ", "PUNCT"})  # what may stand between a role and a name
MIN_INSIDE = 4  # a name word this long is looked for inside handles and URL words
Offsets = tuple[int, int]


@dataclass(frozen=True)
class NameRules:
    """What says that a capitalised word is a private or a public person's name, in a language."""

    lang: str
    pseudonym: str
    age_before: re.Pattern[str] | None
    age_after: tuple[re.Pattern[str], ...]
    party: re.Pattern[str]
    suffixes: tuple[str, ...]
    not_names: frozenset[str]
    not_before: frozenset[str]  # with the voice file's locatives
    role_words: tuple[str, ...]
    role_stems: tuple[str, ...]
    max_gap: int
    hidden_handle: str
    org_words: frozenset[str] = frozenset()
    org_suffixes: tuple[str, ...] = ()


def _yaml(name: str) -> dict[str, Any]:
    """One data file of ``models/lexicons/persons``."""
    data: dict[str, Any] = yaml.safe_load((PERSONS_DIR / name).read_text(encoding="utf-8"))
    return data


def _lower(values: Iterable[object]) -> tuple[str, ...]:
    """Strings of a data list, lower case."""
    return tuple(str(v).lower() for v in values)


@cache
def load_rules(lang: str) -> NameRules:
    """The name rules of a language: ``names.yaml``, ``public_roles.yaml`` and the voice file's
    official and police words (read from there, so that a role is listed once)."""
    names, roles = _yaml("names.yaml"), _yaml("public_roles.yaml")
    own = names["languages"].get(lang) or names["languages"]["en"]
    role = roles["languages"].get(lang) or {}
    voice = get_voice(lang).file
    reused = [c for c in voice.categories if c.name in roles["voice_categories"]]
    before = str(own.get("age_before") or "")
    after = [str(names["age_after_common"])] + ([own["age_after"]] if own.get("age_after") else [])
    return NameRules(
        lang=lang,
        pseudonym=str(own["pseudonym"]),
        age_before=re.compile(rf"(?:{before})\W*{_between(voice)}$", re.I) if before else None,
        age_after=tuple(re.compile(p, re.I) for p in after),
        party=re.compile(str(roles["party_in_brackets"])),
        suffixes=_lower(own.get("suffixes") or ()),
        not_names=frozenset(_lower(own.get("not_names") or ())),
        not_before=frozenset(_lower(own.get("not_before") or ())) | voice.origin.locatives,
        role_words=_lower(role.get("words") or ()) + tuple(w for c in reused for w in c.words),
        role_stems=_lower(role.get("stems") or ()) + tuple(s for c in reused for s in c.stems),
        max_gap=int(roles["max_gap"]),
        hidden_handle=str(names["hidden_handle"]),
        org_words=frozenset(_lower(own.get("org_words") or ())),
        org_suffixes=_lower(own.get("org_suffixes") or ()),
    )


def _between(voice: VoiceFile) -> str:
    """The one word that may stand between an age and a name ('der 34-jährige Syrer Ahmad',
    '34-letni mieszkaniec Jan'). Where nouns are capitalised it must be one: 'Die
    41-Jährige erlitt Prellungen' is a verb and its object, not an age and a name."""
    if voice.capitalised_nouns:
        return r"(?:(?-i:[A-ZÄÖÜ])\w*\W+)?"
    return r"(?:\w+\W+)?"


@cache
def common_words(lang: str) -> frozenset[str]:
    """The language's dictionary words in lower case: forms and lemmas of its spaCy lookup
    tables (``dictionary_tables`` of ``names.yaml``); empty where the package has none.

    The tables also list proper nouns, marked by a capital ('grgić' -> 'Grgić',
    'Krzysztof'): outside German, where every noun is capitalised, a word the tables ever
    write with a capital is a name and left out."""
    tables = _yaml("names.yaml")["dictionary_tables"]
    common: set[str] = set()
    proper: set[str] = set()
    for table in tables.get(lang, tables["default"]):
        path = Path(str(spacy_lookups_data.get_file(f"{lang}_{table}.json.gz")))
        if path.exists():
            data: dict[str, object] = json.loads(gzip.decompress(path.read_bytes()))
            for key, lemma in data.items():
                words = [key] + ([lemma] if isinstance(lemma, str) else [])
                named = lang != "de" and any(w[:1].isupper() for w in words)
                (proper if named else common).update(w.lower() for w in words)
    return frozenset(common - proper)


@cache
def first_names() -> frozenset[str]:
    """First names that are dictionary words somewhere (``names.yaml``), folded."""
    return frozenset(fold(str(n)) for n in _yaml("names.yaml")["first_names"])


def is_common(word: str, lang: str) -> bool:
    """Whether a word is a common word of the language and no listed first name: alone it
    says nothing of a person ('Zeugen', 'Stazione'), so it needs an explicit cue."""
    return word.lower() in common_words(lang) and fold(word) not in first_names()


def pseudonym_label(lang: str, n: int) -> str:
    """The n-th pseudonym (from 0) in a language: 'Person A' … 'Person Z', 'Person A2' …"""
    letter = string.ascii_uppercase[n % 26] + (str(n // 26 + 1) if n >= 26 else "")
    return load_rules(lang).pseudonym.format(letter=letter)


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """A word in lower case without accents ('Aydın', 'AYDIN' -> 'aydin'): the form a name
    takes in URL slugs, handles and capitals, so that all of them are compared alike."""
    low = word.lower().translate(_fold_table())
    return "".join(c for c in unicodedata.normalize("NFKD", low) if not unicodedata.combining(c))


def slug_forms(word: str) -> set[str]:
    """The ways a URL slug writes a name word: folded ('müller' -> 'muller') and
    transliterated first ('mueller', ``slug_letters`` of ``names.yaml``)."""
    table = str.maketrans(dict(_yaml("names.yaml")["slug_letters"]))
    return {fold(word), fold(word.lower().translate(table))}


@cache
def _fold_table() -> dict[int, str]:
    """Letters without a Unicode decomposition and their plain form (``names.yaml``)."""
    return str.maketrans(dict(_yaml("names.yaml")["fold_letters"]))


def load_public_figures(path: Path | None) -> tuple[str, ...]:
    """The names a city lists as public figures: a YAML list, or a mapping with ``names:``."""
    if path is None:
        return ()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    items = data.get("names", []) if isinstance(data, dict) else data
    return tuple(str(x) for x in items)


# --- finding names in one text ------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    """A name in a text: characters [start, end), its words in lower case, what was said."""

    start: int
    end: int
    words: tuple[str, ...]
    person: bool  # something says it is a person's name (not only a capitalised word)
    public: bool  # a public role or party stands next to it
    parts: tuple[Offsets, ...] = ()  # each word's characters: a run that is no name is split
    handle: bool = False  # '@ahmedkhan': words holds the folded handle without '@'

    def split(self) -> list[Mention]:
        """The words of the run, each a one-word candidate without a cue of its own."""
        return [
            Mention(a, b, (w,), False, False, ((a, b),))
            for (a, b), w in zip(self.parts, self.words, strict=True)
        ]


class NameFinder:
    """Finds person names in one language (named-entity model or rules, see module doc)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.rules = load_rules(lang)
        self.voice: VoiceFinder = get_voice(lang)
        self.nlp = get_nlp(lang)
        self.excluded = self._excluded()
        self.runs = Matcher(self.nlp.vocab)
        word = {
            "IS_TITLE": True,
            "TEXT": {"REGEX": LETTERS.pattern},
            "LOWER": {"NOT_IN": sorted(self.excluded)},
        }
        self.runs.add("NAME", [[{**word, "OP": f"{{1,{MAX_NAME_TOKENS}}}"}]], greedy="LONGEST")
        initial = {"TEXT": {"REGEX": INITIAL.pattern}, "IS_TITLE": True}
        self.initials = Matcher(self.nlp.vocab)
        self.initials.add("INITIAL", [[{**word, "OP": "{1,2}"}, initial]], greedy="LONGEST")
        self.roles = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.roles.add("ROLE", [self.nlp.make_doc(w) for w in self.rules.role_words])

    def _excluded(self) -> frozenset[str]:
        """Lower-case words that are never part of a name: stop words, titles, cue words."""
        f = self.voice.file
        cats = {w for c in f.categories + f.extra for w in c.words if " " not in w}
        cues = {w for w in f.verbs + f.markers if " " not in w}
        roles = {w for w in self.rules.role_words if " " not in w}
        places = {w for p in f.origin.places for w in p.split()}
        return frozenset(
            stop_words(self.lang)
            | f.titles
            | cats
            | cues
            | roles
            | places
            | self.rules.not_names
            | self.rules.org_words  # 'Inspekcja' splits 'Państwowa Inspekcja Pracy'
        )

    def find(self, text: str) -> list[Mention]:
        """Every name-like run, word in capitals and handle of a text, in text order, with
        what its surroundings say about it."""
        parsed = parse(text, self.lang)
        ner = self._entities([doc.text for _, doc in parsed])
        mid = _mid_sentence_words(parsed)
        out: list[Mention] = []
        for (offset, doc), ents in zip(parsed, ner, strict=True):
            spans = self._spans(doc, ents)
            out += [self._mention(doc, span, offset, ents, mid) for span in spans]
            out += self._capitals(doc, offset, spans)
        return _without_handles(sorted(out, key=lambda m: m.start), handles(text))

    def _capitals(self, doc: Doc, offset: int, spans: list[Span]) -> list[Mention]:
        """Words in capitals outside the name runs ('AYDIN'): candidates without a cue, so
        that they are replaced only where they spell a known person's name."""
        taken = {t.i for span in spans for t in span}
        return [
            _word_mention(offset + t.idx, t.text)
            for t in doc
            if t.i not in taken
            and t.is_upper
            and len(t.text) > 1
            and LETTERS.match(t.text)
            and t.lower_ not in self.excluded
        ]

    def _entities(self, paragraphs: list[str]) -> list[list[tuple[int, int, bool]]]:
        """Entities of each paragraph as (start, end, is_person); none without a model."""
        if self.lang not in REAL_PIPELINES:
            return [[] for _ in paragraphs]
        return [
            [(e.start_char, e.end_char, e.label_ in NER_LABELS) for e in doc.ents]
            for doc in ner_pipeline(self.lang).pipe(paragraphs)
        ]

    def _spans(self, doc: Doc, ents: list[tuple[int, int, bool]]) -> list[Span]:
        """Name runs of a paragraph: the Matcher's runs, names with an initial and the model's
        PERSON entities, trimmed of words that cannot be part of a name."""
        found = [self._trim(doc[s:e]) for _, s, e in self.runs(doc)]
        found += [self._trim(doc[s : e - 1], initial=True) for _, s, e in self.initials(doc)]
        for start, end, is_person in ents:
            span = doc.char_span(start, end, alignment_mode="expand")
            if is_person and span is not None:
                found.append(self._trim(span, model=True))
        return list(filter_spans([s for s in found if s is not None]))

    def _trim(self, span: Span, model: bool = False, initial: bool = False) -> Span | None:
        """The name words of a span: no titles or role words at its edges. ``initial``: the
        span's name words are followed by an initial ('Mehmet A.'), which joins them."""
        start, end = span.start, span.end
        while start < end and not self._name_word(span.doc[start]):
            start += 1
        while end > start and not self._name_word(span.doc[end - 1]):
            end -= 1
        # German: 'die Pflegerin Amal Haddad', 'sein Sohn Tim Schranz' - the word after an
        # article or a possessive is the noun.
        german = self.voice.file.capitalised_nouns and not model and end - start >= 2
        if german and start > 0 and span.doc[start - 1].lower_ in self.rules.not_before:
            start += 1
        elif german and self._inflected_opener(span.doc[start]):
            start += 1  # 'Gefährliche Flüchtlingswelle, sagte …': an adjective opens it
        if end <= start or (initial and end != span.end):
            return None
        return span.doc[start : end + (1 if initial else 0)]

    def _name_word(self, tok: Token) -> bool:
        """Whether a token can be (part of) a name."""
        if not LETTERS.match(tok.text) or not tok.text[:1].isupper():
            return False
        if tok.lower_ in self.excluded or self._is_role(tok) or self._is_org(tok):
            return False
        # German capitalises nouns and adjectives: a word the lookup lemmatizer turns into a
        # lower-case lemma ('Rote' -> 'rot') is no name ('Thomas' -> 'Thoma' stays one).
        lemma = tok.lemma_
        return not (self.voice.file.capitalised_nouns and lemma != tok.text and lemma[:1].islower())

    def _inflected_opener(self, tok: Token) -> bool:
        """Whether a word opening a sentence is, in lower case, an inflected adjective or verb
        of the lookup table ('Gefährliche' -> 'gefährlich'): the capital is the sentence's."""
        if not tok.is_sent_start or "lemmatizer" not in self.nlp.pipe_names:
            return False
        lemmatizer: Lemmatizer = self.nlp.get_pipe("lemmatizer")  # type: ignore[assignment]
        table = lemmatizer.lookups.get_table("lemma_lookup")
        return str(table.get(tok.lower_, tok.lower_)) != tok.lower_

    def _is_org(self, tok: Token) -> bool:
        """Whether a token is an organisation word ('Verein', 'associação') or a compound
        ending in one ('Flüchtlingsrat'): it ends a name run."""
        low = tok.lower_
        return low in self.rules.org_words or any(low.endswith(s) for s in self.rules.org_suffixes)

    def _is_role(self, tok: Token) -> bool:
        """Whether a token is a public role word or contains a role stem ('Oberbürgermeister')."""
        low = tok.lower_
        return low in self.rules.role_words or any(s in low for s in self.rules.role_stems)

    def _mention(
        self,
        doc: Doc,
        span: Span,
        offset: int,
        ents: list[tuple[int, int, bool]],
        mid: frozenset[str],
    ) -> Mention:
        """A Mention for a name span, with its person and public cues.

        After an article or a locative ('am Bahnhof sprach', 'en Ciutat Vella') a speech verb
        or two capitalised words say little: a place or a thing is more likely than a name.
        A lone word opening a sentence that the text never capitalises mid-sentence
        ('Gestern', but also 'Aydıns Anwalt …'), and a run inside another entity of the
        model (a place, an organisation, but also 'Smith' taken for one), get no cue: they
        are replaced only where they spell a known person's name.
        """
        before = doc[span.start - 1].lower_ if span.start else ""
        entity = [p for a, b, p in ents if a <= span.start_char < b]
        # 'Der Flüchtlingsrat Oberhausen': in German the organisation's name follows its word;
        # elsewhere a name after one is often a person ('pravnica udruge Tea Marušić').
        german = self.voice.file.capitalised_nouns
        org = german and span.start > 0 and self._is_org(doc[span.start - 1])
        weak = entity == [False] or before in self.rules.not_before or org
        opener = len(span) == 1 and span[0].is_sent_start and span[0].lower_ not in mid
        public = self._public(doc, span) and not opener
        initial = len(span) > 1 and bool(INITIAL.match(span[-1].text))
        explicit = initial or self._title_or_age(doc, span)
        if all(is_common(t.text, self.lang) for t in span):
            person = explicit or self._common_cue(doc, span, bool(weak or opener))
        else:
            person = entity == [True] or public or explicit
            person = person or (not weak and not opener and self._speech_cue(doc, span))
            if not person and self.lang not in REAL_PIPELINES:
                person = len(span) >= 2 and not weak  # 'Mehmet Aydın': two name words
        return Mention(
            offset + span.start_char,
            offset + span.end_char,
            tuple(t.lower_ for t in span),
            person,
            public,
            tuple((offset + t.idx, offset + t.idx + len(t.text)) for t in span),
        )

    def _common_cue(self, doc: Doc, span: Span, weak: bool) -> bool:
        """Whether a speech cue makes common words a name: only one word mid-sentence, and
        never a run of them ('Casa Comum', 'Państwowa Inspekcja Pracy'). Where nouns are
        written in lower case the capital says enough ('ha detto Rossi'). German capitalises
        every noun: there the cue must stand right before the word and the word must be its
        own lemma, as surnames are ('sagte Müller'), not a plural or inflected noun ('laut
        Zeugen', 'sucht weitere Zeugen, die …')."""
        if weak or len(span) > 1:
            return False
        if not self.voice.file.capitalised_nouns:
            return self._speech_cue(doc, span)
        cues = [(s, e) for m in self.voice.cue_matchers for _, s, e in m(doc)]
        return span[0].lemma_ == span[0].text and any(e == span.start for _, e in cues)

    def _public(self, doc: Doc, span: Span) -> bool:
        """A role word right before the name, or after it behind a comma, or a party after it."""
        gap = self.rules.max_gap
        for role in self._roles(doc):
            if _sentences_between(doc, min(role.end, span.end), max(role.start, span.start)):
                continue  # 'mit der Polizei. Aydın schweigt': the role is another sentence's
            if 0 <= span.start - role.end <= gap and self._filler(doc, role.end, span.start):
                return True
            behind_comma = span.end < role.start <= span.end + gap + 1
            if (
                behind_comma
                and doc[span.end].text == ","
                and self._filler(doc, span.end + 1, role.start)
            ):
                return True
        return bool(self.rules.party.match(doc.text[span.end_char :]))

    def _roles(self, doc: Doc) -> list[Span]:
        """Role words and phrases of a paragraph ('police spokesperson', 'Oberbürgermeister')."""
        found = [doc[s:e] for _, s, e in self.roles(doc)]
        return found + [doc[t.i : t.i + 1] for t in doc if self._is_role(t)]

    def _filler(self, doc: Doc, start: int, end: int) -> bool:
        """Whether tokens [start, end) are only punctuation, articles or adjectives ('il
        sindaco uscente Mario Rossi'): a verb between role and name ('Police arrested Ahmed
        K.', 'Polizei hat Mehmet A. …') says the name is the role's object, not its holder.
        Without a tagger only punctuation and the words of ``not_before`` count."""
        return all(
            t.is_punct or t.pos_ in FILLER_POS or t.lower_ in self.rules.not_before
            for t in doc[start:end]
        )

    def _title_or_age(self, doc: Doc, span: Span) -> bool:
        """An honorific before the name ('Frau', 'pani') or an age next to it."""
        before = doc[span.start - 1].lower_ if span.start else ""
        if before in self.voice.file.titles or before.rstrip(".") in self.voice.file.titles:
            return True
        return self._age(doc.text, span.start_char, span.end_char)

    def _speech_cue(self, doc: Doc, span: Span) -> bool:
        """A speech verb or source marker right before or after the name ('sagte Müller')."""
        cues = [(s, e) for m in self.voice.cue_matchers for _, s, e in m(doc)]
        return any(s == span.end or e == span.start for s, e in cues)

    def _age(self, text: str, start: int, end: int) -> bool:
        """An age written before or after the name ('der 34-Jährige X', 'X (34)')."""
        after = text[end : end + WINDOW_CHARS]
        if any(p.match(after) for p in self.rules.age_after):
            return True
        before = self.rules.age_before
        window = text[max(0, start - WINDOW_CHARS) : start]
        return before is not None and bool(before.search(window))


def _mid_sentence_words(parsed: list[tuple[int, Doc]]) -> frozenset[str]:
    """Words a text capitalises inside sentences: a sentence-initial word is a name only if
    it is one of them ('Gestern' opens a sentence, 'Aydın' also stands mid-sentence)."""
    return frozenset(
        t.lower_ for _, doc in parsed for t in doc if t.text[:1].isupper() and not t.is_sent_start
    )


def _sentences_between(doc: Doc, start: int, end: int) -> bool:
    """Whether a sentence starts among tokens [start, end] (the last one included)."""
    return any(doc[i].is_sent_start for i in range(start, min(end + 1, len(doc))))


def _word_mention(start: int, word: str) -> Mention:
    """A one-word candidate without a cue (a word in capitals)."""
    return Mention(
        start, start + len(word), (word.lower(),), False, False, ((start, start + len(word)),)
    )


def handles(text: str) -> list[Mention]:
    """The social-media handles of a text ('@ahmedkhan'), their words folded, without '@'."""
    return [
        Mention(m.start(), m.end(), (fold(m.group()[1:]),), False, False, (m.span(),), True)
        for m in HANDLE.finditer(text)
    ]


def _without_handles(found: list[Mention], found_handles: list[Mention]) -> list[Mention]:
    """Mentions and handles in text order, a mention inside a handle left out."""
    inside = [m for m in found if any(h.start <= m.start < h.end for h in found_handles)]
    return sorted([m for m in found if m not in inside] + found_handles, key=lambda m: m.start)


@cache
def ner_pipeline(lang: str) -> Language:
    """The trained pipeline with its named-entity recogniser (``models.nlp`` excludes it)."""
    return spacy.load(REAL_PIPELINES[lang], exclude=["parser", "lemmatizer", "attribute_ruler"])


@cache
def name_finder(lang: str) -> NameFinder:
    """The process-wide NameFinder of a language."""
    return NameFinder(lang)


# --- persons and pseudonyms across a pack -------------------------------------------------


@dataclass
class Person:
    """One person of a pack: the name words seen (lower case; ``first`` is '' for a person
    known by one word only), whether public, the pseudonym once given."""

    first: str
    last: str
    public: bool
    label: str = ""
    lang: str = ""  # the language of the text that named the person first


@dataclass(frozen=True)
class Redacted:
    """A pseudonymised piece of text: the new text, the given highlights moved to their new
    offsets, and where pseudonyms stand (new offsets) and stood (offsets in the piece)."""

    text: str
    highlights: tuple[Offsets, ...]
    pseudonyms: tuple[Offsets, ...]
    replaced: tuple[Offsets, ...]


@dataclass(frozen=True)
class Learned:
    """What ``learn`` keeps of one text: its mentions, the person each full name is (None for
    the rest), and the persons the text itself names (full names, then one-word persons)."""

    mentions: tuple[Mention, ...]
    full: tuple[int | None, ...]
    own: tuple[int, ...]


Swap = tuple[int, int, str]  # characters [start, end) of a text and what replaces them


@dataclass
class Pseudonymiser:
    """Pseudonyms for one pack: the same person gets the same pseudonym in every excerpt.

    ``learn`` every text first, then ``redact``: a person named in office in one article is
    then public in all of them, and a surname alone in one article is found from a private
    person's full name in another.
    """

    lang: str
    public_figures: tuple[str, ...] = ()
    persons: list[Person] = field(default_factory=list)
    texts: dict[tuple[str, str], Learned] = field(default_factory=dict)

    def learn(self, text: str, lang: str) -> Learned:
        """Find the names of a text and register its persons (once per text)."""
        key = (text, lang)
        if key not in self.texts:
            mentions = tuple(name_finder(lang).find(text))
            full = tuple(self._full(m, lang) for m in mentions)
            own = [i for i in full if i is not None]
            for m in mentions:
                if len(m.words) == 1 and m.person and not self._hits(m.words[0], own, lang):
                    own.append(self._new(m, lang))  # 'sagte Müller', no full name: one word
            self.texts[key] = Learned(mentions, full, tuple(own))
        return self.texts[key]

    def _full(self, m: Mention, lang: str) -> int | None:
        """The person a full-name mention names: one of the pack with the same first and last
        name, else a new one when something says it is a name."""
        if len(m.words) < 2 or m.handle:
            return None
        first, last = m.words[0], m.words[-1]
        idx = next(
            (
                i
                for i, p in enumerate(self.persons)
                if p.first and _same(lang, p.first, first) and _same(lang, p.last, last)
            ),
            None,
        )
        if idx is None and m.person:
            idx = self._new(m, lang)
        if idx is not None:
            self.persons[idx].public |= m.public or self._listed(m)
        return idx

    def _new(self, m: Mention, lang: str) -> int:
        """Register a person for a mention; return its index."""
        first = m.words[0] if len(m.words) >= 2 else ""
        self.persons.append(Person(first, m.words[-1], m.public, lang=lang))
        return len(self.persons) - 1

    def _listed(self, m: Mention) -> bool:
        """Whether the city's public-figures list names this person: first and last name
        both (a listed 'Thomas Müller' says nothing about 'Anna Müller' or 'Müller')."""
        name = (fold(m.words[0]), fold(m.words[-1]))
        return any(_first_last(f) == name for f in self.public_figures)

    def _hits(self, word: str, among: Iterable[int], lang: str) -> list[int]:
        """Persons among ``among`` whose last name the word is; else those whose first."""
        among = list(among)
        last = [i for i in among if _same(lang, self.persons[i].last, word)]
        return last or [i for i in among if _same(lang, self.persons[i].first, word)]

    def _private(self) -> list[int]:
        """Every private person of the pack."""
        return [i for i, p in enumerate(self.persons) if not p.public]

    def _named(self) -> list[int]:
        """The persons of the pack known by a full name: the only ones a word of another
        text is looked up among (a person known by one word may be anyone elsewhere)."""
        return [i for i, p in enumerate(self.persons) if p.first]

    def resolve(self, word: str, own: Sequence[int], lang: str) -> int | None:
        """The private person a single word stands for, None where it names nobody private.

        The text's own persons first, then those of the pack known by a full name: a word
        that names a private and a public one of them is ambiguous and pseudonymised; one
        that names only public ones is kept.
        """
        hits = self._hits(word, own, lang) or self._hits(word, self._named(), lang)
        return next((i for i in hits if not self.persons[i].public), None)

    def name_words(self) -> frozenset[str]:
        """The name words of every private person of the pack as URLs spell them ('mehmet',
        'aydin', 'mueller' and 'muller'): what a link must not spell.

        A common word of a name ('Anna Koch': 'koch') is left out when the person has another
        word that is not, since a slug about 'hauptbahnhof' or 'koch' names nobody and a slug
        with the full name is still caught by 'anna'; a name of common words only keeps them.
        """
        names = [w for i in self._private() for w in self._link_words(self.persons[i])]
        return frozenset(form for w in names if w for form in slug_forms(w))

    def _link_words(self, person: Person) -> list[str]:
        """A person's name words a link must not spell: the uncommon ones, else all."""
        words = [w for w in (person.first, person.last) if w]
        lang = person.lang or self.lang
        rare = [w for w in words if not is_common(w, lang)]
        return rare or words

    def label(self, idx: int) -> str:
        """The pseudonym of a person, given in order of first use."""
        person = self.persons[idx]
        if not person.label:
            used = sum(1 for p in self.persons if p.label)
            person.label = pseudonym_label(self.lang, used)
        return person.label

    def redact(
        self,
        text: str,
        lang: str,
        window: Offsets | None = None,
        highlights: Sequence[Offsets] = (),
        keep: Sequence[Offsets] = (),
    ) -> Redacted:
        """``text[window]`` with private persons' names replaced by their pseudonyms, and the
        highlights (offsets into ``text``) moved to offsets into the new piece.

        ``keep`` are spans known to be no name nor part of one (lexicon terms: 'Welle',
        'Invasion'), so a capitalised metaphor after a speech verb stays readable. Other
        highlights (the model's cue words) get no such protection: a cue on a private name
        is pseudonymised.
        """
        start, end = window or (0, len(text))
        swaps = [
            (max(s, start) - start, min(e, end) - start, label)
            for s, e, label in self.swaps(text, lang)
            if s < end and e > start and not any(s < b and a < e for a, b in keep)
        ]
        piece = text[start:end]
        marks = [(a - start, b - start) for a, b in highlights]
        return _rewrite(piece, _joined(piece, swaps), marks)

    def swaps(self, text: str, lang: str) -> list[Swap]:
        """Every replacement in a text, in text order."""
        learned = self.learn(text, lang)
        out: list[Swap] = []
        for m, idx in zip(learned.mentions, learned.full, strict=True):
            if m.handle:
                out += self._handle(m, learned.own)
            elif idx is not None:
                out += [] if self.persons[idx].public else [(m.start, m.end, self.label(idx))]
            elif len(m.words) == 1 and m.public:
                continue  # 'Bürgermeister Schranz': the role says who it is
            else:  # one word, or a run that names nobody: each word on its own
                out += [
                    s
                    for w in (m.split() if len(m.words) > 1 else [m])
                    for s in self._word(w, learned.own, lang)
                ]
        return out

    def _word(self, m: Mention, own: Sequence[int], lang: str) -> list[Swap]:
        """The replacement of a one-word mention, if it stands for a private person."""
        idx = self.resolve(m.words[0], own, lang)
        return [] if idx is None else [(m.start, m.end, self.label(idx))]

    def _handle(self, m: Mention, own: Sequence[int]) -> list[Swap]:
        """A handle: the pseudonym of the private person it spells; kept when it spells only
        public figures; ``hidden_handle`` when it spells nobody known."""
        hits = self._in_handle(m.words[0], own) or self._in_handle(m.words[0], self._named())
        private = [i for i in hits if not self.persons[i].public]
        if hits and not private:
            return []
        label = self.label(private[0]) if private else load_rules(self.lang).hidden_handle
        return [(m.start, m.end, label)]

    def _in_handle(self, handle: str, among: Iterable[int]) -> list[int]:
        """Persons whose first or last name (at least MIN_INSIDE letters) the handle spells."""
        return [
            i
            for i in among
            if any(
                len(w) >= MIN_INSIDE and w in handle
                for w in (fold(self.persons[i].first), fold(self.persons[i].last))
            )
        ]


def _first_last(name: str) -> tuple[str, str] | None:
    """First and last word of a listed name, folded; None for a name of one word."""
    words = fold(name).split()
    return (words[0], words[-1]) if len(words) >= 2 else None


def _joined(piece: str, swaps: list[Swap]) -> list[Swap]:
    """Neighbouring replacements by the same pseudonym with only spaces between them made one
    ('MEHMET AYDIN' -> 'Person A', not 'Person A Person A')."""
    out: list[Swap] = []
    for s, e, label in sorted(swaps):
        if out and out[-1][2] == label and not piece[out[-1][1] : s].strip():
            out[-1] = (out[-1][0], e, label)
        else:
            out.append((s, e, label))
    return out


def _same(lang: str, a: str, b: str) -> bool:
    """Whether two name words are one name: equal once folded ('Aydın', 'AYDIN'), with a
    listed suffix ('Müllers'), or inflected in Polish and Croatian (a shared prefix, as in
    models.voice)."""
    a, b = fold(a), fold(b)
    if not a or not b:
        return False
    if a == b or any(x == y + s for x, y in ((a, b), (b, a)) for s in load_rules(lang).suffixes):
        return True
    if not get_voice(lang).file.inflected_names:
        return False
    n = shared_prefix(a, b)
    return n >= MIN_PREFIX and len(a) - n <= MAX_ENDING and len(b) - n <= MAX_ENDING


def _rewrite(piece: str, swaps: list[tuple[int, int, str]], marks: list[Offsets]) -> Redacted:
    """Apply replacements to a piece of text and move offsets accordingly."""
    out: list[str] = []
    new_spans: list[Offsets] = []
    pos = 0
    for s, e, label in sorted(swaps):
        out.append(piece[pos:s])
        at = sum(len(x) for x in out)
        new_spans.append((at, at + len(label)))
        out.append(label)
        pos = e
    out.append(piece[pos:])
    old = [(s, e) for s, e, _ in sorted(swaps)]
    moved = tuple(
        (_move(a, old, new_spans, False), _move(b, old, new_spans, True)) for a, b in marks
    )
    return Redacted("".join(out), moved, tuple(new_spans), tuple(old))


def _move(pos: int, old: list[Offsets], new: list[Offsets], is_end: bool) -> int:
    """Where an offset of the old piece stands in the new one; inside a replaced name it
    moves to the pseudonym's start (a highlight's start) or end (its end)."""
    shift = 0
    for (s, e), (ns, ne) in zip(old, new, strict=True):
        if pos <= s:
            break
        if pos < e:
            return ne if is_end else ns
        shift = ne - e
    return pos + shift
