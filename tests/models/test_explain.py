"""Attribution adds up: word shares are an exact split of a linear head's logit."""

from __future__ import annotations

import numpy as np

from models.encoder import TokenStates
from models.explain import attribution_cues, lexicon_cues, token_contributions, word_contributions
from pipeline.records import TermHit


def _states(text: str, spans: list[tuple[int, int]], seed: int = 0) -> TokenStates:
    """Random token states with special tokens at both ends."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(len(spans) + 2, 5)).astype(np.float32)
    norm = float(np.linalg.norm(vectors.mean(axis=0)))
    return TokenStates(vectors, [(-1, -1), *spans, (-1, -1)], norm)


def test_token_shares_sum_to_the_logit_without_bias() -> None:
    states = _states("ab cd", [(0, 2), (3, 5)])
    coef = np.arange(5, dtype=np.float64)
    logit = states.embedding().astype(np.float64) @ coef
    assert abs(token_contributions(states, coef).sum() - logit) < 1e-5


def test_subword_pieces_add_up_to_their_word() -> None:
    text = "Flüchtlingswelle droht"
    states = _states(text, [(0, 10), (10, 16), (17, 22)])
    coef = np.ones(5)
    shares = token_contributions(states, coef)
    words = word_contributions(text, states, coef)
    assert [(s, e) for s, e, _ in words] == [(0, 16), (17, 22)]
    assert abs(words[0][2] - (shares[1] + shares[2])) < 1e-9


def test_cues_point_into_the_article_and_keep_the_strongest_words() -> None:
    text = "the flood of migrants"
    states = _states(text, [(0, 3), (4, 9), (10, 12), (13, 21)], seed=3)
    coef = states.vectors[2].astype(np.float64)  # aligned with the token of "flood"
    cues = attribution_cues(text, 100, states, coef)
    assert cues and all(c.source == "attribution" for c in cues)
    assert "flood" in [c.text for c in cues]
    for c in cues:
        assert text[c.start - 100 : c.end - 100] == c.text
    assert sum(c.weight for c in cues) <= 1.0 + 1e-9


def test_lexicon_cues_only_inside_the_sentence_and_only_frame_carrying_kinds() -> None:
    hits = [
        TermHit("metaphor", "flood", 4, 9, "flood"),
        TermHit("migration_term", "migrant", 13, 21, "migrants"),
        TermHit("loaded_term", "illegal", 40, 47, "illegal"),
    ]
    cues = lexicon_cues(hits, 0, 30)
    assert [(c.text, c.source, c.weight) for c in cues] == [("flood", "lexicon", 1.0)]


def test_stop_words_and_elisions_are_not_cues() -> None:
    text = "qu'il flood dans"
    vectors = np.zeros((5, 4), dtype=np.float32)
    vectors[1, 0] = vectors[2, 1] = vectors[3, 2] = 1.0  # one direction per word
    states = TokenStates(vectors, [(-1, -1), (0, 5), (6, 11), (12, 16), (-1, -1)], 0.3)
    coef = np.array([1.0, 1.0, 0.0, 0.0])  # reads "qu'il" and "flood"
    assert [c.text for c in attribution_cues(text, 0, states, coef)] == ["qu'il", "flood"]
    cues = attribution_cues(text, 0, states, coef, frozenset({"il", "dans"}))
    assert [c.text for c in cues] == ["flood"]
