"""Which words carry a frame: exact attribution of a linear head over token states.

The encoder's sentence vector is the mean of its token states divided by the norm of that
mean (``e = mean_t(h_t) / n``), and a head's logit is ``w · e + b``. So the logit splits
exactly into one share per token: ``w · h_t / (T * n)``. Summing the shares of the sub-word
pieces of a word gives that word's contribution to the frame score. No sampling, no
surrogate model: the numbers add up to the head's own logit (minus the bias), which is why
this was preferred over occlusion (one encoder pass per word) or LIME.

Token states share a large common component, so raw shares favour frequent function
words. Cues therefore rank words by their share *above the sentence's average token*
(centred shares; the centring moves every token by the same amount, so the ranking is what
the head reads in this sentence beyond its average word), and skip the language's stop words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from models.encoder import TokenStates
from pipeline.records import Cue, TermHit

TOP_WORDS = 3
MIN_SHARE = 0.08  # words below this share of the positive evidence are not shown
_WORD = re.compile(r"\w[\w'’-]*", re.UNICODE)


def token_contributions(states: TokenStates, coef: np.ndarray) -> np.ndarray:
    """Each token's additive share of the head's logit (they sum to logit - intercept)."""
    t = states.vectors.shape[0]
    return np.asarray(states.vectors.astype(np.float64) @ coef / (t * states.norm))


def word_contributions(
    text: str, states: TokenStates, coef: np.ndarray, centred: bool = False
) -> list[tuple[int, int, float]]:
    """(start, end, contribution) per word of the sentence; sub-word shares summed.

    ``centred``: shares measured from the mean share of the text's own tokens.
    """
    shares = token_contributions(states, coef)
    if centred:
        inside = [i for i, (s, e) in enumerate(states.spans) if 0 <= s < e]
        shares = shares - (shares[inside].mean() if inside else 0.0)
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    totals = dict.fromkeys(words, 0.0)
    for (start, end), share in zip(states.spans, shares, strict=True):
        if start < 0 or end <= start:
            continue
        for w in words:
            if w[0] < end and start < w[1]:
                totals[w] += float(share)
                break
    return [(s, e, v) for (s, e), v in totals.items()]


def attribution_cues(
    text: str,
    offset: int,
    states: TokenStates,
    coef: np.ndarray,
    stop_words: frozenset[str] = frozenset(),
    top: int = TOP_WORDS,
) -> list[Cue]:
    """The content words that push the label most, with their share of the positive
    (centred) evidence."""
    words = [
        w
        for w in word_contributions(text, states, coef, centred=True)
        if w[2] > 0 and not _is_stop(text[w[0] : w[1]], stop_words)
    ]
    total = sum(v for _, _, v in words)
    if total <= 0:
        return []
    best = sorted(words, key=lambda w: -w[2])[:top]
    return [
        Cue(offset + s, offset + e, text[s:e], round(v / total, 4), "attribution")
        for s, e, v in sorted(best)
        if v / total >= MIN_SHARE
    ]


def _is_stop(word: str, stop_words: frozenset[str]) -> bool:
    """A stop word, also behind an elision (d'une, qu'il, dell'anno)."""
    lower = word.lower()
    tail = re.split(r"['’]", lower)[-1]
    return lower in stop_words or tail in stop_words or len(tail) < 2


def lexicon_cues(terms: Sequence[TermHit], start: int, end: int) -> list[Cue]:
    """Metaphors and loaded terms inside a sentence: they carry a frame by definition."""
    return [
        Cue(t.start, t.end, t.text, 1.0, "lexicon")
        for t in terms
        if t.kind in ("metaphor", "loaded_term") and start <= t.start and t.end <= end
    ]
