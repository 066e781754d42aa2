"""From texts to framings: relevance, frames, hostility, evidence and lexicon hits.

How an article is decided (also in docs/model-card.md):
1. spaCy splits the text into sentences (offsets kept); the lexicon layer finds migration
   terms, dehumanising metaphors and loaded terms.
2. Relevance: the migration head scores the lead (title + first two sentences) and every
   sentence; the article score is the mean of the lead score and the mean of the three best
   sentence scores. An article is about migration when that score passes the head's
   threshold AND at least one migration term of the lexicon occurs: the encoder alone
   over-reads crime, school and housing news as migration news. Only articles with a term or
   a promising lead are embedded sentence by sentence, which keeps the encoder off most news.
3. Frames: the sentences of a migration article that are themselves about migration (the
   migration head passes) are scored by every frame head (all sentences if none passes);
   the article score of a label is its best sentence's score (that sentence is the
   evidence), and the label is assigned when it passes the label's threshold (chosen on
   training data; see models/train.py for why it is kept strict).
4. Hostility: the highest sentence score of the hostility head.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from models.encoder import Encoder
from models.heads import Heads
from models.labels import load_labels
from models.lexicon import get_lexicon
from models.nlp import SUPPORTED, Sentence, parse, sentences_of
from pipeline.records import Document, Evidence, Framing, TermHit

LEAD_SENTENCES = 2
# Sentence embedding is the costly step, so it runs only for articles whose lead looks
# migration-related or that contain a migration term. The pre-filter is deliberately looser
# (a fraction of the head's threshold) than the final decision, so it drops no article
# the decision would keep.
PREFILTER = 0.6
# Longer texts are read up to here: spaCy refuses documents over 1M characters, and no news
# article is that long (a page that is, is not one; offsets stay valid for the prefix).
MAX_CHARS = 200_000


@dataclass(frozen=True)
class _Parsed:
    """A document split into sentences, with its lexicon hits and lead text."""

    doc: Document
    nlp_lang: str
    sentences: tuple[Sentence, ...]
    terms: tuple[TermHit, ...]
    lead: str

    @property
    def migration_terms(self) -> int:
        """Distinct migration-lexicon entries found."""
        return len({t.term for t in self.terms if t.kind == "migration_term"})


class Classifier:
    """The encoder, the heads and the lexicons, applied together."""

    def __init__(self, encoder: Encoder, heads: Heads, batch_size: int = 32) -> None:
        self.encoder = encoder
        self.heads = heads
        self.batch_size = batch_size
        self.labels = load_labels()
        self.codes, self.weights, self.bias = heads.frame_matrix()
        self.thresholds = np.array([heads.frames[c].threshold for c in self.codes])

    @property
    def version(self) -> str:
        """Identifies encoder weights and heads: stored on every classified row."""
        return f"{self.encoder.version}+heads-{self.heads.version}"

    def classify(
        self, docs: Sequence[Document], progress: Callable[[int], None] | None = None
    ) -> list[Framing]:
        """Classify documents; ``progress`` is called with the number of documents done."""
        parsed = [self._parse(d) for d in docs]
        lead_x = self._embed([p.lead for p in parsed])
        lead_mig = self.heads.migration.predict(lead_x)
        relevant = [
            lead_mig[i] >= self.heads.migration.threshold * PREFILTER or p.migration_terms > 0
            for i, p in enumerate(parsed)
        ]
        sentences = [
            s.text for p, r in zip(parsed, relevant, strict=True) if r for s in p.sentences
        ]
        sent_x = self._embed(sentences)
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
        parsed = parse(text, lang)  # once: sentences and lexicon hits come from the same parse
        sentences = tuple(sentences_of(parsed))
        terms = tuple(get_lexicon(lang).match_parsed(parsed)) if lang != "xx" else ()
        lead = " ".join([doc.title] + [s.text for s in sentences[:LEAD_SENTENCES]]).strip()
        return _Parsed(doc, lang, sentences, terms, lead or text[:500])

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
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
        frames, labels, evidence = (
            self._frames(p, sent_x, on_topic if on_topic.any() else None)
            if migration
            else ({}, (), ())
        )
        group = self.labels.group_of(max(labels, key=frames.__getitem__)) if labels else "none"
        return Framing(
            article_id=p.doc.id,
            lang=p.doc.lang,
            migration=migration,
            migration_score=score,
            frames=frames,
            labels=labels,
            group=group,
            hostile=hostile,
            evidence=evidence,
            terms=p.terms,
            model_version=self.version,
        )

    def _frames(
        self, p: _Parsed, sent_x: np.ndarray, mask: np.ndarray | None
    ) -> tuple[dict[str, float], tuple[str, ...], tuple[Evidence, ...]]:
        """Per-label article scores, the assigned labels and the best sentence of each."""
        if len(sent_x) == 0:
            return {c: 0.0 for c in self.codes}, (), ()
        probs = 1 / (1 + np.exp(-(sent_x.astype(np.float64) @ self.weights + self.bias)))
        if mask is not None:
            probs = probs * mask[:, None]  # off-topic sentences carry no frame
        best = probs.argmax(axis=0)
        scores = probs.max(axis=0)
        frames = {c: round(float(s), 4) for c, s in zip(self.codes, scores, strict=True)}
        labels = tuple(
            c for c, s, t in zip(self.codes, scores, self.thresholds, strict=True) if s >= t
        )
        evidence = tuple(
            Evidence(c, frames[c], p.sentences[b].start, p.sentences[b].end, p.sentences[b].text)
            for c, b in zip(self.codes, best, strict=True)
        )
        return frames, labels, evidence
