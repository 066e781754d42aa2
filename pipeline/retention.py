"""Data protection: texts past their retention are dropped, content is removed on request.

Public bodies may keep what they monitor only as long as the task needs it (docs/
data-protection.md). Three operations on the read-write connection:

- ``apply_retention`` drops the full text (and byline) of articles fetched more than
  ``text_retention_days`` ago, and their raw HTML; the headline, the URL, the classification
  and short evidence excerpts (at most ``excerpt_chars`` around the words that carry the frame)
  stay, so every figure and every report of a past week stays the same, with its examples.
- ``purge`` removes an article's content on request (``framewatch purge``): title, text,
  byline, URLs, evidence, quotations, matched words, raw HTML, its examples in stored alerts
  and the reviewers' annotations of it. Its classification stays, so the figures do not move;
  the keys of its URLs stay, so no crawl fetches it again. Logged in ``purge_log``.
- ``compact`` rewrites the database file: DuckDB leaves the old values of updated rows in
  freed blocks of the file (and of every copy of it) until new data reuses them.

Both removals work in transactions (one per batch of articles, or one per purge), so a run
killed halfway leaves every article either untouched or fully done, and a rerun does the
rest: they are idempotent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline import store
from pipeline.store import transaction, url_id, write_rows
from pipeline.timeutil import naive_utc, utc_now
from pipeline.urls import canonical_url, url_key

RETENTION_BATCH = 500  # articles per transaction when texts are dropped: bounds memory
PURGED = "purged:"  # prefix of the mark that replaces a purged URL
PREVIEW_TITLES = 5  # headlines a purge preview shows so the operator recognises the request


# --- excerpts -----------------------------------------------------------------------------


def excerpt(text: str, limit: int, focus: tuple[int, int] | None = None) -> tuple[int, int]:
    """Characters [a, b) of ``text`` to keep: all of it within ``limit``, else at most
    ``limit`` centred on ``focus`` (offsets into ``text``; default its start), edges moved
    inward to word boundaries so no word is cut in half.

    The focus (the strongest cue word) stays whole whenever it fits in the limit: the
    excerpt must still show why the frame was assigned.
    """
    if len(text) <= limit:
        return 0, len(text)
    if limit <= 0:
        return 0, 0
    start, end = sorted(max(0, min(x, len(text))) for x in focus or (0, 0))
    if end - start >= limit:
        return _trim(text, start, start + limit, start, start)
    a = max(0, min((start + end - limit) // 2, len(text) - limit))
    return _trim(text, a, a + limit, start, end)


def _trim(text: str, a: int, b: int, start: int, end: int) -> tuple[int, int]:
    """[a, b) with cut words and edge spaces removed, never into [start, end)."""
    if a > 0 and not text[a - 1].isspace():
        space = next((i for i in range(a, start) if text[i].isspace()), None)
        a = space + 1 if space is not None else a
    if b < len(text) and not text[b].isspace():
        space = next((i for i in range(b - 1, end - 1, -1) if text[i].isspace()), None)
        b = space if space is not None else b
    while a < min(b, start) and text[a].isspace():
        a += 1
    while b > max(a, end) and text[b - 1].isspace():
        b -= 1
    return a, b


def _strongest(cues: Sequence[dict[str, Any]] | None, start: int) -> tuple[int, int] | None:
    """The cue with the highest weight, as offsets into its sentence (``start`` = where the
    sentence begins in the text); None without cues."""
    if not cues:
        return None
    best = max(cues, key=lambda c: (float(c["weight"] or 0.0), -int(c["start_char"])))
    return int(best["start_char"]) - start, int(best["end_char"]) - start


# --- retention ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionCounts:
    """What ``apply_retention`` did."""

    texts: int = 0  # articles whose text and byline were dropped
    raw_pages: int = 0  # raw pages whose HTML was dropped
    evidence: int = 0  # article_evidence and article_frames sentences cut to an excerpt
    quotes: int = 0  # quotations whose speaker was dropped (and words cut to an excerpt)
    signatures: int = 0  # MinHash signatures deleted
    alerts: int = 0  # example sentences of stored alerts cut to an excerpt

    def __add__(self, other: RetentionCounts) -> RetentionCounts:
        """Field-wise sum, to total the batches."""
        return RetentionCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )


def cutoff(now: datetime, days: int) -> datetime | None:
    """``now`` minus ``days`` (naive UTC); None when ``days`` is 0: keep forever."""
    return naive_utc(now) - timedelta(days=days) if days > 0 else None


def raw_cutoff(now: datetime, text_days: int, raw_days: int) -> datetime | None:
    """When raw HTML goes: after ``raw_days``, and never later than the text, since
    ``framewatch reextract`` would bring a dropped text back from its page."""
    limits = [d for d in (text_days, raw_days) if d > 0]
    return cutoff(now, min(limits)) if limits else None


def apply_retention(
    con: duckdb.DuckDBPyConnection,
    now: datetime,
    text_days: int,
    raw_days: int,
    excerpt_chars: int,
    batch: int = RETENTION_BATCH,
) -> RetentionCounts:
    """Drop the raw HTML and the texts that are past their retention; return the counts.

    Age is counted from ``fetched_at`` (always set; ``published_at`` may be unknown): how
    long the text has been held. 0 days keeps forever. Each batch of articles is one
    transaction, so an interrupted run leaves whole articles and the next run goes on.
    """
    raw_before = raw_cutoff(now, text_days, raw_days)
    done = RetentionCounts(raw_pages=store.purge_raw_pages(con, raw_before) if raw_before else 0)
    text_before = cutoff(now, text_days)
    while text_before is not None and (ids := _due(con, text_before, batch)):
        with transaction(con):
            done += _drop_texts(con, ids, naive_utc(now), excerpt_chars)
    return done


def _due(con: duckdb.DuckDBPyConnection, before: datetime, batch: int) -> list[str]:
    """Up to ``batch`` ids of articles fetched before ``before`` that still have their text."""
    rows = con.execute(
        "SELECT id FROM articles WHERE text_dropped_at IS NULL AND fetched_at < ?"
        " ORDER BY id LIMIT ?",
        [before, batch],
    ).fetchall()
    return [r[0] for r in rows]


def _drop_texts(
    con: duckdb.DuckDBPyConnection, ids: list[str], now: datetime, limit: int
) -> RetentionCounts:
    """Cut the evidence, quotations and alert examples of ``ids`` to excerpts, delete their
    signatures, then empty text and byline (in the caller's transaction)."""
    evidence, cuts = _cut_evidence(con, ids, limit)
    frames = _cut_frames(con, ids, limit, cuts)
    quotes = _cut_quotes(con, ids, limit)
    signatures = _count(con, "DELETE FROM article_signatures WHERE article_id IN ?", [ids])
    alerts = _cut_alerts(con, ids, limit)
    con.execute(
        "UPDATE articles SET text = '', author = '', text_dropped_at = ? WHERE id IN ?",
        [now, ids],
    )
    return RetentionCounts(len(ids), 0, evidence + frames, quotes, signatures, alerts)


Span = tuple[int, int]
# (article_id, frame, start_char, end_char) of a sentence -> the excerpt kept of it
Cuts = dict[tuple[str, str, int, int], Span]


def _cut_evidence(con: duckdb.DuckDBPyConnection, ids: list[str], limit: int) -> tuple[int, Cuts]:
    """Cut every evidence sentence of ``ids`` to ``limit`` characters around its strongest
    cue; cues outside the excerpt go. Returns the rows cut and where each sentence went."""
    rows = con.execute(
        "SELECT article_id, frame, rank, sentence, start_char, end_char, cues"
        " FROM article_evidence WHERE article_id IN ?",
        [ids],
    ).fetchall()
    cuts: Cuts = {}
    batch = []
    for article_id, frame, rank, sentence, start, end, cues in rows:
        a, b = excerpt(sentence, limit, _strongest(cues, start))
        cuts[(article_id, frame, start, end)] = (a, b)
        if (a, b) != (0, len(sentence)):
            row = {"article_id": article_id, "frame": frame, "rank": rank}
            batch.append({**row, "sentence": sentence[a:b], "start": start + a, "end": start + b})
    write_rows(con, _EVIDENCE_CUT, batch)
    return len(batch), cuts


_EVIDENCE_CUT = """
UPDATE article_evidence SET sentence = b.sentence, start_char = b.start, end_char = b."end",
       cues = list_filter(article_evidence.cues,
                          lambda c: c.start_char >= b.start AND c.end_char <= b."end")
FROM batch AS b
WHERE article_evidence.article_id = b.article_id AND article_evidence.frame = b.frame
  AND article_evidence.rank = b.rank
"""


def _cut_frames(con: duckdb.DuckDBPyConnection, ids: list[str], limit: int, cuts: Cuts) -> int:
    """Cut each frame's best sentence like its rank-1 evidence row (same sentence, same
    excerpt), or from its start when it has none; return the rows cut."""
    rows = con.execute(
        "SELECT article_id, frame, evidence, start_char, end_char FROM article_frames"
        " WHERE article_id IN ? AND evidence IS NOT NULL",
        [ids],
    ).fetchall()
    batch = []
    for article_id, frame, sentence, start, end in rows:
        a, b = cuts.get((article_id, frame, start, end)) or excerpt(sentence, limit)
        if (a, b) != (0, len(sentence)):
            base = start or 0
            batch.append(
                {
                    "article_id": article_id,
                    "frame": frame,
                    "evidence": sentence[a:b],
                    "start": base + a,
                    "end": base + b,
                }
            )
    write_rows(
        con,
        "UPDATE article_frames SET evidence = b.evidence, start_char = b.start,"
        ' end_char = b."end" FROM batch AS b'
        " WHERE article_frames.article_id = b.article_id AND article_frames.frame = b.frame",
        batch,
    )
    return len(batch)


def _cut_quotes(con: duckdb.DuckDBPyConnection, ids: list[str], limit: int) -> int:
    """Drop the speakers' names of ``ids`` (their category stays: the voices figures count
    categories) and cut long quotations to their first ``limit`` characters."""
    rows = con.execute(
        "SELECT article_id, quote_index, quote, start_char FROM article_quotes"
        " WHERE article_id IN ?",
        [ids],
    ).fetchall()
    batch = []
    for article_id, index, quote, start in rows:
        a, b = excerpt(quote, limit)
        if (a, b) != (0, len(quote)):
            row = {"article_id": article_id, "quote_index": index, "quote": quote[a:b]}
            batch.append({**row, "start": start + a, "end": start + b})
    write_rows(
        con,
        'UPDATE article_quotes SET quote = b.quote, start_char = b.start, end_char = b."end"'
        " FROM batch AS b WHERE article_quotes.article_id = b.article_id"
        " AND article_quotes.quote_index = b.quote_index",
        batch,
    )
    con.execute(
        "UPDATE article_quotes SET speaker = '', speaker_start = NULL, speaker_end = NULL"
        " WHERE article_id IN ?",
        [ids],
    )
    return len(rows)


def _cut_alerts(con: duckdb.DuckDBPyConnection, ids: list[str], limit: int) -> int:
    """Cut the example sentences that stored alerts keep of ``ids``; return how many."""
    chosen, batch, cut = set(ids), [], 0
    for alert_id, examples in con.execute(_ALERTS_OF, [ids]).fetchall():
        old = [e["sentence"] or "" for e in examples]
        new = [
            _centred(text, limit) if e["article_id"] in chosen else text
            for e, text in zip(examples, old, strict=True)
        ]
        cut += sum(a != b for a, b in zip(old, new, strict=True))
        batch.append({"id": alert_id, "sentences": new})
    write_rows(
        con,
        "UPDATE alerts SET evidence = list_transform(list_zip(alerts.evidence, b.sentences),"
        " lambda p: struct_update(p[1], sentence := p[2])) FROM batch AS b WHERE alerts.id = b.id",
        batch,
    )
    return cut


def _centred(text: str, limit: int) -> str:
    """An excerpt from the middle of ``text``: a metaphor alert's sentence is centred on the
    metaphor, and a frame's sentence has no cue stored with the alert."""
    middle = len(text) // 2
    a, b = excerpt(text, limit, (middle, middle))
    return text[a:b]


_ALERTS_OF = """
SELECT id, evidence FROM alerts
WHERE list_has_any(list_transform(evidence, lambda e: e.article_id), ?)
"""


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object]) -> int:
    """Run an UPDATE or DELETE; return how many rows it changed."""
    rows = con.execute(sql, params).fetchall()
    return int(rows[0][0]) if rows else 0


# --- purge on request ---------------------------------------------------------------------


@dataclass(frozen=True)
class Selector:
    """What a purge removes: the articles (and raw pages) matching every selector given."""

    url: str | None = None  # any URL form of one article: as announced, fetched or canonical
    source: str | None = None  # every article of the outlet (sources.id)
    before: datetime | None = None  # every article fetched before this instant (UTC)

    def __post_init__(self) -> None:
        """Refuse a purge without a selector: it would empty the whole database."""
        if not (self.url or self.source or self.before):
            raise ValueError("a purge needs a URL, an outlet or a date")

    def forms(self) -> list[str]:
        """The URL as given and in its canonical form (how articles.id was made)."""
        return list(dict.fromkeys([self.url, canonical_url(self.url)])) if self.url else []

    def where(self, table: str) -> tuple[str, list[object]]:
        """SQL condition on ``articles`` or ``raw_pages`` (not yet purged) and its parameters."""
        forms = self.forms()
        conds: list[str] = [_NOT_PURGED[table]]
        params: list[object] = []
        if forms and table == "articles":
            conds.append("(id = ? OR url IN ? OR requested_url IN ? OR canonical_url IN ?)")
            params += [url_key(forms[0]), forms, forms, forms]
        elif forms:
            conds.append("(url_id IN ? OR url IN ? OR requested_url IN ?)")
            params += [[url_id(f) for f in forms], forms, forms]
        if self.source:
            conds.append("source_id = ?")
            params.append(self.source)
        if self.before:
            conds.append("fetched_at < ?")
            params.append(naive_utc(self.before))
        return " AND ".join(conds), params


_NOT_PURGED = {
    "articles": "purge_id IS NULL",
    "raw_pages": "NOT starts_with(coalesce(dropped, ''), 'purge ')",
}


@dataclass(frozen=True)
class PurgePreview:
    """What a purge would remove, for the operator to confirm."""

    articles: int
    raw_pages: int  # pages of those articles and pages that yielded none
    sources: tuple[str, ...]
    first_fetched: datetime | None
    last_fetched: datetime | None
    titles: tuple[str, ...]  # a few headlines (scraped text), to recognise the request


def preview(
    con: duckdb.DuckDBPyConnection,
    *,
    url: str | None = None,
    source: str | None = None,
    before: datetime | None = None,
) -> PurgePreview:
    """What ``purge`` with the same selectors would remove now (reads only)."""
    selector = Selector(url, source, before)
    cond, params = selector.where("articles")
    rows = con.execute(
        f"SELECT id, source_id, fetched_at, title FROM articles WHERE {cond}"
        " ORDER BY fetched_at DESC, id",
        params,
    ).fetchall()
    pages = _selected_pages(con, selector, [r[0] for r in rows])
    times = [r[2] for r in rows]
    return PurgePreview(
        len(rows),
        len(pages),
        tuple(sorted({r[1] for r in rows} | {p[1] for p in pages})),
        min(times, default=None),
        max(times, default=None),
        tuple(r[3] for r in rows[:PREVIEW_TITLES]),
    )


@dataclass(frozen=True)
class PurgeCounts:
    """What ``purge`` removed (also written to purge_log)."""

    purge_id: str
    articles: int
    raw_pages: int
    evidence: int
    quotes: int
    terms: int
    fetch_log: int
    alerts: int
    annotations: int


def purge(
    con: duckdb.DuckDBPyConnection,
    *,
    url: str | None = None,
    source: str | None = None,
    before: datetime | None = None,
    reason: str,
    requested_by: str,
    now: datetime | None = None,
) -> PurgeCounts:
    """Remove the content of the selected articles and raw pages, in ONE transaction.

    Removed: title, text, byline and URLs of the articles (a URL becomes ``purged:`` and the
    sha1 of the URL, the same mark wherever that URL stood, so joins on URLs still match),
    evidence sentences and cues, quotations and speakers, matched words, signatures, raw
    HTML and feed titles, the URL in the fetch log and in its notes, the articles' examples
    in stored alerts, and the reviewers' annotations of them (their text is a passage of the
    article). Kept: ids and the classification (relevance, scores, assigned frames, term and
    quote rows with their categories), so weekly_frames and every report figure stay the
    same; and the url_keys of every URL form, so no crawl stores the article again.
    """
    selector = Selector(url, source, before)
    purge_id, at = uuid.uuid4().hex[:12], naive_utc(now) if now else utc_now()
    with transaction(con):
        counts = _remove(con, selector, purge_id, at)
        _log(con, counts, selector, at, reason, requested_by)
    return counts


def _remove(
    con: duckdb.DuckDBPyConnection, selector: Selector, purge_id: str, at: datetime
) -> PurgeCounts:
    """``purge`` inside the caller's transaction. The articles are stamped first: every
    later step finds them by their purge id."""
    articles = _selected_articles(con, selector)
    pages = _selected_pages(con, selector, [a[0] for a in articles])
    _write_keys(con, [*_article_keys(articles), *_page_keys(pages)], purge_id)
    urls = {u for row in [*articles, *pages] for u in row[2:] if u}
    emptied = _empty_articles(con, articles, purge_id, at)
    raw = _empty_pages(con, pages, purge_id)
    evidence, quotes, terms = _empty_classification(con, purge_id)
    logged = _scrub_fetch_log(con, urls)
    examples = _drop_alert_examples(con, [a[0] for a in articles])
    notes = _count(con, f"DELETE FROM annotations WHERE article_id IN ({_PURGED_IDS})", [purge_id])
    return PurgeCounts(purge_id, emptied, raw, evidence, quotes, terms, logged, examples, notes)


ArticleRow = tuple[str, str, str, str, str]  # id, source_id, url, requested_url, canonical_url
PageRow = tuple[str, str, str, str]  # url_id, source_id, url, requested_url
_PURGED_IDS = "SELECT id FROM articles WHERE purge_id = ?"


def _selected_articles(con: duckdb.DuckDBPyConnection, selector: Selector) -> list[ArticleRow]:
    """The articles a purge selects, not purged yet."""
    cond, params = selector.where("articles")
    rows = con.execute(
        f"SELECT id, source_id, url, requested_url, canonical_url FROM articles WHERE {cond}",
        params,
    ).fetchall()
    return [(str(a), str(b), str(c), str(d), str(e)) for a, b, c, d, e in rows]


def _selected_pages(
    con: duckdb.DuckDBPyConnection, selector: Selector, article_ids: Sequence[str]
) -> list[PageRow]:
    """The raw pages a purge selects: those matching it, and those of the selected articles."""
    cond, params = selector.where("raw_pages")
    rows = con.execute(
        "SELECT url_id, source_id, url, requested_url FROM raw_pages"
        f" WHERE {_NOT_PURGED['raw_pages']} AND (({cond}) OR article_id IN ?)",
        [*params, list(article_ids)],
    ).fetchall()
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]


Key = tuple[str, str]  # (key, source_id)


def _article_keys(rows: Iterable[ArticleRow]) -> list[Key]:
    """url_keys of articles: their own id and the key of every URL form."""
    return [k for i, src, *urls in rows for k in [(i, src), *_url_keys(urls, src)]]


def _page_keys(rows: Iterable[PageRow]) -> list[Key]:
    """url_keys of raw pages: their own url_id and the key of every URL form."""
    return [k for i, src, *urls in rows for k in [(i, src), *_url_keys(urls, src)]]


def _url_keys(urls: Iterable[str], source_id: str) -> list[Key]:
    """(url_key, outlet) of the URLs that are URLs (not empty, not a purge mark)."""
    return [(url_key(u), source_id) for u in urls if u and not u.startswith(PURGED)]


def _write_keys(con: duckdb.DuckDBPyConnection, keys: Iterable[Key], purge_id: str) -> None:
    """Keep every key in url_keys (the crawler's list: written here too, since rows stored
    before url_keys existed may not be keyed yet) and in purged_keys."""
    rows = [{"key": k, "source_id": s, "purge_id": purge_id} for k, s in dict.fromkeys(keys)]
    write_rows(con, "INSERT OR IGNORE INTO url_keys SELECT key, source_id FROM batch", rows)
    write_rows(con, "INSERT OR IGNORE INTO purged_keys BY NAME SELECT * FROM batch", rows)


def mark(url: str) -> str:
    """What a purged URL becomes: ``purged:`` and 16 hex digits of its sha1."""
    return url if url.startswith(PURGED) or not url else PURGED + url_id(url)


def _empty_articles(
    con: duckdb.DuckDBPyConnection, rows: Sequence[ArticleRow], purge_id: str, at: datetime
) -> int:
    """Empty title, text and byline, mark the URLs, stamp the purge; return how many."""
    batch = [
        {
            "id": i,
            "url": mark(u),
            "requested_url": mark(r),
            "canonical_url": mark(c),
            "at": at,
            "purge_id": purge_id,
        }
        for i, _, u, r, c in rows
    ]
    write_rows(
        con,
        "UPDATE articles SET title = '', text = '', author = '', url = b.url,"
        " requested_url = b.requested_url, canonical_url = b.canonical_url,"
        " text_dropped_at = coalesce(articles.text_dropped_at, b.at), purge_id = b.purge_id"
        " FROM batch AS b WHERE articles.id = b.id",
        batch,
    )
    return len(batch)


def _empty_pages(con: duckdb.DuckDBPyConnection, rows: Sequence[PageRow], purge_id: str) -> int:
    """Drop the HTML, URLs and feed title of raw pages; return how many."""
    batch = [
        {"url_id": i, "url": mark(u), "requested_url": mark(r), "dropped": f"purge {purge_id}"}
        for i, _, u, r in rows
    ]
    write_rows(
        con,
        "UPDATE raw_pages SET html_gz = NULL, feed_title = '', url = b.url,"
        " requested_url = b.requested_url, dropped = b.dropped"
        " FROM batch AS b WHERE raw_pages.url_id = b.url_id",
        batch,
    )
    return len(batch)


def _empty_classification(con: duckdb.DuckDBPyConnection, purge_id: str) -> tuple[int, int, int]:
    """Empty the words of the purged articles' evidence, quotes and terms, keeping every
    row and its scores and categories (the figures count rows); delete their signatures.
    Returns the rows emptied: (evidence and frames, quotes, terms)."""
    params = [purge_id]
    evidence = _count(
        con,
        "UPDATE article_evidence SET sentence = '', cues = NULL"
        f" WHERE article_id IN ({_PURGED_IDS})",
        params,
    ) + _count(
        con,
        "UPDATE article_frames SET evidence = NULL, start_char = NULL, end_char = NULL"
        f" WHERE evidence IS NOT NULL AND article_id IN ({_PURGED_IDS})",
        params,
    )
    quotes = _count(
        con,
        "UPDATE article_quotes SET quote = '', speaker = '', speaker_start = NULL,"
        f" speaker_end = NULL WHERE article_id IN ({_PURGED_IDS})",
        params,
    )
    terms = _count(
        con, f"UPDATE article_terms SET matched = '' WHERE article_id IN ({_PURGED_IDS})", params
    )
    con.execute(f"DELETE FROM article_signatures WHERE article_id IN ({_PURGED_IDS})", params)
    return evidence, quotes, terms


def _scrub_fetch_log(con: duckdb.DuckDBPyConnection, urls: set[str]) -> int:
    """Mark the purged URLs in fetch_log: as the row's URL, and where a note names them
    ("same text as <url>"); return the rows changed."""
    pairs = [{"url": u, "mark": mark(u)} for u in sorted(urls) if not u.startswith(PURGED)]
    if not pairs:
        return 0
    with _registered(con, "purged_urls", pairs):
        notes = con.execute(_NOTES_NAMING).fetchall()
        changed = _count(
            con,
            "UPDATE fetch_log SET url = p.mark FROM purged_urls AS p WHERE fetch_log.url = p.url",
            [],
        )
    marks = {p["url"]: p["mark"] for p in pairs}
    rewritten = [{"rid": rid, "note": _marked(note, marks)} for rid, note in notes]
    write_rows(
        con,
        "UPDATE fetch_log SET note = b.note FROM batch AS b WHERE fetch_log.rowid = b.rid",
        rewritten,
    )
    return changed + len(rewritten)


# Notes are split into words and joined to the purged URLs: a hash join, not a substring
# search of every note for every URL.
_NOTES_NAMING = """
SELECT DISTINCT rid, note FROM (
    SELECT rowid AS rid, note, unnest(string_split(note, ' ')) AS word
    FROM fetch_log WHERE note IS NOT NULL
) JOIN purged_urls ON purged_urls.url = word
"""


def _marked(note: str, marks: dict[str, str]) -> str:
    """The note with every word that is a purged URL replaced by its mark."""
    return " ".join(marks.get(word, word) for word in note.split(" "))


@contextmanager
def _registered(
    con: duckdb.DuckDBPyConnection, name: str, rows: list[dict[str, Any]]
) -> Iterator[None]:
    """Rows visible to SQL as table ``name`` for the block."""
    con.register(name, pa.Table.from_pylist(rows))
    try:
        yield
    finally:
        con.unregister(name)


def _drop_alert_examples(con: duckdb.DuckDBPyConnection, ids: list[str]) -> int:
    """Remove the purged articles from the examples of stored alerts (their counts stay);
    return how many examples went."""
    if not ids:
        return 0
    found = con.execute(
        "SELECT sum(len(evidence) - len(list_filter(evidence,"
        " lambda e: NOT list_contains(?, e.article_id)))) FROM alerts",
        [ids],
    ).fetchall()
    con.execute(
        "UPDATE alerts SET evidence = list_filter(evidence,"
        " lambda e: NOT list_contains(?, e.article_id))"
        " WHERE list_has_any(list_transform(evidence, lambda e: e.article_id), ?)",
        [ids, ids],
    )
    return int(found[0][0] or 0) if found else 0


def _log(
    con: duckdb.DuckDBPyConnection,
    counts: PurgeCounts,
    selector: Selector,
    at: datetime,
    reason: str,
    requested_by: str,
) -> None:
    """The purge_log row: the selectors (a URL only as its key), who, why, the counts."""
    con.execute(
        "INSERT INTO purge_log (id, purged_at, requested_by, reason, url_key, source_id,"
        " fetched_before, articles, raw_pages, evidence, quotes, terms, fetch_log, alerts,"
        " annotations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            counts.purge_id,
            at,
            requested_by,
            reason,
            url_key(selector.url) if selector.url else None,
            selector.source,
            naive_utc(selector.before),
            *(getattr(counts, f.name) for f in fields(counts)[1:]),
        ],
    )


def purged_keys(con: duckdb.DuckDBPyConnection, source_ids: Sequence[str]) -> frozenset[str]:
    """Keys of the purged URLs of these outlets: what a crawl with ``--refetch`` (which
    ignores ``store.known_keys``) must still skip."""
    rows = con.execute(
        "SELECT DISTINCT key FROM purged_keys WHERE source_id IN ?", [sorted(source_ids)]
    ).fetchall()
    return frozenset(r[0] for r in rows)


# --- compaction ---------------------------------------------------------------------------


def compact(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Rewrite the database at ``path`` with its live rows only, CLOSE ``con`` (which must be
    the only connection to it, the writer's) and put the new file in its place.

    DuckDB frees the blocks of rows it updates without overwriting them: after a purge the
    old titles and texts can still be read from the file, and from every copy of it (the
    readers' snapshot, a backup), until new data happens to reuse those blocks. ``COPY FROM
    DATABASE`` writes tables, views, comments and constraints into a fresh file.
    """
    fresh = path.with_name(path.name + ".compacting")
    fresh.unlink(missing_ok=True)
    name = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute(f"ATTACH '{_quoted(str(fresh))}' AS compacted")
    try:
        con.execute(f'COPY FROM DATABASE "{_named(name)}" TO compacted')
    except duckdb.Error:
        con.execute("DETACH compacted")
        fresh.unlink(missing_ok=True)
        raise
    con.execute("CHECKPOINT compacted")  # all of it in the file, none in a WAL beside it
    con.execute("DETACH compacted")
    con.close()
    # The copy holds everything committed; a WAL left beside the old file would be replayed
    # onto the new one.
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    os.replace(fresh, path)
    return path


def _named(name: str) -> str:
    """Text for a double-quoted SQL identifier."""
    return name.replace('"', '""')


def _quoted(text: str) -> str:
    """Text for a single-quoted SQL literal."""
    return text.replace("'", "''")
