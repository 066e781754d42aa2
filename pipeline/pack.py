"""Training packs: the best recent examples of one frame, for media trainers (issue 5).

A pack shows a trainer's group how a frame looks in their own local news: a handful of short
excerpts with the words that carry the frame highlighted, loaded terms with the alternatives
the style guides suggest, discussion prompts, and good-practice counter-examples.

How examples are chosen (docs/packs.md says the same for trainers):

- counted migration articles (``migration_articles``, one copy per outlet and story) with the
  frame assigned, or confirmed by a reviewer, published in the last ``weeks`` weeks, whose
  text is still stored (``aggregate.TEXT_KEPT``: not past its retention, not purged); an
  article whose reviewer rejected the frame is left out;
- articles in the pack's language first (the pack is for trainers of that language); other
  languages only when there are fewer than ``limit``, and the pack says so;
- reviewed ones first (an annotation of the article lists the frame), then by the model's
  score; at most ``MAX_PER_OUTLET`` per outlet and one per story, so the pack is not one
  outlet's or one wire story's;
- an excerpt of at most ``MAX_EXCERPT`` characters around the best evidence sentence, and
  never more than ``MAX_SHARE`` of the article: the pack quotes, it does not republish;
- good practice: articles with a hero frame or that quote migrants themselves, same rules.

Names of private persons are pseudonymised (``models.pseudonymise``) before anything is shown,
and a source link whose address spells such a name points to the outlet's home page only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import duckdb

from dashboards.i18n import fmt_date, fmt_period, locale, translator
from models.labels import load_labels
from models.pseudonymise import MIN_INSIDE, Pseudonymiser, Redacted, fold, load_public_figures
from pipeline.aggregate import GOOD_PRACTICE, TEXT_KEPT, Period, last_days
from pipeline.urls import is_web_url

GOOD_PRACTICE_COUNT = 3
MAX_PER_OUTLET = 2
MAX_EXCERPT = 400  # characters of an excerpt, at most
MAX_SHARE = 0.5  # of an article's text an excerpt may show, at most
HIGHLIGHT_KINDS = ("metaphor", "loaded_term")


@dataclass(frozen=True)
class Highlight:
    """Marked words of an excerpt (offsets into the excerpt) and why they are marked."""

    start: int
    end: int
    kind: str  # cue | metaphor | loaded_term
    term: str = ""
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Segment:
    """A piece of an excerpt, marked or not: what the templates loop over."""

    text: str
    mark: Highlight | None = None


@dataclass(frozen=True)
class PackExample:
    """One article of a pack, pseudonymised, with its excerpt and highlights."""

    article_id: str
    title: str
    outlet: str
    lang: str
    date: str
    url: str | None  # http(s) only; None when the stored URL is anything else
    link_shortened: bool  # the URL spelled a pseudonymised name: only the outlet's home page
    score: float
    reviewed: bool
    frame: str
    excerpt: str
    highlights: tuple[Highlight, ...]
    cut_before: bool
    cut_after: bool

    @property
    def segments(self) -> list[Segment]:
        """The excerpt cut into plain and marked pieces, in order."""
        out: list[Segment] = []
        pos = 0
        for h in self.highlights:
            out += [Segment(self.excerpt[pos : h.start])] if h.start > pos else []
            out.append(Segment(self.excerpt[h.start : h.end], h))
            pos = h.end
        return out + ([Segment(self.excerpt[pos:])] if pos < len(self.excerpt) else [])

    @property
    def loaded_terms(self) -> list[Highlight]:
        """The loaded terms of the excerpt that have suggested alternatives."""
        seen: dict[str, Highlight] = {}
        for h in self.highlights:
            if h.kind == "loaded_term" and h.alternatives:
                seen.setdefault(h.term, h)
        return list(seen.values())


@dataclass(frozen=True)
class Pack:
    """Everything a training pack shows; built from the database, rendered as HTML and MD."""

    frame: str
    frame_name: str
    frame_description: str
    group: str
    lang: str
    t: dict[str, str]
    period: Period
    weeks: int
    generated: str
    examples: tuple[PackExample, ...]
    good_practice: tuple[PackExample, ...]
    prompts: tuple[str, ...]
    other_languages: tuple[str, ...]  # languages used because the pack's own had too few
    pseudonyms: int  # private persons pseudonymised

    @property
    def period_dates(self) -> str:
        """The first and last day the pack covers, in the pack's language."""
        return fmt_period(self.period.start, self.period.end, self.lang)

    @property
    def other_language_names(self) -> tuple[str, ...]:
        """The other languages as the pack's language names them (Babel)."""
        names = locale(self.lang).languages
        return tuple(str(names.get(code, code)) for code in self.other_languages)


@dataclass(frozen=True)
class Candidate:
    """An article that may go into a pack, as the selection query returns it."""

    article_id: str
    title: str
    source_id: str
    outlet: str
    lang: str
    published: datetime | None
    url: str
    text: str
    story_id: str
    score: float
    frame: str
    reviewed: bool
    quote_start: int | None
    quote_end: int | None


# Only articles whose text is kept: the pseudonymiser reads the whole text (a name in the
# excerpt is known from the first paragraph), and the excerpt is cut from it.
CANDIDATES_SQL = f"""
WITH reviewed AS (
    SELECT article_id,
           bool_or(list_has_any(labels, $frames)) AS confirmed,
           bool_and(NOT list_has_any(labels, $frames)) AS rejected
    FROM annotations WHERE article_id IS NOT NULL AND labels IS NOT NULL
    GROUP BY article_id
), framed AS (
    SELECT article_id, arg_max(frame, score + CASE WHEN assigned THEN 1 ELSE 0 END) AS frame,
           max(score) AS score, bool_or(assigned) AS assigned
    FROM article_frames WHERE list_contains($frames, frame)
    GROUP BY article_id
), voiced AS (
    SELECT article_id, min(start_char) AS q_start, arg_min(end_char, start_char) AS q_end
    FROM article_quotes WHERE speaker_category = 'migrant' AND $quotes
    GROUP BY article_id
)
SELECT m.id, m.title, m.source_id, m.source_name, m.lang, m.published_at, a.canonical_url,
       a.text, m.story_id, coalesce(f.score, 0.0), coalesce(f.frame, $frames[1]),
       coalesce(r.confirmed, false) AS confirmed, v.q_start, v.q_end
FROM migration_articles m
JOIN articles a ON a.id = m.id
LEFT JOIN framed f ON f.article_id = m.id
LEFT JOIN reviewed r ON r.article_id = m.id
LEFT JOIN voiced v ON v.article_id = m.id
WHERE m.counted AND m.published_at >= $start AND m.published_at < $end AND {TEXT_KEPT}
  AND ((coalesce(f.assigned, false) OR coalesce(r.confirmed, false))
       AND NOT coalesce(r.rejected, false)
       OR v.article_id IS NOT NULL)
ORDER BY (m.lang = $lang) DESC, confirmed DESC, coalesce(f.score, 0.0) DESC, m.id
"""


def candidates(
    con: duckdb.DuckDBPyConnection,
    frames: Sequence[str],
    period: Period,
    lang: str,
    migrant_quotes: bool = False,
) -> list[Candidate]:
    """Articles carrying one of the frames (or, with ``migrant_quotes``, quoting migrants),
    best first: the pack's language, then reviewed, then the model's score."""
    params = {
        "frames": list(frames),
        "quotes": migrant_quotes,
        "start": period.start,
        "end": period.end,
        "lang": lang,
    }
    rows = con.execute(CANDIDATES_SQL, params).fetchall()
    return [Candidate(*row) for row in rows]


def pick(found: Sequence[Candidate], limit: int, taken: set[str]) -> list[Candidate]:
    """The first ``limit`` candidates, at most MAX_PER_OUTLET per outlet, one per story, none
    of ``taken`` (stories already in the pack)."""
    per_outlet: Counter[str] = Counter()
    stories = set(taken)
    out: list[Candidate] = []
    for c in found:
        if len(out) >= limit:
            break
        if per_outlet[c.source_id] >= MAX_PER_OUTLET or c.story_id in stories:
            continue
        per_outlet[c.source_id] += 1
        stories.add(c.story_id)
        out.append(c)
    return out


# --- excerpts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """The best evidence sentence of an article for a frame, with its cue words."""

    start: int
    end: int
    cues: tuple[Highlight, ...]  # offsets into the article text


def evidence(con: duckdb.DuckDBPyConnection, c: Candidate) -> Evidence:
    """Rank-1 evidence of the candidate's frame; article_frames' sentence when there is none;
    the migrant quote for a good-practice article found by its quotes; else the text start."""
    rows = con.execute(
        "SELECT start_char, end_char, cues FROM article_evidence"
        " WHERE article_id = ? AND frame = ? ORDER BY rank LIMIT 1",
        [c.article_id, c.frame],
    ).fetchall()
    if rows and c.score > 0:
        start, end, cues = rows[0]
        return Evidence(int(start), int(end), tuple(_cue(x) for x in cues or ()))
    if c.quote_start is not None and c.quote_end is not None and c.score == 0:
        return Evidence(c.quote_start, c.quote_end, ())
    rows = con.execute(
        "SELECT start_char, end_char FROM article_frames WHERE article_id = ? AND frame = ?",
        [c.article_id, c.frame],
    ).fetchall()
    if rows and rows[0][0] is not None and rows[0][1] is not None:
        return Evidence(int(rows[0][0]), int(rows[0][1]), ())
    return Evidence(0, min(len(c.text), MAX_EXCERPT), ())


def _cue(cue: dict[str, Any]) -> Highlight:
    """A cue word of article_evidence as a highlight."""
    return Highlight(int(cue["start_char"]), int(cue["end_char"]), "cue", str(cue["word"]))


def terms(con: duckdb.DuckDBPyConnection, article_id: str) -> list[Highlight]:
    """Metaphors and loaded terms found in an article, with a loaded term's alternatives."""
    rows = con.execute(
        "SELECT kind, term, start_char, end_char, alternatives FROM article_terms"
        " WHERE article_id = ? AND kind IN ? ORDER BY start_char",
        [article_id, list(HIGHLIGHT_KINDS)],
    ).fetchall()
    return [Highlight(int(s), int(e), k, str(t), tuple(alts or ())) for k, t, s, e, alts in rows]


def window(text: str, start: int, end: int, cues: Sequence[Highlight]) -> tuple[int, int]:
    """Characters [a, b) of the excerpt: the evidence sentence with context on both sides,
    at most MAX_EXCERPT long and MAX_SHARE of the text, cut at spaces.

    A sentence longer than that is cut around its first cue, so the marked words stay in.
    """
    size = min(MAX_EXCERPT, int(len(text) * MAX_SHARE))
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    if end - start > size:
        focus = cues[0].start if cues else start
        start = max(start, min(focus - size // 4, end - size))
        end = start + size
    spare = size - (end - start)
    a = max(0, start - spare // 2)
    b = min(len(text), end + (spare - (start - a)))
    a = max(0, min(a, b - size))
    return _strip(text, _snap(text, a, start, True), _snap(text, b, end, False))


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    """An excerpt's edges moved past spaces and line breaks, so it starts and ends on a word."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _snap(text: str, pos: int, limit: int, forward: bool) -> int:
    """Move an excerpt edge to a word boundary, never past ``limit`` (the sentence edge)."""
    if pos <= 0 or pos >= len(text) or text[pos - 1].isspace() or text[pos].isspace():
        return pos
    step = 1 if forward else -1
    p = pos
    while 0 < p < len(text) and not text[p - 1].isspace() and p != limit:
        p += step
    return p


def in_window(marks: Sequence[Highlight], a: int, b: int) -> list[Highlight]:
    """Highlights inside [a, b), overlaps resolved: lexicon terms (they carry alternatives)
    before cue words, then the longer one."""
    rank = {"loaded_term": 0, "metaphor": 1, "cue": 2}
    inside = [h for h in marks if a <= h.start < h.end <= b]
    kept: list[Highlight] = []
    for h in sorted(inside, key=lambda h: (rank.get(h.kind, 3), h.start - h.end, h.start)):
        if all(h.end <= k.start or h.start >= k.end for k in kept):
            kept.append(h)
    return sorted(kept, key=lambda h: h.start)


# --- building the pack --------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """An article's text as the pseudonymiser reads it: title and body in one document."""

    doc: str
    offset: int  # where the body starts in ``doc``


def source(c: Candidate) -> Source:
    """Title and text together, so a name in the title is known from the text and back."""
    title = c.title.replace("\n", " ")
    return Source(f"{title}\n{c.text}", len(title) + 1)


def example(
    con: duckdb.DuckDBPyConnection, c: Candidate, pseudo: Pseudonymiser, lang: str
) -> PackExample:
    """A pack example: excerpt around the evidence, highlights moved through pseudonymising."""
    ev = evidence(con, c)
    link = safe_link(c.url, pseudo.name_words())
    a, b = window(c.text, ev.start, ev.end, ev.cues)
    marks = in_window([*ev.cues, *terms(con, c.article_id)], a, b)
    src = source(c)
    title = pseudo.redact(src.doc, c.lang, (0, src.offset - 1))
    spans = [(src.offset + h.start, src.offset + h.end) for h in marks]
    terms_at = [s for s, h in zip(spans, marks, strict=True) if h.kind in HIGHLIGHT_KINDS]
    body = pseudo.redact(src.doc, c.lang, (src.offset + a, src.offset + b), spans, terms_at)
    return PackExample(
        article_id=c.article_id,
        title=title.text,
        outlet=c.outlet,
        lang=c.lang,
        date=fmt_date(c.published, lang) if c.published else "",
        url=link.url,
        link_shortened=link.shortened,
        score=round(float(c.score), 2),
        reviewed=bool(c.reviewed),
        frame=c.frame,
        excerpt=body.text.replace("\n", " "),
        highlights=_moved(marks, body),
        cut_before=a > 0,
        cut_after=b < len(c.text),
    )


@dataclass(frozen=True)
class Link:
    """The source link an example shows: None for no link, and whether it was shortened."""

    url: str | None
    shortened: bool


def safe_link(url: str, names: frozenset[str]) -> Link:
    """The article's URL where it is a web address that spells no hidden name; else the
    outlet's home page (scheme and host), since a slug like '/mehmet-aydin-34-festgenommen'
    would undo the pseudonym on screen, on paper and in the Markdown. A host that spells a
    name gets no link at all."""
    if not is_web_url(url):
        return Link(None, False)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if _spells(host, names):
        return Link(None, False)
    rest = url.split(parts.netloc, 1)[1]
    if not _spells(unquote(rest), names):
        return Link(url, False)
    port = f":{parts.port}" if parts.port else ""
    return Link(f"{parts.scheme.lower()}://{host}{port}/", True)


def _spells(text: str, names: frozenset[str]) -> bool:
    """Whether a piece of a URL contains a name word: a slug word equal to it, or holding
    it when the name is long enough not to turn up by chance ('mehmetaydin', 'aydins')."""
    words = [w for w in re.split(r"[^a-z0-9]+", fold(text)) if w]
    pieces = {p for n in names for p in re.split(r"[^a-z0-9]+", n) if p}
    return any(w == p or (len(p) >= MIN_INSIDE and p in w) for w in words for p in pieces)


def _moved(marks: Sequence[Highlight], body: Redacted) -> tuple[Highlight, ...]:
    """The highlights at their offsets in the pseudonymised excerpt (empty ones dropped)."""
    out = []
    for h, (s, e) in zip(marks, body.highlights, strict=True):
        if e > s:
            out.append(Highlight(s, e, h.kind, h.term, h.alternatives))
    return tuple(out)


def prompts(t: dict[str, str], frame: str, group: str) -> tuple[str, ...]:
    """Discussion prompts: the frame's own (its group's where it has none), then the prompts
    for any frame, in key order (``prompt_frame_<code>_<n>``, ``prompt_group_<group>_<n>``,
    ``prompt_any_<n>`` in dashboards/translations/pack/<lang>.yaml)."""

    def keyed(prefix: str) -> list[str]:
        """The strings whose key starts with prefix, by their number (_2 before _10)."""
        found = [(k.removeprefix(prefix), v) for k, v in t.items() if k.startswith(prefix)]
        return [v for n, v in sorted(found, key=lambda kv: (len(kv[0]), kv[0]))]

    own = keyed(f"prompt_frame_{frame}_") or keyed(f"prompt_group_{group}_")
    return tuple(own + keyed("prompt_any_"))


def build_pack(
    con: duckdb.DuckDBPyConnection,
    frame: str,
    lang: str,
    weeks: int = 8,
    limit: int = 8,
    today: date | None = None,
    public_figures: Path | None = None,
) -> Pack:
    """Choose and pseudonymise a pack's examples of a frame from the last ``weeks`` weeks.

    ``public_figures`` is the city's optional list of names to keep (a YAML list).
    """
    labels = load_labels()
    label = labels.get(frame)
    t = translator(lang, "pack")
    period = last_days(today, days=7 * weeks)
    chosen = pick(candidates(con, [frame], period, lang), limit, set())
    good_found = candidates(con, GOOD_PRACTICE, period, lang, migrant_quotes=True)
    good = pick(good_found, GOOD_PRACTICE_COUNT, {c.story_id for c in chosen})
    pseudo = Pseudonymiser(lang, load_public_figures(public_figures))
    for c in [*chosen, *good]:  # learn every text first: public once, public everywhere
        pseudo.learn(source(c).doc, c.lang)
    return Pack(
        frame=frame,
        frame_name=label.name(lang),
        frame_description=label.descriptions.get(lang) or label.descriptions.get("en", ""),
        group=label.group,
        lang=lang,
        t=t,
        period=period,
        weeks=weeks,
        generated=fmt_date(datetime.now(UTC), lang, "long"),
        examples=tuple(example(con, c, pseudo, lang) for c in chosen),
        good_practice=tuple(example(con, c, pseudo, lang) for c in good),
        prompts=prompts(t, frame, label.group),
        other_languages=tuple(sorted({c.lang for c in [*chosen, *good]} - {lang})),
        pseudonyms=sum(1 for p in pseudo.persons if p.label),
    )
