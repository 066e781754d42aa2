"""What the dashboard's pages show: parsing the filters, gathering each page's data, and the
pieces that turn it into safe HTML (highlighting, numbers and names in the reader's language;
links pass the shared ``web_url`` rule of ``dashboards.render``).

Each page's data is fetched by one function that only reads (``fetch_overview``,
``fetch_article``), so the app can close its database connection before anything slow
happens: drawing the chart and highlighting the text work on fetched values only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import duckdb
from fastapi import Request
from markupsafe import Markup, escape

from dashboards import queries
from dashboards.i18n import LANGUAGES, fmt_number, fmt_period, locale, translator
from dashboards.render import MISSING
from dashboards.report import group_chart
from models.labels import LabelSet, load_labels
from pipeline import aggregate
from pipeline.aggregate import FrameTrend, GroupShare, Period, Totals
from pipeline.annotations import Review, check_review
from pipeline.health import source_health, worst_first
from pipeline.records import SourceHealth, TermHit
from pipeline.timeutil import utc_now

UI_COOKIE = "fw_ui"
MAX_REVIEWER = 100
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
REPORT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".md": "text/plain; charset=utf-8",  # shown as text: browsers download text/markdown
    ".pdf": "application/pdf",
}
# Dates a filter may ask for: beyond them there is no news, and the baseline (8 periods
# back) of a far date would leave the range Python and DuckDB can count in.
EARLIEST = date(1990, 1, 1)
LATEST = date(2100, 12, 31)
MAX_PAGE_DIGITS = 9  # a longer page number only means "the last page"


# --- the reader's language ---------------------------------------------------------------


def accepted_language(header: str) -> str | None:
    """The first of our languages in an Accept-Language header, by weight."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        code, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    weight = float(param[2:])
                except ValueError:
                    weight = 0.0
        ranked.append((-weight, position, code.split("-")[0].lower()))
    return next((c for w, _, c in sorted(ranked) if c in LANGUAGES and w < 0), None)


def ui_language(request: Request) -> str:
    """?ui=xx, else the cookie a previous ?ui= set, else the browser's wish, else English."""
    for wish in (request.query_params.get("ui"), request.cookies.get(UI_COOKIE)):
        if wish in LANGUAGES:
            return str(wish)
    return accepted_language(request.headers.get("accept-language", "")) or "en"


# --- what only the dashboard formats (pct, day and web_url are dashboards.render's) ------


def number(value: float | None, lang: str, digits: int = 0) -> str:
    """A number in the reader's language; MISSING when there is none."""
    return MISSING if value is None else fmt_number(value, lang, digits)


def language_name(code: str, lang: str) -> str:
    """A language's name in the reader's language ('de' -> 'Deutsch', 'German' ...)."""
    return str(locale(lang).languages.get(code, code))


def period_days(period: Period, lang: str) -> str:
    """A period as its first and last day."""
    return fmt_period(period.start, period.end, lang)


def file_size(size: int, lang: str) -> str:
    """A file size: bytes below one KB, else KB or MB with one decimal."""
    t = translator(lang, "app")
    if size < 1024:
        return t["size_bytes"].format(n=fmt_number(size, lang))
    if size < 1024 * 1024:
        return t["size_kb"].format(n=fmt_number(size / 1024, lang, 1))
    return t["size_mb"].format(n=fmt_number(size / 1024 / 1024, lang, 1))


# Filters the dashboard's templates add to the shared ones (dashboards.render.environment).
FILTERS = {"num": number, "language": language_name, "period": period_days, "size": file_size}


# --- highlighting: <mark> from offsets, every piece escaped -------------------------------


@dataclass(frozen=True)
class Span:
    """A stretch of the article text to mark, and why (shown as the mark's tooltip)."""

    start: int
    end: int
    kind: str  # evidence | cue | metaphor | loaded_term | migration_term
    note: str


def highlight(text: str, spans: Iterable[Span]) -> Markup:
    """The text with every span in a <mark>; overlapping spans split into flat pieces.

    Each piece of scraped text goes through ``escape`` on its own and the marks are built
    with Markup.format (which escapes its arguments), so no scraped character is ever
    taken as markup.
    """
    valid = sorted(
        (
            Span(max(0, s.start), min(len(text), s.end), s.kind, s.note)
            for s in spans
            if s.start < s.end and s.start < len(text)
        ),
        key=lambda s: s.start,
    )
    cuts = sorted({0, len(text), *(s.start for s in valid), *(s.end for s in valid)})
    parts, active, waiting = [], [], iter(valid)
    upcoming = next(waiting, None)
    # A sweep over the cuts: each piece looks only at the spans open over it, so the work
    # grows with pieces x overlap depth, not pieces x spans.
    for a, b in pairwise(cuts):
        while upcoming is not None and upcoming.start <= a:
            active.append(upcoming)
            upcoming = next(waiting, None)
        active = [s for s in active if s.end > a]
        parts.append(_piece(text[a:b], [s for s in active if b <= s.end]))
    return Markup("").join(parts)


def _piece(piece: str, spans: list[Span]) -> Markup:
    """One piece of text: escaped, in a <mark> with the kinds and notes of its spans."""
    if not spans:
        return escape(piece)
    kinds = " ".join(sorted({s.kind for s in spans}))
    notes = " · ".join(dict.fromkeys(s.note for s in spans if s.note))
    return Markup('<mark class="{}" title="{}">{}</mark>').format(kinds, notes, piece)


def text_spans(view: ArticleView, names: dict[str, str], t: dict[str, str]) -> list[Span]:
    """The marks of an article: evidence sentences, their cue words, lexicon matches."""
    spans = []
    for e in view.evidence:
        name = names.get(e.frame, e.frame)
        spans.append(Span(e.start, e.end, "evidence", name))
        spans += [Span(c.start, c.end, "cue", t["cue_for"].format(frame=name)) for c in e.cues]
    for term in view.terms:
        alts = ", ".join(term.alternatives)
        note = t[f"term_{term.kind}"] + (f" → {alts}" if alts else "")
        kind = term.kind if term.kind in ("metaphor", "loaded_term") else "migration_term"
        spans.append(Span(term.start, term.end, kind, note))
    return spans


# --- what the pages show -------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """The overview page: filters, figures, frame table, chart and one page of articles."""

    filters: queries.Filters
    form: dict[str, str]
    problems: tuple[str, ...]  # translation keys of filter values that were ignored
    choices: queries.Choices
    figures: Totals
    trends: list[FrameTrend]
    series: list[GroupShare]
    articles: list[queries.ArticleRow]
    total: int
    chart: Markup = field(default_factory=Markup)  # drawn after the connection is closed
    baseline_periods: int = aggregate.BASELINE_PERIODS

    @property
    def pages(self) -> int:
        """How many list pages the filters give."""
        return page_count(self.total)

    def link(self, **changes: str | int) -> str:
        """The overview URL with these filters changed (the pager, the frame links)."""
        values = {**self.form, **{k: str(v) for k, v in changes.items()}}
        return "/?" + urlencode({k: v for k, v in values.items() if v})


def page_count(total: int) -> int:
    """How many list pages ``total`` articles fill (at least one)."""
    return max(1, -(-total // queries.PAGE_SIZE))


FILTER_FIELDS = ("city", "outlet", "lang", "frame", "week", "from", "to", "page")


def in_range(period: Period) -> bool:
    """Whether a period lies within the dates a filter may ask for."""
    return period.start.date() >= EARLIEST and period.end.date() <= LATEST + timedelta(days=1)


def parse_period(form: dict[str, str], latest: date | None) -> tuple[Period, list[str]]:
    """The period a filter form asks for: an ISO week, a from/to range, or by default
    the seven days up to the newest article (so an archive opens on its last week).

    Dates outside EARLIEST..LATEST are named and ignored, and so is a newest article dated
    there (scraped dates can be anything): no date reaches the baseline's arithmetic that
    could overflow it.
    """
    default = aggregate.last_days(latest if latest and EARLIEST <= latest <= LATEST else None)
    problems: list[str] = []
    if form.get("week"):
        week, problem = _week(form["week"])
        if week is not None:
            return week, problems
        problems.append(problem)
    try:
        start, end = _day(form.get("from")), _day(form.get("to"))
    except ValueError:
        return default, [*problems, "problem_date"]
    if any(d is not None and not EARLIEST <= d <= LATEST for d in (start, end)):
        return default, [*problems, "problem_date_range"]
    if start and end and start > end:
        return default, [*problems, "problem_order"]
    if start or end:
        return _range(start, end), problems
    return default, problems


def _week(text: str) -> tuple[Period | None, str]:
    """An ISO week within range, or None and the problem's translation key."""
    try:
        week = aggregate.iso_week(text)
    except ValueError:
        return None, "problem_week"
    except OverflowError:  # the last week of year 9999 ends after the last datetime
        return None, "problem_date_range"
    return (week, "") if in_range(week) else (None, "problem_date_range")


def _day(text: str | None) -> date | None:
    """An ISO date from the form, None when empty (ValueError when unreadable)."""
    return date.fromisoformat(text) if text else None


def _range(start: date | None, end: date | None) -> Period:
    """A period from optional first and last days (seven days when one is missing)."""
    end = end or (start + timedelta(days=6) if start else utc_now().date())
    start = start or end - timedelta(days=6)
    return aggregate.days(start, end + timedelta(days=1))


def parse_page(text: str) -> int:
    """A page number of ASCII digits (str.isdigit also takes '²'); 1 when there is none,
    a very large number for one too long to be real (the caller clamps it)."""
    if not re.fullmatch(r"[0-9]+", text):
        return 1
    return max(1, int(text)) if len(text) <= MAX_PAGE_DIGITS else 10**MAX_PAGE_DIGITS


def parse_filters(
    params: dict[str, str], latest: date | None, labels: LabelSet
) -> tuple[queries.Filters, dict[str, str], list[str]]:
    """Filters from the query string, the form values to show again, and what was ignored."""
    form = {k: params.get(k, "").strip() for k in FILTER_FIELDS}
    period, problems = parse_period(form, latest)
    frame = form["frame"] or None
    if frame and frame not in labels.codes:
        problems.append("problem_frame")
        frame, form["frame"] = None, ""
    filters = queries.Filters(
        period,
        form["city"] or None,
        form["outlet"] or None,
        form["lang"] or None,
        frame,
        parse_page(form["page"]),
    )
    return filters, form, problems


def fetch_overview(
    con: duckdb.DuckDBPyConnection, params: dict[str, str], labels: LabelSet
) -> Overview:
    """Every number the overview shows, for the filters in the query string (no chart yet:
    it is drawn after the connection is closed). The page is clamped to the last one."""
    filters, form, problems = parse_filters(params, queries.latest_day(con), labels)
    total = queries.count_articles(con, filters)
    filters = replace(filters, page=min(filters.page, page_count(total)))
    period, scope = filters.period, filters.scope
    figures = aggregate.totals(con, period, scope)
    return Overview(
        filters=filters,
        form={**form, "page": str(filters.page) if form["page"] else ""},
        problems=tuple(problems),
        choices=queries.choices(con),
        figures=figures,
        trends=aggregate.frame_trends(con, period, list(labels.codes), scope, counts=figures),
        series=aggregate.group_series(con, filters.period, filters.scope),
        articles=queries.list_articles(con, filters),
        total=total,
    )


def draw_overview(view: Overview, lang: str) -> Overview:
    """The overview with its chart (vl-convert takes up to a second: no connection open)."""
    return replace(view, chart=overview_chart(tuple(view.series), lang))


@lru_cache(maxsize=64)
def overview_chart(series: tuple[GroupShare, ...], lang: str) -> Markup:
    """The group chart of these figures in this language.

    Cached on the figures themselves (GroupShare is frozen): paging through the list or
    changing the frame filter leaves them as they are, and vl-convert would otherwise take
    up to a second to draw the same SVG again. New articles change the figures, and so the
    key. The SVG is built from our own numbers and translated labels; no scraped text goes
    into it, so it may be inserted as markup.
    """
    chart = group_chart(list(series), load_labels(), lang, translator(lang, "app"))
    return Markup(chart)


@dataclass(frozen=True)
class ArticleView:
    """The article page: the text with its marks, every score, quotes and reviews."""

    article: queries.ArticleDetail
    scores: list[queries.FrameScore]
    evidence: list[queries.EvidenceSentence]
    terms: list[TermHit]
    quotes: list[queries.QuoteRow]
    reviews: list[queries.ReviewRow]
    body: Markup = field(default_factory=Markup)

    @property
    def assigned(self) -> tuple[str, ...]:
        """The frames the model assigned."""
        return tuple(s.frame for s in self.scores if s.assigned)


def fetch_article(con: duckdb.DuckDBPyConnection, article_id: str) -> ArticleView | None:
    """The article page's data, or None when there is no such article."""
    found = queries.article(con, article_id)
    if found is None:
        return None
    return ArticleView(
        article=found,
        scores=queries.frame_scores(con, article_id),
        evidence=queries.evidence(con, article_id),
        terms=queries.terms(con, article_id),
        quotes=queries.quotes(con, article_id),
        reviews=queries.reviews(con, article_id),
    )


def mark_article(view: ArticleView, names: dict[str, str], t: dict[str, str]) -> ArticleView:
    """The article with its text highlighted (done after the connection is closed)."""
    return replace(view, body=highlight(view.article.text, text_spans(view, names, t)))


def form_defaults(view: ArticleView, reviewer: str) -> tuple[tuple[str, ...], bool]:
    """What the review form starts with: the reviewer's own last judgement of the article
    (so a second visit shows what they said), else the model's decision."""
    mine = next((r for r in view.reviews if reviewer and r.reviewer == reviewer.strip()), None)
    if mine is not None and mine.labels is not None and mine.migration is not None:
        return mine.labels, mine.migration
    return view.assigned, bool(view.article.is_migration)


def review_from_form(article_id: str, form: ReviewForm) -> Review:
    """The Review a form submits: 'confirm' takes the model's frames as shown, 'correct'
    the ticked ones. ValueError when the reviewer is missing or a label is unknown."""
    confirm = form.action == "confirm"
    labels = form.model_labels if confirm else form.labels
    migration = form.model_migration if confirm else form.migration
    return check_review(
        Review(
            article_id=article_id,
            reviewer=form.reviewer.strip()[:MAX_REVIEWER],
            migration=migration == "yes",
            labels=tuple(dict.fromkeys(labels)),
            note=form.note.strip(),
            at=utc_now(),
        )
    )


@dataclass(frozen=True)
class ReviewForm:
    """The fields of the review form."""

    reviewer: str
    action: str
    labels: list[str]
    migration: str
    model_labels: list[str]
    model_migration: str
    note: str


# --- the reports archive ----------------------------------------------------------------


@dataclass(frozen=True)
class ReportFile:
    """A file of the weekly reports folder."""

    path: str  # relative to the folder, with forward slashes
    kind: str  # html | md | pdf
    size: int
    modified: datetime


def report_files(root: Path) -> list[ReportFile]:
    """The HTML, Markdown and PDF reports under ``root`` (servable ones only), newest first."""
    if not root.is_dir():
        return []
    base = root.resolve()
    paths = {report_file(root, p.relative_to(root).as_posix()) for p in root.rglob("*")} - {None}
    found = [_report_entry(base, p) for p in paths if p is not None]
    return sorted(found, key=lambda r: (r.modified, r.path), reverse=True)


def _report_entry(base: Path, path: Path) -> ReportFile:
    """A report file's listing entry."""
    stat = path.stat()
    modified = datetime.fromtimestamp(stat.st_mtime, UTC)
    return ReportFile(path.relative_to(base).as_posix(), path.suffix[1:], stat.st_size, modified)


def report_file(root: Path, relative: str) -> Path | None:
    """The report at ``relative`` if it is a report file inside ``root``, else None.

    The path is resolved (following '..' and symbolic links) before the check, so neither
    '../' nor a link pointing outside the folder reaches another file.
    """
    base = root.resolve()
    try:
        target = (base / relative).resolve()
    except (OSError, ValueError):
        return None
    inside = target.is_relative_to(base) and target != base
    return target if inside and target.is_file() and target.suffix in REPORT_TYPES else None


STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)


def report_csp(path: Path) -> str:
    """The strict policy for a report file, plus the hashes of the report's own <style>
    blocks (a report is one self-contained file) and a sandbox: no script, no plugin, no
    request leaves, whatever the file holds."""
    if path.suffix != ".html":
        return CSP + "; sandbox"
    blocks = STYLE_BLOCK.findall(path.read_text(encoding="utf-8", errors="replace"))
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks
    )
    return CSP.replace("style-src 'self'", f"style-src 'self' {hashes}".rstrip()) + "; sandbox"


# --- source health -----------------------------------------------------------------------


def health_now(con: duckdb.DuckDBPyConnection) -> list[SourceHealth]:
    """Every outlet's health now, failing ones first."""
    return worst_first(source_health(con, utc_now()))


# --- bits every page shows ------------------------------------------------------------------


def flash_text(flash: dict[str, Any] | None, t: dict[str, str]) -> dict[str, str] | None:
    """The flash message in words, or None."""
    if not flash or flash.get("key") not in t:
        return None
    return {"kind": str(flash.get("kind", "ok")), "text": t[flash["key"]].format(**flash["args"])}


def lang_links(params: dict[str, str]) -> list[tuple[str, str]]:
    """(language, the current page in that language) for the language switcher.

    Relative links ('?ui=de&...') resolve against the page itself, so whatever path was
    requested (even '//evil.example/x') never becomes a link to another site.
    """
    return [(code, "?" + urlencode({**params, "ui": code})) for code in LANGUAGES]
