"""Pseudonyms for private persons in the excerpts of a training pack; public figures kept.

A training pack quotes local news about people who never chose to be in a trainer's slides:
the 34-year-old whose flat was searched, the neighbour quoted at the shelter. Their names are
replaced by a stable pseudonym in the pack's language ("Person A", "Persona A", "Osoba A");
the mayor, the councillor and the police spokesperson keep theirs, since what they say in
office is the point of the exercise.

How names are found (one article at a time, title and text together, so that a surname alone
in the excerpt is known from the full name in the first paragraph):

1. Candidate names are runs of up to ``MAX_NAME_TOKENS`` capitalised words (spaCy ``Matcher``)
   that are no stop word, title, role or category word of ``models/voice/<lang>.yaml``, no
   listed place and no month. In German, which capitalises every noun, a word that the lookup
   lemmatizer inflects ('Rotes' -> 'rot') is no name either.
2. A run is a person's name when something says so: the named-entity model where one exists
   offline (en, fr: PERSON/PER entities), an honorific before it ('Frau', 'pani'), a speech
   verb or source marker next to it ('sagte Müller', 'según García', from the voice files), an
   age ('(34)', 'der 34-jährige', ', 34 anni'), a public role next to it, or, in the
   languages without a model, two or more name words together ('Mehmet Aydın'). Wrong guesses
   lean towards pseudonymising: a club name taken for a person costs less than a neighbour
   named in a slide.
3. A name is public when a role word of ``models/lexicons/persons/public_roles.yaml`` or of the
   voice files' ``official``/``police`` categories stands right before it or after a comma
   ('Bürgermeister Daniel Schranz', 'Daniel Schranz, Oberbürgermeister'), when a party
   follows it in brackets ('Schranz (SPD)'), or when the city lists it (public figures file).
4. Mentions are grouped into persons: a full name joins an earlier one with the same surname
   and first name; a single word joins the person of the same article whose first or last
   name it is (inflected forms in pl and hr by a shared prefix, as ``models.voice`` does), so
   'sagte Aydın' gets Mehmet Aydın's pseudonym. A person named in office once is public in the
   whole pack.

The text outside the replaced names is never changed; offsets given with the text (the
highlighted framing words) are moved to where the same words stand afterwards.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import spacy
import yaml
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from models.nlp import REAL_PIPELINES, get_nlp, parse, stop_words
from models.voice import MAX_ENDING, MIN_PREFIX, VoiceFinder, _shared_prefix, get_voice

PERSONS_DIR = Path(__file__).parent / "lexicons" / "persons"
NER_LABELS = frozenset({"PERSON", "PER"})
MAX_NAME_TOKENS = 4
LETTERS = re.compile(r"^[^\W\d_]+(?:['’-][^\W\d_]+)*$")  # 'Aydın', "O'Neill", 'Jean-Pierre'
WINDOW_CHARS = 40  # characters before or after a name searched for an age
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
        age_before=re.compile(rf"(?:{before})\W*(?:\w+\W+)?$", re.I) if before else None,
        age_after=tuple(re.compile(p, re.I) for p in after),
        party=re.compile(str(roles["party_in_brackets"])),
        suffixes=_lower(own.get("suffixes") or ()),
        not_names=frozenset(_lower(own.get("not_names") or ())),
        not_before=frozenset(_lower(own.get("not_before") or ())) | voice.origin.locatives,
        role_words=_lower(role.get("words") or ()) + tuple(w for c in reused for w in c.words),
        role_stems=_lower(role.get("stems") or ()) + tuple(s for c in reused for s in c.stems),
        max_gap=int(roles["max_gap"]),
    )


def pseudonym_label(lang: str, n: int) -> str:
    """The n-th pseudonym (from 0) in a language: 'Person A' … 'Person Z', 'Person A2' …"""
    letter = string.ascii_uppercase[n % 26] + (str(n // 26 + 1) if n >= 26 else "")
    return load_rules(lang).pseudonym.format(letter=letter)


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
            stop_words(self.lang) | f.titles | cats | cues | roles | places | self.rules.not_names
        )

    def find(self, text: str) -> list[Mention]:
        """Every name-like run of a text with what its surroundings say about it."""
        parsed = parse(text, self.lang)
        ner = self._entities([doc.text for _, doc in parsed])
        mid = _mid_sentence_words(parsed)
        out: list[Mention] = []
        for (offset, doc), ents in zip(parsed, ner, strict=True):
            out += [self._mention(doc, span, offset, ents) for span in self._spans(doc, mid, ents)]
        return out

    def _entities(self, paragraphs: list[str]) -> list[list[tuple[int, int, bool]]]:
        """Entities of each paragraph as (start, end, is_person); none without a model."""
        if self.lang not in REAL_PIPELINES:
            return [[] for _ in paragraphs]
        return [
            [(e.start_char, e.end_char, e.label_ in NER_LABELS) for e in doc.ents]
            for doc in ner_pipeline(self.lang).pipe(paragraphs)
        ]

    def _spans(
        self, doc: Doc, mid: frozenset[str], ents: list[tuple[int, int, bool]]
    ) -> list[Span]:
        """Name runs of a paragraph: the Matcher's runs and the model's PERSON entities,
        trimmed of words that cannot be part of a name, without other entities (a place)."""
        found = [self._trim(doc[s:e], mid) for _, s, e in self.runs(doc)]
        for start, end, is_person in ents:
            span = doc.char_span(start, end, alignment_mode="expand")
            if is_person and span is not None:
                found.append(self._trim(span, mid, model=True))
        other = [(s, e) for s, e, p in ents if not p]
        return [
            s
            for s in filter_spans([s for s in found if s is not None])
            if not any(a <= s.start_char and s.end_char <= b for a, b in other)
        ]

    def _trim(self, span: Span, mid: frozenset[str], model: bool = False) -> Span | None:
        """The name words of a span: no titles or role words at its edges; a lone word opening
        a sentence only if the text also capitalises it mid-sentence ('Gestern' is no name)."""
        start, end = span.start, span.end
        while start < end and not self._name_word(span.doc[start]):
            start += 1
        while end > start and not self._name_word(span.doc[end - 1]):
            end -= 1
        # German: 'die Pflegerin Amal Haddad' - the word after an article is the noun.
        german = self.voice.file.capitalised_nouns and not model and end - start >= 2
        if german and start > 0 and span.doc[start - 1].lower_ in self.rules.not_before:
            start += 1
        lone = end - start == 1 and span.doc[start].is_sent_start
        if end <= start or (lone and not model and span.doc[start].lower_ not in mid):
            return None
        return span.doc[start:end]

    def _name_word(self, tok: Token) -> bool:
        """Whether a token can be (part of) a name."""
        if not LETTERS.match(tok.text) or not tok.text[:1].isupper():
            return False
        if tok.lower_ in self.excluded or self._is_role(tok):
            return False
        # German capitalises nouns and adjectives: a word the lookup lemmatizer turns into a
        # lower-case lemma ('Rote' -> 'rot') is no name ('Thomas' -> 'Thoma' stays one).
        lemma = tok.lemma_
        return not (self.voice.file.capitalised_nouns and lemma != tok.text and lemma[:1].islower())

    def _is_role(self, tok: Token) -> bool:
        """Whether a token is a public role word or contains a role stem ('Oberbürgermeister')."""
        low = tok.lower_
        return low in self.rules.role_words or any(s in low for s in self.rules.role_stems)

    def _mention(
        self, doc: Doc, span: Span, offset: int, ents: list[tuple[int, int, bool]]
    ) -> Mention:
        """A Mention for a name span, with its person and public cues.

        After an article or a locative ('am Bahnhof sprach', 'en Ciutat Vella') a speech verb
        or two capitalised words say little: a place or a thing is more likely than a name.
        """
        before = doc[span.start - 1].lower_ if span.start else ""
        weak = before in self.rules.not_before
        public = self._public(doc, span)
        by_model = any(p and a <= span.start_char < b for a, b, p in ents)
        person = by_model or public or self._title_or_age(doc, span)
        person = person or (not weak and self._speech_cue(doc, span))
        if not person and self.lang not in REAL_PIPELINES:
            person = len(span) >= 2 and not weak  # 'Mehmet Aydın': two name words together
        return Mention(
            offset + span.start_char,
            offset + span.end_char,
            tuple(t.lower_ for t in span),
            person,
            public,
        )

    def _public(self, doc: Doc, span: Span) -> bool:
        """A role word right before the name, or after it behind a comma, or a party after it."""
        gap = self.rules.max_gap
        for role in self._roles(doc):
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
        """Whether tokens [start, end) are only articles, punctuation or lower-case words."""
        return all(t.is_punct or t.is_stop or t.text[:1].islower() for t in doc[start:end])

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
    """One person of a pack: the name words seen, whether public, the pseudonym once given."""

    first: str
    last: str
    public: bool
    label: str = ""


@dataclass(frozen=True)
class Redacted:
    """A pseudonymised piece of text: the new text, the given highlights moved to their new
    offsets, and where pseudonyms stand (new offsets) and stood (offsets in the piece)."""

    text: str
    highlights: tuple[Offsets, ...]
    pseudonyms: tuple[Offsets, ...]
    replaced: tuple[Offsets, ...]


@dataclass
class Pseudonymiser:
    """Pseudonyms for one pack: the same person gets the same pseudonym in every excerpt.

    ``learn`` every text first, then ``redact``: a person named in office in one article is
    then public in all of them.
    """

    lang: str
    public_figures: tuple[str, ...] = ()
    persons: list[Person] = field(default_factory=list)
    texts: dict[tuple[str, str], list[tuple[int, int, int]]] = field(default_factory=dict)

    def learn(self, text: str, lang: str) -> list[tuple[int, int, int]]:
        """The person mentions of a text as (start, end, person index), persons registered."""
        key = (text, lang)
        if key not in self.texts:
            self.texts[key] = self._assign(name_finder(lang).find(text), lang)
        return self.texts[key]

    def _assign(self, mentions: list[Mention], lang: str) -> list[tuple[int, int, int]]:
        """Persons for the mentions of one text: full names first, then single words that
        name one of the text's persons (a surname after the full name)."""
        own: list[int] = []
        out: list[tuple[int, int, int]] = []
        for m in sorted(mentions, key=lambda m: (len(m.words) < 2, m.start)):
            idx = self._match(m, own, lang)
            if idx is None and not m.person:
                continue
            if idx is None:
                idx = self._new(m)
            own.append(idx)
            self.persons[idx].public |= m.public or self._listed(m)
            out.append((m.start, m.end, idx))
        return sorted(out)

    def _match(self, m: Mention, own: list[int], lang: str) -> int | None:
        """The known person a mention names: by full name anywhere in the pack, by a single
        word only among this text's persons."""
        if len(m.words) >= 2:
            first, last = m.words[0], m.words[-1]
            for i, p in enumerate(self.persons):
                if _same(lang, p.last, last) and (not p.first or _same(lang, p.first, first)):
                    p.first = p.first or first
                    return i
            return None
        word = m.words[0]
        return next(
            (i for i in own if _same(lang, self.persons[i].last, word)),
            next((i for i in own if _same(lang, self.persons[i].first, word)), None),
        )

    def _new(self, m: Mention) -> int:
        """Register a person for a mention; return its index."""
        first = m.words[0] if len(m.words) >= 2 else ""
        self.persons.append(Person(first, m.words[-1], False))
        return len(self.persons) - 1

    def _listed(self, m: Mention) -> bool:
        """Whether the city's public-figures list names this person (full name or surname
        after a listed first name)."""
        name = " ".join(m.words)
        return any(name == f.lower() or name in f.lower().split() for f in self.public_figures)

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
            (max(s, start) - start, min(e, end) - start, self.label(i))
            for s, e, i in self.learn(text, lang)
            if s < end
            and e > start
            and not self.persons[i].public
            and not any(s < b and a < e for a, b in keep)
        ]
        return _rewrite(text[start:end], swaps, [(a - start, b - start) for a, b in highlights])


def _same(lang: str, a: str, b: str) -> bool:
    """Whether two lower-case name words are one name: equal, with a listed suffix
    ('Müllers'), or inflected in Polish and Croatian (a shared prefix, as in models.voice)."""
    if not a or not b:
        return False
    if a == b or any(x == y + s for x, y in ((a, b), (b, a)) for s in load_rules(lang).suffixes):
        return True
    if not get_voice(lang).file.inflected_names:
        return False
    n = _shared_prefix(a, b)
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
