"""Whose voice an article quotes: direct quotations and, where the text says, their speakers.

Who is quoted is a counter-narrative indicator: an article about migrants that lets only police
and politicians speak frames them differently from one in which they speak for themselves.

What is found, per paragraph (a quotation never crosses a paragraph break, except the
news convention of an unclosed quote continued by the next paragraph's opening mark):

1. Quotations between the quote marks a language uses (``models/voice/<lang>.yaml``), of at
   least ``MIN_WORDS`` words so that scare quotes around a word or two are not counted, and
   of at most ``MAX_QUOTE_CHARS`` so that a stray mark cannot swallow a page. Unbalanced
   marks are skipped, not guessed.
2. The speaker, when the same paragraph attributes the quote: a speech verb or a source
   marker right after the closing mark (``"…," said Mayor Smith``; ``„…“, so Müller``) or
   before the opening mark (``Mayor Smith said: "…"``; ``Laut Polizeisprecher X: „…“``), or
   a short role or name followed by a colon (``L'assessora Bonomelli: «…»``). A pronoun or
   a dropped subject (``«…», ha detto.``) is resolved to the previous quote's speaker in the
   paragraph, else to the nearest earlier person, role or reporting clause in it. Where a
   real parser exists (en, fr) the subject of the speech verb is read from the dependency
   parse. The spaCy pipelines of ``models.nlp`` exclude NER, so names are found from PROPN
   tags (en, fr) or capitalisation (other languages).
3. The speaker's category: the first of ``CATEGORY_ORDER`` whose cue word (PhraseMatcher on
   lower case and lemma, as in ``models.lexicon``) or stem (a substring, for compounds and
   inflections) occurs in the speaker phrase, or its apposition; else ``unknown``. Demonyms
   ('brasileira') are migrant cues and occupations ('graphic designer') citizen cues too.
4. The speaker profile, for a phrase that gave ``unknown``: news introduces a person once
   ('Mehmet Aydın, der vor 30 Jahren aus der Türkei kam, …') and later names them only
   ('sagte Aydın'). The words around the phrase, around the other phrases that name the same
   person (and their categories), and around the first mention of the name in the article
   (its last word, the surname; inflected forms by a shared prefix in pl and hr) are read
   for role cues near the name and for migrant origin to the end of the clause: origin
   phrases, a from-word before a listed place, an arrival word before a from-word and a
   place. The category precedence is the same. A listed place or a name written right after
   a locative ('em Lisboa') is a place, not a person: it gets no profile. Quoted words and
   what follows a speech verb (said about others) are not read.

Indirect speech ("She said that …") is not extracted: without a parser in most languages its
extent cannot be delimited reliably. Speaker phrases are heuristic: tokens up to punctuation,
a conjunction or relative pronoun, at most ``MAX_SPEAKER_TOKENS`` long.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from models.nlp import get_nlp, has_lemmas, parse
from pipeline.records import Quote

VOICE_DIR = Path(__file__).parent / "voice"
MIN_WORDS = 3
MAX_QUOTE_CHARS = 1200
MAX_SPEAKER_TOKENS = 8
AFTER_WINDOW = 8  # tokens after a closing mark in which a speech cue may start
MAX_NAME_BEFORE_VERB = 5  # '"…," Mayor John Smith said'
MAX_GAP_BEFORE_MARK = 3  # 'Smith said on Tuesday: "…"'
BEFORE_WINDOW = 30  # tokens before an opening mark searched for a cue
MAX_COLON_SPEAKER = 6
LEFT_WINDOW = 6  # tokens before a name read for its profile ('the 34-year-old Syrian X')
ROLE_WINDOW = 8  # tokens after a name in which a role cue is its apposition ('X, mayor of Y')
CONTEXT_WINDOW = 25  # tokens after a name read for origin ('X, 24, who fled Syria in 2015')
ARRIVAL_GAP = 6  # tokens from an arrival word to its from-word ('arrived in Dublin from Y')
MIN_PREFIX = 4  # inflected names match by a shared prefix this long …
MAX_ENDING = 4  # … with endings at most this long ('Wiśniewski', 'Wiśniewskiego')
CATEGORY_ORDER = ("police", "official", "ngo", "expert", "migrant", "citizen")
UNKNOWN = "unknown"
NO_CUE = "quote-marks"
# Marks that are also apostrophes or open and close alike: they count only where spacing says.
AMBIGUOUS_MARKS = frozenset({'"', "'", "’"})
OPEN_CONTEXT = frozenset("([{–—-/")
SENTENCE_END = frozenset({".", "!", "?", ";", "…"})
ATTACHED_PUNCT = frozenset({"-", "'", "’"})  # inside a name when written without spaces
GENERIC_MARKS = (("„", "“"), ("„", "”"), ("«", "»"), ("»", "«"), ('"', '"'), ("“", "”"))
SUBJECT_DEPS = frozenset({"nsubj", "nsubj:pass", "nsubjpass"})
Key = tuple[str, str]  # (first name, last name) of a speaker, lower case, '' if none


@dataclass(frozen=True)
class CategoryCues:
    """The cue words of one speaker category."""

    name: str
    words: tuple[str, ...]
    stems: tuple[str, ...]


@dataclass(frozen=True)
class OriginCues:
    """What says that a person came from abroad, and what says that a name is a place.

    ``phrases`` say it alone ('sought asylum'); ``from_words`` only before a listed place
    ('from Eritrea', 'aus der Türkei'); ``arrival`` words before a from-word and a place that
    need not be listed ('arrived in Dublin from Kerala'). A name right after one of the
    ``locatives`` ('em Lisboa') is a place, and so is a listed one ('Cabo Verde').
    """

    phrases: tuple[str, ...] = ()
    from_words: tuple[str, ...] = ()
    arrival: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    locatives: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VoiceFile:
    """A language's quote marks and speaker cues, as written in its data file."""

    lang: str
    marks: tuple[tuple[str, str], ...]
    verbs: tuple[str, ...]
    markers: tuple[str, ...]
    pronouns: frozenset[str]
    skip: frozenset[str]
    breaks: frozenset[str]
    relatives: frozenset[str]
    abbreviations: frozenset[str]  # 'mł. asp.': their full stop ends no sentence
    capitalised_nouns: bool  # German: a capital letter is no sign of a name
    categories: tuple[CategoryCues, ...]
    extra: tuple[CategoryCues, ...] = ()  # demonyms (migrant) and occupations (citizen)
    origin: OriginCues = OriginCues()
    titles: frozenset[str] = frozenset()  # 'Mr', 'pani': no part of a name to match
    inflected_names: bool = False  # pl, hr: 'Jurić' is 'Jurića' after a preposition


@dataclass(frozen=True)
class Marked:
    """A quotation in one paragraph: the indices of its marks (``close`` = end if it runs on)."""

    open: int
    close: int
    start: int  # the quotation text, without marks and outer spaces
    end: int
    runs_on: bool = False


@dataclass(frozen=True)
class Phrase:
    """A token range [start, end) of a paragraph, with whether it is only a pronoun."""

    start: int
    end: int
    pronoun: bool = False


@dataclass(frozen=True)
class Attribution:
    """How a quote is attributed: the cue, and the speaker phrase if the text names one."""

    cue: str
    phrase: Phrase | None
    cue_at: int = -1  # token index of the cue, so that it is not read twice


@dataclass(frozen=True)
class Para:
    """One parsed paragraph with its quotes and the cue spans found in it."""

    offset: int
    doc: Doc
    marked: tuple[Marked, ...]
    cues: tuple[Span, ...]  # speech verbs (label "verb") and source markers ("marker")
    categories: tuple[Span, ...]  # category cue words, label = category
    starts: tuple[int, ...]  # token start characters, for bisection
    names: frozenset[str]  # words the article capitalises inside sentences
    origins: tuple[Span, ...] = ()  # origin cues: labels "phrase", "from", "arrival"

    def quoted(self, i: int) -> bool:
        """Whether token i lies between the marks of a quote."""
        idx = self.doc[i].idx
        return any(m.open <= idx <= m.close for m in self.marked)

    def in_cue(self, i: int) -> bool:
        """Whether token i belongs to a speech cue."""
        return any(c.start <= i < c.end for c in self.cues)

    def in_verb(self, i: int) -> bool:
        """Whether token i belongs to a speech verb (not a source marker like German 'so')."""
        return any(c.start <= i < c.end and c.label_ == "verb" for c in self.cues)


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    """A list of strings from the data file, lower-cased."""
    return tuple(str(x).lower() for x in data.get(key) or [])


def _origin(data: dict[str, Any]) -> OriginCues:
    """The ``origin:`` section of a data file."""
    return OriginCues(
        phrases=_strings(data, "phrases"),
        from_words=_strings(data, "from_words"),
        arrival=_strings(data, "arrival"),
        places=_strings(data, "places"),
        locatives=frozenset(_strings(data, "locatives")),
    )


def _extra(data: dict[str, Any]) -> tuple[CategoryCues, ...]:
    """Demonyms as migrant cues and occupations as citizen cues, kept apart from the lists
    of ``categories`` so that those stay the role words a reader checks them against."""
    origin = data.get("origin") or {}
    jobs = data.get("occupations") or {}
    return (
        CategoryCues("migrant", _strings(origin, "demonyms"), ()),
        CategoryCues("citizen", _strings(jobs, "words"), _strings(jobs, "stems")),
    )


def load_voice(lang: str) -> VoiceFile:
    """Read ``models/voice/<lang>.yaml``; a language without one gets generic marks, no cues."""
    path = VOICE_DIR / f"{lang}.yaml"
    data: dict[str, Any] = {}
    if path.exists():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    marks = tuple((str(o), str(c)) for o, c in data.get("quote_marks") or GENERIC_MARKS)
    cats = data.get("categories") or {}
    return VoiceFile(
        lang=lang,
        marks=marks,
        verbs=_strings(data, "speech_verbs"),
        markers=_strings(data, "source_markers"),
        pronouns=frozenset(_strings(data, "pronouns")),
        skip=frozenset(_strings(data, "skip_words")),
        breaks=frozenset(_strings(data, "phrase_breaks")),
        relatives=frozenset(_strings(data, "relative_words")),
        abbreviations=frozenset(_strings(data, "abbreviations")),
        capitalised_nouns=bool(data.get("capitalised_nouns", False)),
        categories=tuple(
            CategoryCues(name, _strings(cats[name], "words"), _strings(cats[name], "stems"))
            for name in CATEGORY_ORDER
            if name in cats
        ),
        extra=_extra(data) if cats else (),
        origin=_origin(data.get("origin") or {}),
        titles=frozenset(_strings(data, "name_titles")),
        inflected_names=bool(data.get("inflected_names", False)),
    )


# --- quote marks -------------------------------------------------------------------------


def _can_open(text: str, i: int) -> bool:
    """Whether the mark at i may open a quote (ambiguous marks need a space before, none after)."""
    if i + 1 >= len(text):
        return False
    if text[i] not in AMBIGUOUS_MARKS:
        return True
    before = text[i - 1] if i else " "
    return (before.isspace() or before in OPEN_CONTEXT) and not text[i + 1].isspace()


def _can_close(text: str, i: int) -> bool:
    """Whether the mark at i may close a quote (an apostrophe inside a word may not)."""
    if text[i] not in AMBIGUOUS_MARKS:
        return True
    after = text[i + 1] if i + 1 < len(text) else " "
    return not text[i - 1].isspace() and not after.isalnum()


def _find_close(text: str, i: int, opener: str, closers: frozenset[str]) -> int | None:
    """The index of the mark closing the quote opened at i, or None if unbalanced or too long."""
    depth = 0
    for k in range(i + 1, min(len(text), i + 2 + MAX_QUOTE_CHARS)):
        ch = text[k]
        if ch in closers and _can_close(text, k):
            if depth == 0:
                return k
            depth -= 1
        elif ch == opener and opener not in closers and opener not in AMBIGUOUS_MARKS:
            depth += 1
    return None


def _words(text: str) -> int:
    """Number of words (whitespace-separated pieces with a letter or digit)."""
    return sum(1 for w in text.split() if any(c.isalnum() for c in w))


def _marked(text: str, open_: int, close: int, runs_on: bool = False) -> Marked | None:
    """The quotation between two marks, trimmed of spaces and a trailing comma, if long enough."""
    start, end = open_ + 1, close
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] == ","):
        end -= 1
    if _words(text[start:end]) < MIN_WORDS:
        return None
    return Marked(open_, close, start, end, runs_on)


def scan_marks(text: str, marks: Sequence[tuple[str, str]], runs_on: bool = False) -> list[Marked]:
    """Quotations in one paragraph, left to right, nested marks kept inside the outer quote.

    With ``runs_on`` (the next paragraph opens with a quote mark) a last quote left open at
    the end of the paragraph is taken to continue there, as news style writes long quotes.
    """
    closers: dict[str, frozenset[str]] = {}
    for o, c in marks:
        closers[o] = closers.get(o, frozenset()) | {c}
    out: list[Marked] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in closers and _can_open(text, i):
            k = _find_close(text, i, ch, closers[ch])
            if k is None and runs_on and len(text) - i <= MAX_QUOTE_CHARS:
                found = _marked(text, i, len(text), runs_on=True)
                return out + ([found] if found else [])
            if k is not None:
                found = _marked(text, i, k)
                out += [found] if found else []
                i = k
        i += 1
    return out


# --- speaker finding ----------------------------------------------------------------------


class VoiceFinder:
    """Finds quotes and their speakers in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.nlp = get_nlp(lang)
        self.file = load_voice(lang)
        self.cue_matchers = self._matchers(
            [("verb", t) for t in self.file.verbs] + [("marker", t) for t in self.file.markers]
        )
        cues = self.file.categories + self.file.extra
        self.cat_matchers = self._matchers([(c.name, w) for c in cues for w in c.words])
        origin = self.file.origin
        self.origin_matchers = self._matchers(
            [("phrase", t) for t in origin.phrases]
            + [("from", t) for t in origin.from_words]
            + [("arrival", t) for t in origin.arrival]
        )
        self.places = tuple(tuple(t.lower_ for t in self.nlp.make_doc(x)) for x in origin.places)
        self.open_marks = frozenset(o for o, _ in self.file.marks)
        self.mark_chars = frozenset(ch for pair in self.file.marks for ch in pair) | {"“", "”"}

    def _matchers(self, entries: list[tuple[str, str]]) -> list[PhraseMatcher]:
        """PhraseMatchers on lower case and, where the language has lemmas, on lemma.

        Only base forms and phrases go to the lemma matcher: a listed inflected form can
        lemmatise to an unrelated word (French 'commente' to 'comment', Italian 'secondo'
        to 'secondare'), and its own surface form is matched anyway.
        """
        lower = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for label, term in entries:
            lower.add(label, [self.nlp.make_doc(term)])
        if not has_lemmas(self.lang) or not entries:
            return [lower]
        lemma = PhraseMatcher(self.nlp.vocab, attr="NORM")
        docs = self.nlp.pipe(term for _, term in entries)  # one batch: the parser is slow
        for (label, term), doc in zip(entries, docs, strict=True):
            if len(doc) > 1 or doc[0].norm_ == term:
                lemma.add(label, [doc])
        return [lower, lemma]

    def _spans(self, doc: Doc, matchers: list[PhraseMatcher]) -> tuple[Span, ...]:
        """Matched spans of a paragraph, overlaps resolved to the longest."""
        found = [Span(doc, s, e, label=k) for m in matchers for k, s, e in m(doc)]
        return tuple(filter_spans(found))

    def find(self, parsed: list[tuple[int, Doc]]) -> list[Quote]:
        """Quotes of an article from its parsed paragraphs."""
        paras = list(self._paras(parsed, _names(parsed)))
        quotes: list[Quote] = []
        for para in paras:
            quotes += self._para_quotes(para)
        quotes = _carry_back(quotes, [m for p in paras for m in p.marked])
        return self._profiled(quotes, paras)

    def _paras(self, parsed: list[tuple[int, Doc]], names: frozenset[str]) -> Iterator[Para]:
        """Every paragraph with its quotes and cues (the profile reads those without quotes)."""
        for n, (offset, doc) in enumerate(parsed):
            nxt = parsed[n + 1][1].text.lstrip() if n + 1 < len(parsed) else ""
            runs_on = bool(nxt) and nxt[0] in self.open_marks
            marked = tuple(scan_marks(doc.text, self.file.marks, runs_on))
            cues = self._spans(doc, self.cue_matchers) if self.file.verbs else ()
            cats = self._spans(doc, self.cat_matchers) if self.file.categories else ()
            origins = [Span(doc, s, e, label=k) for m in self.origin_matchers for k, s, e in m(doc)]
            para = Para(offset, doc, marked, (), cats, tuple(t.idx for t in doc), names)
            para = replace(para, origins=tuple(o for o in origins if not para.quoted(o.start)))
            yield replace(para, cues=tuple(c for c in cues if not para.quoted(c.start)))

    def _para_quotes(self, p: Para) -> list[Quote]:
        """The quotes of one paragraph, pronouns and dropped subjects resolved in order."""
        out: list[Quote] = []
        previous: Quote | None = None
        for m in p.marked:
            attr = self._attribute(p, m)
            quote = self._quote(p, m, attr, previous)
            previous = quote if quote.speaker else previous
            out.append(quote)
        return out

    def _quote(self, p: Para, m: Marked, attr: Attribution | None, prev: Quote | None) -> Quote:
        """A Quote record for a marked quotation and its attribution."""
        base = Quote(
            start=p.offset + m.start,
            end=p.offset + m.end,
            text=p.doc.text[m.start : m.end],
            speaker="",
            speaker_start=-1,
            speaker_end=-1,
            speaker_category=UNKNOWN,
            cue=NO_CUE,
        )
        if attr is None:
            return _inherit(base, prev, "continuation") if prev else base
        if attr.phrase is not None and not attr.phrase.pronoun:
            return self._with_speaker(p, base, attr.phrase, attr.cue)
        if prev is not None:
            return _inherit(base, prev, attr.cue)
        mention = self._mention_before(p, self._token_before(p, m.open), attr.cue_at)
        return self._with_speaker(p, base, mention or attr.phrase, attr.cue)

    def _with_speaker(self, p: Para, base: Quote, phrase: Phrase | None, cue: str) -> Quote:
        """The quote with a speaker phrase filled in (unchanged if there is none)."""
        if phrase is None:
            return base
        span = p.doc[phrase.start : phrase.end]
        start = span.start_char + (len(span.text) - len(span.text.lstrip("-")))  # '-il' → 'il'
        return replace(
            base,
            speaker=p.doc.text[start : span.end_char],
            speaker_start=p.offset + start,
            speaker_end=p.offset + span.end_char,
            speaker_category=self._category(p, phrase),
            cue=cue,
        )

    # --- attribution ------------------------------------------------------------------------

    def _attribute(self, p: Para, m: Marked) -> Attribution | None:
        """The attribution of a quote: a cue after it, before it, or a 'Speaker:' colon."""
        before = self._before(p, m)
        colon_led = before is not None and self._mark_follows_colon(p, m)
        if before is not None and colon_led:
            return before
        return self._after(p, m) or before or self._colon(p, m) or self._preceding(p, m)

    def _token_after(self, p: Para, char: int) -> int:
        """Index of the first token starting after a character."""
        return bisect_right(p.starts, char)

    def _token_before(self, p: Para, char: int) -> int:
        """End index of the tokens starting before a character."""
        return bisect_left(p.starts, char)

    def _stops(self, p: Para, i: int) -> bool:
        """Whether token i ends a search window: a sentence end, a quote mark or a quote."""
        tok = p.doc[i]
        return tok.text in SENTENCE_END or self._mark(tok) or p.quoted(i)

    def _mark(self, tok: Token) -> bool:
        """Whether a token is a quote mark (an apostrophe, as in "landlords'", is not)."""
        return tok.text in self.mark_chars and tok.text not in AMBIGUOUS_MARKS

    def _mark_follows_colon(self, p: Para, m: Marked) -> bool:
        """Whether the opening mark comes right after a colon ('Smith said: "…"')."""
        return p.doc.text[: m.open].rstrip().endswith(":")

    def _after(self, p: Para, m: Marked) -> Attribution | None:
        """A speech cue right after the closing mark: '"…," said X' or '"…," X said'."""
        if m.runs_on or not self._set_off(p, m):
            return None
        a0 = self._token_after(p, m.close)
        limit = a0
        while limit < len(p.doc) and limit - a0 < AFTER_WINDOW and not self._stops(p, limit):
            limit += 1
        cue = next((c for c in p.cues if a0 <= c.start < limit), None)
        if cue is None:
            return None
        between = [i for i in range(a0, cue.start) if not _is_punct(p.doc[i])]
        if cue.label_ == "marker":
            return None if between else self._after_marker(p, cue)
        if len(between) > MAX_NAME_BEFORE_VERB:
            return None
        subject = self._parsed_subject(p, cue, a0, limit)
        if subject is None and between:
            subject = self._speakerish(p, self._trimmed(p, between[0], between[-1] + 1))
        return Attribution(cue.text, subject or self._after_verb(p, cue.end), cue.start)

    def _set_off(self, p: Para, m: Marked) -> bool:
        """Whether punctuation sets the quote off from what follows, as attribution needs.

        '"…," said X', '„…“, sagte X', '„…” – mówi X' and '"…?" asked X' are attributions;
        '„Zwei Mark Gemischte“ erzählt von …' is a title that is the subject of its verb, and
        after '„… .“' a new sentence starts.
        """
        inside = p.doc.text[m.open + 1 : m.close].rstrip()
        rest = p.doc.text[m.close + 1 :].lstrip()
        return rest[:1] in (",", "–", "—", "-", ":") or inside[-1:] in (",", "!", "?", "…")

    def _after_verb(self, p: Para, i: int) -> Phrase | None:
        """The speaker after a verb, also past an adverbial ('ha commentato a fine gara X')."""
        phrase = self._speakerish(p, self._forward(p, i))
        if phrase is not None:
            return phrase
        for j in range(i, min(len(p.doc), i + AFTER_WINDOW)):
            tok = p.doc[j]
            if _is_punct(tok) or self._mark(tok) or p.quoted(j) or p.in_cue(j):
                return None
            titled = tok.is_title and not tok.is_stop and not self.file.capitalised_nouns
            if self._cat_at(p, j) is not None or titled:
                return self._speakerish(p, self._around(p, j))
        return None

    def _speakerish(self, p: Para, phrase: Phrase | None) -> Phrase | None:
        """The phrase if it can name a speaker: a pronoun, a role word or a capitalised name.

        'senza nascondere l'amarezza' after 'spiega' is an adverbial, not a speaker.
        """
        if phrase is None or phrase.pronoun or self._category(p, phrase) != UNKNOWN:
            return phrase
        toks = p.doc[phrase.start : phrase.end]
        return phrase if any(t.is_title and not t.is_stop for t in toks) else None

    def _after_marker(self, p: Para, cue: Span) -> Attribution | None:
        """'„…“, so Müller': the speaker follows the marker."""
        phrase = self._speakerish(p, self._forward(p, cue.end))
        return Attribution(cue.text, phrase, cue.start) if phrase else None

    def _clause_start(self, p: Para, end: int) -> int:
        """First token of the clause ending at token ``end``, at most BEFORE_WINDOW back."""
        first = end
        while first > 0 and end - first < BEFORE_WINDOW and not self._stops(p, first - 1):
            first -= 1
        return first

    def _before(self, p: Para, m: Marked) -> Attribution | None:
        """A speech cue before the opening mark: 'X said: "…"' or 'Laut X: „…“'."""
        end = self._token_before(p, m.open)
        first = self._clause_start(p, end)
        cue = next((c for c in reversed(p.cues) if first <= c.start and c.end <= end), None)
        if cue is None:
            return None
        gap = [i for i in range(cue.end, end) if not _is_punct(p.doc[i])]
        if cue.label_ == "marker":
            phrase = self._speakerish(p, self._forward(p, cue.end, end))
            return Attribution(cue.text, phrase, cue.start) if phrase else None
        if len(gap) > MAX_GAP_BEFORE_MARK:
            return None
        subject = self._parsed_subject(p, cue, first, end)
        subject = subject or self._speakerish(p, self._either_side(p, cue, first, end))
        return Attribution(cue.text, subject, cue.start)

    def _either_side(self, p: Para, cue: Span, first: int, end: int) -> Phrase | None:
        """The subject before a verb, or after it where the verb comes first ('sagte X: „…“')."""
        left = self._backward(p, cue.start, first)
        right = self._forward(p, cue.end, end)
        if right is None:
            return left
        if left is None or right.pronoun:
            return right
        if self._category(p, right) != UNKNOWN == self._category(p, left):
            return right
        return left

    def _colon(self, p: Para, m: Marked) -> Attribution | None:
        """A role or name opening the sentence that a colon ends: 'L'assessora Bonomelli: «…»'.

        Also 'L'élu a placé le débat sur le terrain sécuritaire : « … »': with a parse the
        subject of the clause, without one the capitalised or role words opening it.
        """
        colon = self._token_before(p, m.open) - 1
        if not self.file.categories or colon < 1 or p.doc[colon].text != ":":
            return None
        first = colon
        while first > 0 and colon - first < BEFORE_WINDOW and not self._stops(p, first - 1):
            first -= 1
        phrase = self._clause_subject(p, first, colon)
        if phrase is None or phrase.pronoun or phrase.end - phrase.start > MAX_SPEAKER_TOKENS:
            return None
        named = not self.file.capitalised_nouns and self._name_like(p, phrase)
        if self._category(p, phrase) == UNKNOWN and not named:
            return None
        return Attribution("colon", phrase)

    def _clause_subject(self, p: Para, first: int, end: int) -> Phrase | None:
        """The subject of the clause in tokens [first, end): parsed, or its opening words."""
        if p.doc.has_annotation("DEP"):
            subjects = [
                t.i
                for t in p.doc[first:end]
                if t.dep_ in SUBJECT_DEPS and first <= t.head.i < end and not p.quoted(t.i)
            ]
            return self._around(p, subjects[0]) if subjects else None
        phrase = self._trimmed(p, first, self._label_end(p, first, end))
        return self._apposition(p, phrase) if phrase else None

    def _label_end(self, p: Para, i: int, colon: int) -> int:
        """Where the name or role before a colon ends ('X bat um Verständnis:' gives 'X')."""
        for j in range(i + 1, colon):
            tok = p.doc[j]
            if tok.is_lower and tok.lower_ not in self.file.skip and not self._cat_at(p, j):
                return j
        return colon

    def _preceding(self, p: Para, m: Marked) -> Attribution | None:
        """A reporting clause in the sentence just before: 'so Wolski weiter. „…“'."""
        end = self._token_before(p, m.open) - 1
        if end < 1 or p.doc[end].text not in SENTENCE_END:
            return None
        first = self._clause_start(p, end)
        cue = next((c for c in reversed(p.cues) if first <= c.start and c.end <= end), None)
        if cue is None:
            return None
        if cue.label_ == "marker":
            phrase = self._forward(p, cue.end, end)
        else:
            phrase = self._parsed_subject(p, cue, first, end)
            phrase = phrase or self._either_side(p, cue, first, end)
        phrase = self._speakerish(p, phrase)
        return Attribution(cue.text, phrase, cue.start) if phrase else None

    def _parsed_subject(self, p: Para, cue: Span, lo: int, hi: int) -> Phrase | None:
        """The subject of a speech verb from the dependency parse, if it lies in [lo, hi)."""
        if not p.doc.has_annotation("DEP"):
            return None
        for tok in cue:
            for child in tok.children:
                if child.dep_ in SUBJECT_DEPS and lo <= child.i < hi and not p.quoted(child.i):
                    # 'who' in 'X, who asked …' is no speaker; its clause is not the quote's
                    return None if self._relative(p, child.i) else self._around(p, child.i)
        return None

    # --- speaker phrases --------------------------------------------------------------------

    def _breaks(self, p: Para, i: int) -> bool:
        """Whether token i cannot be part of a speaker phrase."""
        tok = p.doc[i]
        return (
            (_is_punct(tok) and not self._abbreviation_dot(p, i))
            or tok.is_space
            or self._mark(tok)
            or tok.lower_ in self.file.breaks
            or p.quoted(i)
            or p.in_cue(i)
        )

    def _forward(self, p: Para, i: int, limit: int | None = None) -> Phrase | None:
        """The speaker phrase starting at token i, with an apposition that names a role."""
        stop = min(len(p.doc), i + MAX_SPEAKER_TOKENS, limit if limit is not None else len(p.doc))
        j = i
        while j < stop and not self._breaks(p, j) and not (j > i and self._new_sentence(p, j)):
            j += 1
            if p.doc[j - 1].lower_ in self.file.pronouns:
                break  # 'sagte er dem Kurier': the pronoun is the speaker
        phrase = self._trimmed(p, i, j)
        return self._apposition(p, phrase) if phrase else None

    def _abbreviation_dot(self, p: Para, i: int) -> bool:
        """Whether token i is the full stop of an abbreviated title ('mł. asp. Karol W.')."""
        return p.doc[i].text == "." and i > 0 and p.doc[i - 1].lower_ in self.file.abbreviations

    def _new_sentence(self, p: Para, i: int) -> bool:
        """Whether token i starts a sentence (not just follows an abbreviation's full stop)."""
        return bool(p.doc[i].is_sent_start) and not self._abbreviation_dot(p, i - 1)

    def _backward(self, p: Para, j: int, first: int = 0) -> Phrase | None:
        """The speaker phrase ending before token j (the subject of a verb written after it)."""
        inserted = j > first and p.doc[j - 1].text == ","
        j -= inserted  # 'Smith, the mayor, said'
        comma = self._relative_clause(p, j, first)
        if comma is not None:
            return self._antecedent(p, comma, first)
        i = j
        while i > max(first, j - MAX_SPEAKER_TOKENS) and not self._breaks(p, i - 1):
            i -= 1
            if p.doc[i].is_sent_start:
                break
        phrase = self._trimmed(p, i, j)
        apposed = i > first + 1 and p.doc[i - 1].text == ","
        if inserted and apposed and self._speakerish(p, phrase) is None:
            return self._backward(p, i - 1, first)  # 'X iz Petrinje, jedna od prvih …, kaže
        return self._apposition(p, phrase) if phrase else None

    def _relative_clause(self, p: Para, j: int, first: int) -> int | None:
        """The comma before a relative clause that ends at token j, if it is one.

        'X, who chairs Y, said' and 'eine Frau, die nach dem Geld fragte:' have their speaker
        before that comma.
        """
        for k in range(j - 1, max(first, j - 2 * MAX_SPEAKER_TOKENS) - 1, -1):
            tok = p.doc[k]
            if tok.text == ",":
                return k if k + 1 < j and self._relative(p, k + 1) else None
            if tok.text in SENTENCE_END or self._mark(tok) or p.quoted(k):
                return None
        return None

    def _antecedent(self, p: Para, comma: int, first: int) -> Phrase | None:
        """The noun phrase a relative clause refers to: back from its comma to an article.

        'Den meisten Beifall bekam eine Frau, die …' gives 'Frau', not the whole clause.
        """
        i = comma
        while i > max(first, comma - MAX_SPEAKER_TOKENS) and not self._breaks(p, i - 1):
            i -= 1
            if p.doc[i].is_sent_start or p.doc[i].lower_ in self.file.skip:
                break
        phrase = self._trimmed(p, i, comma)
        return self._apposition(p, phrase) if phrase else None

    def _around(self, p: Para, i: int) -> Phrase | None:
        """The speaker phrase around a head token (a parsed subject or an earlier mention).

        With a parse it is the head's subtree; without, the capitalised or role words around it.
        """
        tok = p.doc[i]
        parsed = p.doc.has_annotation("DEP")
        lo = tok.left_edge.i if parsed else max(0, i - MAX_SPEAKER_TOKENS + 1)
        hi = tok.right_edge.i + 1 if parsed else len(p.doc)
        start = i
        while start > lo and self._joins(p, start - 1, parsed) and not p.doc[start].is_sent_start:
            start -= 1
        end = i + 1
        while end < min(hi, start + MAX_SPEAKER_TOKENS) and self._joins(p, end, parsed):
            end += 1
        phrase = self._trimmed(p, start, end)
        return self._apposition(p, phrase) if phrase else None

    def _joins(self, p: Para, i: int, parsed: bool) -> bool:
        """Whether token i may join a head's phrase: any word of its subtree, else name words."""
        if self._breaks(p, i):
            return False
        return parsed or p.doc[i].is_title or self._cat_at(p, i) is not None

    def _trimmed(self, p: Para, i: int, j: int) -> Phrase | None:
        """Tokens [i, j) without skip words and punctuation at the edges; None if empty."""
        while i < j and (_is_punct(p.doc[i]) or p.doc[i].lower_ in self.file.skip):
            i += 1
        while j > i and (self._edge_punct(p, j - 1) or p.doc[j - 1].lower_ in self.file.skip):
            j -= 1
        if i >= j or not any(ch.isalpha() for ch in p.doc[i:j].text):
            return None
        pronoun = all(t.lower_ in self.file.pronouns for t in p.doc[i:j])
        return Phrase(i, j, pronoun)

    def _edge_punct(self, p: Para, i: int) -> bool:
        """Punctuation that ends no speaker phrase's text ('mł. asp.' keeps its full stops)."""
        return _is_punct(p.doc[i]) and not self._abbreviation_dot(p, i)

    def _apposition(self, p: Para, phrase: Phrase) -> Phrase:
        """Extend a phrase by a comma-separated role or name.

        'X, spokesperson of Y' and 'the mayor, X' give the role that decides the category;
        'l'adjointe à l'éducation, Hélène Marchal' gives the name to a role.
        """
        if phrase.pronoun:
            return phrase
        if self._category(p, phrase) != UNKNOWN:
            return self._name_after(p, phrase) or phrase
        if not self._name_like(p, phrase) and phrase.end - phrase.start > 2:
            return self._name_after(p, phrase) or phrase
        return self._role_after(p, phrase) or self._role_before(p, phrase) or phrase

    def _name_after(self, p: Para, phrase: Phrase) -> Phrase | None:
        """'l'adjointe à l'éducation, Hélène Marchal': a name after a comma."""
        if phrase.end >= len(p.doc) - 1 or p.doc[phrase.end].text != ",":
            return None
        j = phrase.end + 1
        while j < min(len(p.doc), phrase.end + 5) and not self._breaks(p, j):
            j += 1
        name = self._trimmed(p, phrase.end + 1, j)
        if name is None or name.pronoun or self._relative(p, phrase.end + 1):
            return None  # 'Trainer X, der die Mannschaft …': German nouns look like names
        if not self._name_like(p, name):
            return None
        return Phrase(phrase.start, name.end)

    def _role_after(self, p: Para, phrase: Phrase) -> Phrase | None:
        """'Marco Ferlinghetti, capogruppo della lista civica': the role after a comma."""
        if phrase.end >= len(p.doc) - 1 or p.doc[phrase.end].text != ",":
            return None
        j = phrase.end + 1
        while j < min(len(p.doc), phrase.end + 1 + MAX_SPEAKER_TOKENS) and not self._breaks(p, j):
            j += 1
        role = self._trimmed(p, phrase.end + 1, j)
        if role is None or self._category(p, role) == UNKNOWN or self._relative(p, phrase.end + 1):
            return None
        return Phrase(phrase.start, role.end)

    def _relative(self, p: Para, i: int) -> bool:
        """Whether token i opens a relative clause ('…, die ihn ehrenamtlich begleitet')."""
        return p.doc[i].lower_ in self.file.relatives

    def _role_before(self, p: Para, phrase: Phrase) -> Phrase | None:
        """'l'assessora alle Politiche sociali, Chiara Bonomelli': the role before a comma."""
        comma = phrase.start - 1
        if comma < 1 or p.doc[comma].text != ",":
            return None
        lo = max(0, comma - MAX_SPEAKER_TOKENS)
        for i in range(comma - 1, lo - 1, -1):
            if self._breaks(p, i):
                return None
            if self._cat_at(p, i) is not None:
                return Phrase(i, phrase.end)
        return None

    def _name_like(self, p: Para, phrase: Phrase) -> bool:
        """Whether a phrase looks like a name: every word capitalised (or PROPN), at most 4."""
        toks = [t for t in p.doc[phrase.start : phrase.end] if not _is_punct(t)]
        return 0 < len(toks) <= 4 and all(t.is_title or t.pos_ == "PROPN" for t in toks)

    def _mention_before(self, p: Para, end: int, own_cue: int) -> Phrase | None:
        """The nearest person, role or reporting clause before token ``end`` in the paragraph.

        It resolves a pronoun or dropped subject: '… Bonomelli. «…», ha ribattuto.' The
        quote's own cue (``own_cue``) is not read again.
        """
        for i in range(end - 1, -1, -1):
            if p.quoted(i) or (self._breaks(p, i) and not p.in_cue(i)):
                continue
            cue = next((c for c in p.cues if c.start == i and c.label_ == "verb"), None)
            if cue is not None and cue.start != own_cue:
                found = self._parsed_subject(p, cue, 0, cue.start) or self._backward(p, cue.start)
                found = self._speakerish(p, found)
                if found and not found.pronoun:
                    return found
            elif cue is None and self._is_mention(p, i):
                return self._around(p, i)
        return None

    def _is_mention(self, p: Para, i: int) -> bool:
        """Whether token i names a person or role that may be the subject of what follows.

        With a parse: the subject of a main clause, if it is a name or a role. Without: a role
        or a known name opening its sentence (the subject position), or the second of two
        capitalised words inside a sentence (a first and last name); German capitalises every
        noun, so there only a role word opening the sentence counts.
        """
        tok = p.doc[i]
        is_role = self._cat_at(p, i) is not None
        if p.doc.has_annotation("DEP"):
            main = tok.dep_ in SUBJECT_DEPS and tok.head.dep_ == "ROOT"
            return (tok.pos_ == "PROPN" or is_role) and main
        if self._opens_sentence(p, i):
            named = tok.is_title and tok.lower_ in p.names and not tok.is_stop
            return is_role or (named and not self.file.capitalised_nouns)
        if self.file.capitalised_nouns or i == 0 or tok.is_sent_start:
            return False
        prev = p.doc[i - 1]
        return tok.is_title and prev.is_title and not prev.is_sent_start and not tok.is_stop

    def _opens_sentence(self, p: Para, i: int) -> bool:
        """Whether token i is in the words opening its sentence (skip words, names, roles)."""
        for k in range(i, max(-1, i - MAX_SPEAKER_TOKENS), -1):
            tok = p.doc[k]
            named = tok.is_title or self._cat_at(p, k) is not None or tok.lower_ in self.file.skip
            if not named:
                return False
            if tok.is_sent_start:
                return True
        return False

    # --- categories -------------------------------------------------------------------------

    def _cat_at(self, p: Para, i: int) -> str | None:
        """The category whose cue covers token i, if any."""
        for span in p.categories:
            if span.start <= i < span.end:
                return str(span.label_)
        low = p.doc[i].lower_
        for cat in self.file.categories + self.file.extra:
            if any(stem in low for stem in cat.stems):
                return cat.name
        return None

    def _category(self, p: Para, phrase: Phrase) -> str:
        """The first category in CATEGORY_ORDER with a cue in the phrase, else unknown."""
        found = {self._cat_at(p, i) for i in range(phrase.start, phrase.end)}
        return next((c for c in CATEGORY_ORDER if c in found), UNKNOWN)

    # --- speaker profile --------------------------------------------------------------------

    def _profiled(self, quotes: list[Quote], paras: list[Para]) -> list[Quote]:
        """The quotes, categorised from the speaker's profile where their phrase gave nothing.

        The phrase that attributes a quote often holds only a name ('sagte Aydın'); who the
        person is, the article said where it introduced them. Quotes that share a speaker
        phrase (continuations, pronouns resolved to it) share the result.
        """
        unknown = {_speaker_span(q) for q in quotes if q.speaker and q.speaker_category == UNKNOWN}
        if not unknown or not self.file.categories:
            return quotes
        spoken = {_speaker_span(q): q.speaker_category for q in quotes if q.speaker}
        mentions = {s: m for s in spoken if (m := _locate(paras, s)) is not None}
        speakers = {s: (m, self._name_key(m)) for s, m in mentions.items()}
        found = {s: self._profile(s, speakers, spoken, paras) for s in unknown & set(speakers)}
        return [
            replace(q, speaker_category=found[_speaker_span(q)])
            if q.speaker_category == UNKNOWN and _speaker_span(q) in found
            else q
            for q in quotes
        ]

    def _profile(
        self,
        span: tuple[int, int],
        speakers: dict[tuple[int, int], tuple[Mention, Key]],
        spoken: dict[tuple[int, int], str],
        paras: list[Para],
    ) -> str:
        """The category of a speaker from all the article says about the person.

        That is the categories of the other phrases that name them, the words around each
        of those phrases, and the words around the first mention of the name; the first of
        CATEGORY_ORDER among them wins, as for a single phrase.
        """
        mention, key = speakers[span]
        if mention.pronoun(self.file.pronouns) or self._is_place(mention):
            return UNKNOWN
        same = {s for s, (_, k) in speakers.items() if s == span or self._same_person(key, k)}
        others = {k for s, (_, k) in speakers.items() if k[1] and s not in same}
        found = {spoken[s] for s in same}
        for s in same:
            found |= self._context(speakers[s][0], others)
        intro = self._introduction(paras, key) if key[1] else None
        if intro is not None:
            found |= self._context(intro, others)
        return next((c for c in CATEGORY_ORDER if c in found), UNKNOWN)

    def _same_person(self, a: Key, b: Key) -> bool:
        """Whether two name keys may be one person ('Aydın' and 'Mehmet Aydın', not 'Fernanda
        Cardoso' and 'Miguel Cardoso')."""
        if not a[1] or not b[1] or not self._same_word(a[1], b[1]):
            return False
        return not a[0] or not b[0] or self._same_word(a[0], b[0])

    def _name_key(self, m: Mention) -> Key:
        """(first name, last name) of a speaker phrase, lower case, '' where there is none.

        Titles ('Mr', 'pani') and role words are no part of the name; the last name word is
        what later mentions repeat ('Mehmet Aydın' … 'Aydın').
        """
        names = [t.lower_ for t in m.para.doc[m.start : m.end] if self._name_word(m.para, t.i)]
        return (names[-2] if len(names) > 1 else "", names[-1] if names else "")

    def _name_word(self, p: Para, i: int) -> bool:
        """Whether token i can be part of a person's name (capitalised, no title, no role)."""
        tok = p.doc[i]
        if not (tok.is_title or tok.pos_ == "PROPN") or tok.is_stop or not tok.is_alpha:
            return False
        return tok.lower_ not in self.file.titles and self._cat_at(p, i) is None

    def _same_word(self, a: str, b: str) -> bool:
        """Whether two lower-case words are one name or place, inflections allowed in pl, hr."""
        if a == b:
            return True
        if not self.file.inflected_names:
            return False
        n = shared_prefix(a, b)
        return n >= MIN_PREFIX and len(a) - n <= MAX_ENDING and len(b) - n <= MAX_ENDING

    def _introduction(self, paras: list[Para], key: Key) -> Mention | None:
        """The first mention of a name in the article outside quotes, where it is a person.

        A surname after a different first name is someone else ('Fernanda Cardoso' is not
        'Miguel Cardoso'); a name after a locative is a place.
        """
        first, last = key
        for p in paras:
            for tok in p.doc:
                if not tok.is_title or p.quoted(tok.i) or not self._same_word(tok.lower_, last):
                    continue
                m = self._name_span(p, tok.i)
                words = [t.lower_ for t in p.doc[m.start : tok.i] if self._name_word(p, t.i)]
                if first and words and not any(self._same_word(w, first) for w in words):
                    continue
                if not self._is_place(m):
                    return m
        return None

    def _name_span(self, p: Para, i: int) -> Mention:
        """The name around token i: the capitalised name words next to it ('Adam Yousif')."""
        start, end = i, i + 1
        while start > max(0, i - 3) and self._name_word(p, start - 1):
            start -= 1
        while end < min(len(p.doc), i + 4) and self._name_word(p, end):
            end += 1
        return Mention(p, start, end)

    def _is_place(self, m: Mention) -> bool:
        """Whether a name is a place: a listed one, or written after a locative ('em Lisboa').

        From-words are no sign: Polish 'z' is also 'with' ('z Oleną Moroz'), Romance 'de'
        also 'of' ('los de Toni Lloret').
        """
        before = m.para.doc[m.start - 1].lower_ if m.start > 0 else ""
        return before in self.file.origin.locatives or self._place_at(m.para, m.start) >= m.end

    def _place_at(self, p: Para, j: int) -> int:
        """The end of a listed place starting at token j (capitalised), else -1."""
        if j >= len(p.doc) or not p.doc[j].text[:1].isupper():
            return -1
        for place in self.places:
            end = j + len(place)
            words = zip(p.doc[j:end], place, strict=False)
            if end <= len(p.doc) and all(self._same_word(t.lower_, w) for t, w in words):
                return end
        return -1

    def _context(self, m: Mention, others: set[Key]) -> set[str]:
        """The categories that the words around a mention give the person.

        Role cues count near the name (an apposition: 'X, mayor of Y'; 'the rider, X'), so
        that a role named later in the clause ('… handed footage to the police') is not
        theirs; migrant cues and origin count to the end of the clause ('X, 24, who came to
        Ireland from Syria in 2015').
        """
        p = m.para
        lo, hi = self._left_edge(p, m.start, others), self._right_edge(p, m.end, others)
        near = min(hi, m.end + ROLE_WINDOW)
        found = {c for i in range(lo, near) if (c := self._cat_at(p, i)) is not None}
        far = any(self._cat_at(p, i) == "migrant" for i in range(near, hi))
        if far or self._origin_between(p, lo, hi):
            found.add("migrant")
        return found

    def _left_edge(self, p: Para, start: int, others: set[Key]) -> int:
        """Where the words before a name that describe it begin ('34-godišnji', 'the rider,').

        Sentences end at their punctuation here, not at the parser's sentence starts: the
        French parser starts one at the comma of 'Zabihullah, 24 ans, arrivé …'.
        """
        i = start
        while i > 0 and start - i < LEFT_WINDOW:
            tok = p.doc[i - 1]
            punct = _is_punct(tok) and tok.text != ","
            if punct or tok.lower_ in self.file.breaks or self._stops(p, i - 1):
                break
            if p.in_cue(i - 1) or self._other_name(p, i - 1, others):
                break
            i -= 1
        return i

    def _right_edge(self, p: Para, end: int, others: set[Key]) -> int:
        """Where the clause after a name ends: a sentence end, a quote, a speech verb (what
        follows is what the person said, about others) or another speaker's name."""
        j = end
        while j < len(p.doc) and j - end < CONTEXT_WINDOW:
            tok = p.doc[j]
            if self._stops(p, j) or tok.text == ":":
                break
            if p.in_verb(j) or self._other_name(p, j, others):
                break
            j += 1
        return j

    def _other_name(self, p: Para, j: int, others: set[Key]) -> bool:
        """Whether token j is part of another speaker's name: first and last name where the
        speaker has both, as one word of it alone may be a place ('Gdańskiej', 'Gdańska')."""
        doc, word = p.doc, p.doc[j].lower_
        if not doc[j].is_title:
            return False
        for first, last in others:
            after = j + 1 < len(doc) and self._same_word(doc[j + 1].lower_, last)
            before = j > 0 and self._same_word(doc[j - 1].lower_, first)
            if self._same_word(word, last) and (not first or before):
                return True
            if first and self._same_word(word, first) and after:
                return True
        return False

    def _origin_between(self, p: Para, lo: int, hi: int) -> bool:
        """Whether tokens [lo, hi) say that someone came from abroad."""
        for span in p.origins:
            if span.start < lo or span.end > hi:
                continue
            if span.label_ == "phrase":
                return True
            if span.label_ == "from" and self._place_after(p, span.end, hi, listed=True):
                return True
            if span.label_ == "arrival" and self._arrival_place(p, span.end, hi):
                return True
        return False

    def _place_after(self, p: Para, j: int, hi: int, listed: bool) -> bool:
        """Whether a place follows token j, past articles: a listed one, or any capitalised
        word when ``listed`` is False (not in German, which capitalises every noun)."""
        first = j
        while j < min(hi, first + 2) and p.doc[j].lower_ in self.file.skip:
            j += 1
        if j >= hi:
            return False
        if self._place_at(p, j) > 0:
            return True
        tok = p.doc[j]
        loose = not listed and not self.file.capitalised_nouns
        return loose and tok.is_title and not tok.is_stop

    def _arrival_place(self, p: Para, j: int, hi: int) -> bool:
        """Whether an arrival word ending at j goes on to a place of origin ('arrived in
        Dublin from Kerala', 'floh aus Syrien', 'fled Syria')."""
        froms = {s.start: s.end for s in p.origins if s.label_ == "from"}
        for k in range(j, min(hi, j + ARRIVAL_GAP)):
            if self._place_at(p, k) > 0:
                return True
            if k in froms and self._place_after(p, froms[k], hi, listed=False):
                return True
        return False


@dataclass(frozen=True)
class Mention:
    """Tokens [start, end) of a paragraph that name or describe a speaker."""

    para: Para
    start: int
    end: int

    def pronoun(self, pronouns: frozenset[str]) -> bool:
        """Whether the mention is only a pronoun ('she', '-il')."""
        words = [t.lower_.lstrip("-") for t in self.para.doc[self.start : self.end]]
        return all(w in pronouns for w in words if w)


def shared_prefix(a: str, b: str) -> int:
    """The length of the prefix two words share."""
    return next(
        (k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _speaker_span(q: Quote) -> tuple[int, int]:
    """Where a quote's speaker phrase is in the article: what quotes of one speaker share."""
    return (q.speaker_start, q.speaker_end)


def _locate(paras: list[Para], span: tuple[int, int]) -> Mention | None:
    """The tokens of a speaker phrase, given by its characters in the article."""
    start, end = span
    for p in paras:
        if p.offset <= start and end <= p.offset + len(p.doc.text):
            toks = p.doc.char_span(start - p.offset, end - p.offset, alignment_mode="expand")
            return Mention(p, toks.start, toks.end) if toks is not None else None
    return None


def _is_punct(tok: Token) -> bool:
    """Punctuation that separates words (a hyphen or apostrophe inside a name does not)."""
    if not tok.is_punct:
        return False
    attached = tok.text in ATTACHED_PUNCT and not tok.whitespace_
    return not (attached and tok.i > 0 and not tok.nbor(-1).whitespace_)


def _names(parsed: list[tuple[int, Doc]]) -> frozenset[str]:
    """Words an article capitalises inside sentences: names, when the language has no NER.

    A capitalised word opening a sentence ('Rozmawiamy', 'Prema') is a name only if the
    article also capitalises it elsewhere ('Ferlinghetti ha poi insistito').
    """
    return frozenset(
        t.lower_
        for _, doc in parsed
        for t in doc
        if t.is_title and not t.is_sent_start and t.i > 0 and not t.nbor(-1).is_punct
    )


def _inherit(quote: Quote, source: Quote, cue: str) -> Quote:
    """A quote given the speaker of an earlier (or, when it runs on, later) quote."""
    return replace(
        quote,
        speaker=source.speaker,
        speaker_start=source.speaker_start,
        speaker_end=source.speaker_end,
        speaker_category=source.speaker_category,
        cue=cue,
    )


def _carry_back(quotes: list[Quote], marked: list[Marked]) -> list[Quote]:
    """A quote that runs on into the next paragraph takes that paragraph's speaker."""
    out = list(quotes)
    for n in range(len(out) - 2, -1, -1):
        if marked[n].runs_on and not out[n].speaker and out[n + 1].speaker:
            out[n] = _inherit(out[n], out[n + 1], "continuation")
    return out


@cache
def get_voice(lang: str) -> VoiceFinder:
    """The process-wide VoiceFinder of a language."""
    return VoiceFinder(lang)


def find_quotes(text: str, lang: str, parsed: list[tuple[int, Doc]] | None = None) -> list[Quote]:
    """Direct quotations in an article and who said them, as far as the text tells.

    ``parsed`` is the article's ``models.nlp.parse`` output, when the caller already has it
    (parsing is the costly step). Unknown languages get generic quote marks and no speakers.
    """
    if not text.strip():
        return []
    return get_voice(lang).find(parsed if parsed is not None else parse(text, lang))
