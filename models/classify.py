"""From texts to framings: relevance, frames, hostility, evidence and lexicon hits.

How an article is decided (also in models/MODEL_CARD.md):
1. spaCy splits the text into sentences (offsets kept); the lexicon layer finds migration
   terms, dehumanising metaphors and loaded terms.
2. Relevance: the migration head scores the lead (title + first two sentences) and every
   sentence; the article score is the mean of the lead score and the mean of the three best
   sentence scores. An article is about migration when that score passes the head's
   threshold AND at least one migration term of the lexicon occurs: the encoder alone
   over-reads crime, school and housing news as migration news. Only articles with a term or
   a promising lead are embedded sentence by sentence, which keeps the encoder off most news.
3. Frames: the sentences of a migration article that are themselves about migration (the
   migration head passes) are scored by every frame head (all sentences if none passes),
   giving calibrated sentence probabilities. The article probability of a label is the
   noisy-or of its two best sentences; the label is assigned when that probability passes
   the label's article threshold AND at least MIN_EVIDENCE sentences pass the label's
   sentence threshold. Both thresholds were chosen out of fold on training data
   (models/fit.py); the article threshold is also kept where at most 1 % of negative
   training sentences pass, because an article offers many sentences to the rule.
4. Evidence: for every label, its best sentences (offsets into the text), and for assigned
   labels the words that carry the frame: lexicon metaphors and loaded terms in those
   sentences, and the words with the largest share of the head's score (models/explain.py).
5. Hostility: the highest sentence probability of the hostility head.
6. Voice: quotations and their speakers (models/voice.py), for every article.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from spacy.tokens import Doc

from models.encoder import Encoder, TokenStates
from models.explain import attribution_cues, lexicon_cues
from models.fit import TOP_K, noisy_or
from models.heads import Heads, sigmoid
from models.labels import load_labels
from models.lexicon import get_lexicon
from models.nlp import SUPPORTED, Sentence, parse, sentences_of, stop_words
from models.voice import find_quotes
from pipeline.records import Cue, Document, Evidence, Framing, TermHit

LEAD_SENTENCES = 2
# Sentence embedding is the costly step, so it runs only for articles whose lead looks
# migration-related or that contain a migration term. The pre-filter is deliberately looser
# (a fraction of the head's threshold) than the final decision, so it drops no article
# the decision would keep.
PREFILTER = 0.6
# Longer texts are read up to here: spaCy refuses documents over 1M characters, and no news
# article is that long (a page that is, is not one; offsets stay valid for the prefix).
MAX_CHARS = 200_000
MIN_EVIDENCE = 1  # sentences that must pass the sentence threshold for a label to be assigned


@dataclass(frozen=True)
class _Parsed:
    """A document split into sentences, with its lexicon hits and lead text."""

    doc: Document
    nlp_lang: str
    sentences: tuple[Sentence, ...]
    terms: tuple[TermHit, ...]
    lead: str
    paragraphs: list[tuple[int, Doc]]

    @property
    def migration_terms(self) -> int:
        """Distinct migration-lexicon entries found."""
        return len({t.term for t in self.terms if t.kind == "migration_term"})


@dataclass(frozen=True)
class _Decision:
    """The frame part of a Framing."""

    frames: dict[str, float]
    labels: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    counts: dict[str, int]


class Classifier:
    """The encoder, the heads and the lexicons, applied together."""

    def __init__(self, encoder: Encoder, heads: Heads, batch_size: int = 32) -> None:
        self.encoder = encoder
        self.heads = heads
        self.batch_size = batch_size
        self.labels = load_labels()
        self.codes, self.weights, self.bias = heads.frame_matrix()
        self.thresholds = np.array([heads.frames[c].threshold for c in self.codes])
        self.article_thresholds = np.array(
            [heads.frames[c].article_threshold or heads.frames[c].threshold for c in self.codes]
        )
        self.calibration = np.array([heads.frames[c].calibration for c in self.codes])

    @property
    def version(self) -> str:
        """Identifies encoder weights and heads: stored on every classified row."""
        return f"{self.encoder.version}+heads-{self.heads.version}"

    def classify(
        self, docs: Sequence[Document], progress: Callable[[int], None] | None = None
    ) -> list[Framing]:
        """Classify documents; ``progress`` is called with the number of documents done."""
        parsed = [self._parse(d) for d in docs]
        lead_x = self.embed([p.lead for p in parsed])
        lead_mig = self.heads.migration.predict(lead_x)
        relevant = [
            lead_mig[i] >= self.heads.migration.threshold * PREFILTER or p.migration_terms > 0
            for i, p in enumerate(parsed)
        ]
        sentences = [
            s.text for p, r in zip(parsed, relevant, strict=True) if r for s in p.sentences
        ]
        sent_x = self.embed(sentences)
        out, cursor = [], 0
        for i, p in enumerate(parsed):
            n = len(p.sentences) if relevant[i] else 0
            out.append(
                self._decide(p, float(lead_mig[i]), lead_x[i : i + 1], sent_x[cursor : cursor + n])
            )
            cursor += n
            if progress:
                progress(1)
        return out

    def _parse(self, doc: Document) -> _Parsed:
        """Sentences, lexicon hits and lead of one document (its first MAX_CHARS)."""
        lang = doc.lang if doc.lang in SUPPORTED else "xx"
        text = doc.text[:MAX_CHARS]
        parsed = parse(text, lang)  # once: sentences, lexicon hits and quotes share the parse
        sentences = tuple(sentences_of(parsed))
        terms = tuple(get_lexicon(lang).match_parsed(parsed)) if lang != "xx" else ()
        lead = " ".join([doc.title] + [s.text for s in sentences[:LEAD_SENTENCES]]).strip()
        return _Parsed(doc, lang, sentences, terms, lead or text[:500], parsed)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Encoder embeddings with the 'query: ' prefix the heads were trained with."""
        if not texts:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return self.encoder.encode(list(texts), kind="query", batch_size=self.batch_size)

    def _decide(
        self, p: _Parsed, lead_mig: float, lead_x: np.ndarray, sent_x: np.ndarray
    ) -> Framing:
        """Turn one document's scores into a Framing."""
        sent_mig = self.heads.migration.predict(sent_x)
        top = np.sort(sent_mig)[-3:] if len(sent_mig) else np.array([lead_mig])
        score = float(0.5 * lead_mig + 0.5 * top.mean())
        threshold = self.heads.migration.threshold
        migration = score >= threshold and p.migration_terms > 0
        hostile_x = sent_x if len(sent_x) else lead_x
        hostile = float(self.heads.hostile.predict(hostile_x).max()) if migration else 0.0
        on_topic = sent_mig >= threshold
        mask = on_topic if on_topic.any() else np.ones(len(sent_mig), dtype=bool)
        decision = self._frames(p, sent_x[mask], np.flatnonzero(mask)) if migration else None
        labels = decision.labels if decision else ()
        frames = decision.frames if decision else {}
        group = self.labels.strongest_group(frames, labels)
        return Framing(
            article_id=p.doc.id,
            lang=p.doc.lang,
            migration=migration,
            migration_score=score,
            frames=frames,
            labels=labels,
            group=group,
            hostile=hostile,
            evidence=decision.evidence if decision else (),
            terms=p.terms,
            # voice is reported for migration articles only (the article_voices view)
            quotes=tuple(find_quotes(p.doc.text[:MAX_CHARS], p.nlp_lang, p.paragraphs))
            if migration
            else (),
            model_version=self.version,
            evidence_counts=decision.counts if decision else {},
        )

    def sentence_probabilities(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probability of every label for rows of sentence embeddings."""
        logits = x.astype(np.float64) @ self.weights + self.bias
        return np.asarray(sigmoid(self.calibration[:, 0] * logits + self.calibration[:, 1]))

    def _frames(self, p: _Parsed, sent_x: np.ndarray, rows: np.ndarray) -> _Decision:
        """Article probabilities, assigned labels and evidence from on-topic sentences."""
        if len(sent_x) == 0:
            return _Decision({c: 0.0 for c in self.codes}, (), (), {})
        probs = self.sentence_probabilities(sent_x)
        article = noisy_or(probs)  # per label, over its best TOP_K sentences
        counts = (probs >= self.thresholds).sum(axis=0)
        frames = {c: round(float(v), 4) for c, v in zip(self.codes, article, strict=True)}
        labels = tuple(
            c
            for j, c in enumerate(self.codes)
            if article[j] >= self.article_thresholds[j] and counts[j] >= MIN_EVIDENCE
        )
        picked = [(j, i) for j in range(len(self.codes)) for i in self._best_rows(probs, j)]
        states = self._token_states(p, rows, {i for j, i in picked if self.codes[j] in labels})
        evidence = tuple(
            self._evidence(p, j, i, probs, rows, states if self.codes[j] in labels else {})
            for j, i in picked
        )
        return _Decision(
            frames, labels, evidence, {c: int(n) for c, n in zip(self.codes, counts, strict=True)}
        )

    def _best_rows(self, probs: np.ndarray, j: int) -> list[int]:
        """The best sentence of a label, plus its runner-up when that passes too."""
        order = np.argsort(-probs[:, j], kind="stable")[:TOP_K]
        return [int(order[0])] + [int(i) for i in order[1:] if probs[i, j] >= self.thresholds[j]]

    def _token_states(
        self, p: _Parsed, rows: np.ndarray, needed: set[int]
    ) -> dict[int, TokenStates]:
        """Token states of the evidence sentences of assigned labels: one encoder batch."""
        keys = sorted(needed)
        texts = [p.sentences[rows[i]].text for i in keys]
        return dict(zip(keys, self.encoder.encode_tokens(texts, kind="query"), strict=True))

    def _evidence(
        self,
        p: _Parsed,
        j: int,
        i: int,
        probs: np.ndarray,
        rows: np.ndarray,
        states: dict[int, TokenStates],
    ) -> Evidence:
        """One evidence sentence; with the words that carry the frame when token states are
        given (the label was assigned)."""
        s = p.sentences[rows[i]]
        cues = self._cues(p, s, j, states[i]) if i in states else ()
        return Evidence(self.codes[j], round(float(probs[i, j]), 4), s.start, s.end, s.text, cues)

    def _cues(self, p: _Parsed, s: Sentence, j: int, states: TokenStates) -> tuple[Cue, ...]:
        """Lexicon hits and attributed words of one evidence sentence."""
        found = lexicon_cues(p.terms, s.start, s.end)
        found += attribution_cues(
            s.text, s.start, states, self.weights[:, j], stop_words(p.nlp_lang)
        )
        return tuple(sorted(set(found), key=lambda c: (c.start, c.source)))
