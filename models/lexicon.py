"""The lexicon layer: migration terms, dehumanising metaphors and loaded terms.

Lexicons are data (``models/lexicons/<lang>.yaml``, each loaded term citing its guide). Matching
uses spaCy's PhraseMatcher twice, on lower-cased tokens and, where the language has a
lemmatizer, on lower-cased lemmas (kept in NORM by ``models.nlp.lemma_norm``), so that a
listed base form also finds its inflections.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from models.nlp import get_nlp, has_lemmas, parse
from pipeline.records import TermHit

LEXICON_DIR = Path(__file__).parent / "lexicons"


@dataclass(frozen=True)
class Entry:
    """One lexicon entry, as written in the data file."""

    kind: str  # migration_term | metaphor | loaded_term
    term: str
    category: str
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class LexiconFile:
    """A language's lexicon file, parsed."""

    lang: str
    guide_status: str
    entries: tuple[Entry, ...]


def load_lexicon(lang: str) -> LexiconFile:
    """Read ``models/lexicons/<lang>.yaml`` (an empty lexicon if the language has none)."""
    path = LEXICON_DIR / f"{lang}.yaml"
    if not path.exists():
        return LexiconFile(lang, "none", ())
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = [Entry("migration_term", str(t), "", ()) for t in data.get("migration_terms", [])]
    entries += [
        Entry("metaphor", str(m["term"]), str(m.get("kind", "")), ())
        for m in data.get("metaphors", [])
    ]
    entries += [
        Entry(
            "loaded_term", str(m["term"]), str(m.get("guide", "")), tuple(m.get("alternatives", []))
        )
        for m in data.get("loaded_terms", [])
    ]
    return LexiconFile(lang, str(data.get("guide_status", "")), tuple(entries))


class Lexicon:
    """Matches one language's lexicon in texts and returns TermHits with offsets."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.nlp = get_nlp(lang)
        self.file = load_lexicon(lang)
        self.entries = {f"{e.kind}:{e.term}": e for e in self.file.entries}
        self.lower = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.lemma = PhraseMatcher(self.nlp.vocab, attr="NORM") if has_lemmas(lang) else None
        for key, entry in self.entries.items():
            self.lower.add(key, [self.nlp.make_doc(entry.term.lower())])
            if self.lemma is not None:
                self.lemma.add(key, [self.nlp(entry.term.lower())])

    def match(self, text: str) -> list[TermHit]:
        """Every lexicon hit in a text, longest match first where hits overlap."""
        return self.match_parsed(parse(text, self.lang))

    def match_parsed(self, parsed: list[tuple[int, Doc]]) -> list[TermHit]:
        """Lexicon hits in paragraphs already parsed by ``models.nlp.parse``."""
        return [self._hit(span, offset) for offset, doc in parsed for span in self._spans(doc)]

    def _spans(self, doc: Doc) -> list[Span]:
        """Matched spans of one paragraph, overlaps resolved per kind."""
        found: list[Span] = []
        for matcher in (self.lower, self.lemma):
            if matcher is not None:
                found += [Span(doc, s, e, label=k) for k, s, e in matcher(doc)]
        by_kind: dict[str, list[Span]] = {}
        for span in found:
            by_kind.setdefault(span.label_.split(":", 1)[0], []).append(span)
        return [s for spans in by_kind.values() for s in filter_spans(spans)]

    def _hit(self, span: Span, offset: int) -> TermHit:
        """A TermHit for a matched span."""
        entry = self.entries[span.label_]
        return TermHit(
            kind=entry.kind,
            term=entry.term,
            start=offset + span.start_char,
            end=offset + span.end_char,
            text=span.text,
            category=entry.category,
            alternatives=entry.alternatives,
        )


@cache
def get_lexicon(lang: str) -> Lexicon:
    """The process-wide Lexicon of a language."""
    return Lexicon(lang)
