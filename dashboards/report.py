"""The weekly trend report: figures from ``pipeline.aggregate``, rendered with Jinja2.

The HTML file is self-contained (inline CSS, charts as inline SVG rendered by vl-convert from
an altair/Vega-Lite spec): it opens offline and travels as an e-mail attachment. A Markdown
twin carries the same content. Scraped text reaches the page only through Jinja2's
autoescaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import altair as alt
import duckdb
import vl_convert as vlc

from dashboards.i18n import fmt_pct, fmt_period, translator
from dashboards.pdf import write_pdf
from dashboards.render import render_twin, write_twins
from models.labels import LabelSet, load_labels
from pipeline import aggregate, breakdown
from pipeline.aggregate import Example, FrameTrend, Period, Scope, Totals, examples
from pipeline.breakdown import Driver, Voice
from pipeline.counter import Suggestion, entries_for, load_bank
from pipeline.health import source_health, worst_first
from pipeline.records import SourceHealth
from pipeline.text import slug
from pipeline.timeutil import utc_now


@dataclass(frozen=True)
class TermRow:
    """A metaphor or loaded term found in the period."""

    kind: str
    term: str
    count: int
    alternatives: tuple[str, ...]
    guide: str


@dataclass(frozen=True)
class HealthRow:
    """An outlet whose collection had a problem, in words of the report's language."""

    outlet: str
    status: str  # warning | failing
    problems: tuple[str, ...]
    last_article: str


@dataclass(frozen=True)
class Report:
    """Everything the report templates show; built from the database, rendered twice."""

    lang: str
    t: dict[str, str]
    scope_label: str
    period: Period
    generated: str
    totals: Totals
    trends: list[FrameTrend]
    names: dict[str, str]
    headlines: list[str]
    chart_svg: str
    examples: dict[str, list[Example]]
    drivers: dict[str, list[Driver]]
    voices: list[Voice]
    counter: list[Suggestion]
    rose: list[str]
    good_practice: list[Example]
    terms: list[TermRow]
    outlets: list[tuple[str, int, int]]
    problems: list[tuple[str, str, int]]
    health: list[HealthRow]
    outlets_healthy: int
    model_versions: list[str]
    demo: bool
    period_text: str
    baseline_weeks: int = aggregate.BASELINE_PERIODS
    sql: list[Query] = field(default_factory=list)

    @property
    def voices_without_migrants(self) -> bool:
        """Others were quoted but no migrant: the gap a trainer points at first."""
        quoted = any(v.articles for v in self.voices)
        return quoted and not any(v.articles for v in self.voices if v.category == "migrant")


@dataclass(frozen=True)
class Query:
    """A query behind a figure of the report, with the parameters it ran with, so that an
    analyst can paste it into ``framewatch sql`` and get the same number."""

    anchor: str
    heading: str  # key of the section heading in the report's strings
    sql: str
    params: str  # for the report's period
    baseline_params: str  # for the baseline weeks before it


def build_report(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    lang: str = "en",
    city: str | None = None,
    counter_bank: Path | None = None,
) -> Report:
    """Collect every figure of the report for a period and an optional city; the
    counter-narrative suggestions come from the bundled bank or a city's own file."""
    labels = load_labels()
    t = translator(lang)
    scope = Scope(city=city)
    totals = aggregate.totals(con, period, scope)
    trends = aggregate.frame_trends(con, period, list(labels.codes), scope, totals)
    names = labels.names(lang)
    rising = [tr for tr in trends if tr.verdict in ("rising", "new") and tr.articles]
    # Suggestions only for a rise the test supports; "new" has no baseline to rise from.
    rose = [tr.frame for tr in trends if tr.verdict == "rising"]
    shown = rising or [tr for tr in trends if tr.articles][:2]
    # Health as of the period's end: a report on a past week shows that week's gaps.
    health = [h for h in source_health(con, period.end) if city is None or h.city == city]
    return Report(
        lang=lang,
        t=t,
        scope_label=city or t["scope_all"],
        period=period,
        generated=utc_now().strftime("%Y-%m-%d %H:%M UTC"),
        totals=totals,
        trends=trends,
        names=names,
        headlines=_headlines(trends, names, t, lang),
        chart_svg=group_chart(aggregate.group_series(con, period, scope), labels, lang, t),
        examples={tr.frame: examples(con, period, tr.frame, scope) for tr in shown},
        drivers={tr.frame: breakdown.outlet_drivers(con, period, tr.frame, scope) for tr in shown},
        voices=breakdown.voices(con, period, scope),
        counter=entries_for(load_bank(counter_bank), rose, lang),
        rose=rose,
        good_practice=_good_practice(con, period, scope),
        terms=terms_found(con, period, scope),
        outlets=outlets(con, period, scope),
        problems=fetch_problems(con, period, scope),
        health=health_rows(health, t),
        outlets_healthy=sum(1 for h in health if h.status == "ok"),
        model_versions=aggregate.model_versions(con, period, scope),
        demo=_is_demo(con),
        period_text=fmt_period(period.start, period.end, lang),
        sql=_queries(period, scope),
    )


def report_name(period: Period, city: str | None, lang: str) -> str:
    """The file name of a report: its period (the ISO week, else the first day), the city
    (or "all") and the language, so the CLI, the report flow and the demo agree on it."""
    stem = period.label if " " not in period.label else f"{period.start:%Y-%m-%d}"
    return f"{stem}-{slug(city or 'all')}-{lang}.html"


def _headlines(
    trends: list[FrameTrend], names: dict[str, str], t: dict[str, str], lang: str
) -> list[str]:
    """One sentence per rising frame; otherwise say so, and name the largest rise anyway
    when the counts are too small to call it a trend (the reader should still see it)."""
    rising = [tr for tr in trends if tr.verdict == "rising"]
    if rising:
        return [
            t["headline_rising"].format(
                frame=names[tr.frame],
                before=fmt_pct(tr.baseline_share, lang),
                now=fmt_pct(tr.share, lang),
                n=tr.articles,
            )
            for tr in rising
        ]
    lines = [t["headline_none"]]
    top = max(trends, key=lambda tr: tr.share - tr.baseline_share, default=None)
    if (
        top is not None
        and top.verdict in ("too_few", "new")
        and top.articles >= 2
        and top.share - top.baseline_share >= 0.2
    ):
        lines.append(
            t["headline_too_few"].format(
                frame=names[top.frame],
                now=fmt_pct(top.share, lang),
                before=fmt_pct(top.baseline_share, lang),
                n=top.articles,
            )
        )
    return lines


def group_chart(
    series: list[aggregate.GroupShare], labels: LabelSet, lang: str, t: dict[str, str]
) -> str:
    """Weekly shares of threat/victim/hero framing as a Vega-Lite line chart, as inline SVG.

    Three groups rather than ten frames: a city has a handful of migration articles a week,
    and ten lines of 0-100 % jumps say nothing; the table gives the frames.
    """
    colours = {"threat": "#b42318", "victim": "#1d6fb8", "hero": "#067647"}
    names = {g: labels.group_names.get(g, {}).get(lang, g) for g in colours}
    rows = [
        {
            "period": g.period,
            "group": names[g.group],
            "share": g.share,
            "articles": g.articles,
            "migration_articles": g.migration_articles,
        }
        for g in series
    ]
    chart = (
        alt.Chart(alt.Data(values=rows), title=t["chart_title"])
        .mark_line(point=True)
        .encode(
            x=alt.X("period:O", title=t["chart_week"]),
            y=alt.Y("share:Q", title=t["chart_share"], axis=alt.Axis(format="%")),
            color=alt.Color(
                "group:N",
                title=None,
                scale=alt.Scale(domain=list(names.values()), range=list(colours.values())),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=["group:N", "period:O", "articles:Q", "migration_articles:Q"],
        )
        .properties(width=620, height=240)
    )
    svg: str = vlc.vegalite_to_svg(chart.to_dict())
    return svg


def _good_practice(con: duckdb.DuckDBPyConnection, period: Period, scope: Scope) -> list[Example]:
    """The best hero-framed articles: what to share and praise."""
    found = [e for f in aggregate.GOOD_PRACTICE for e in examples(con, period, f, scope, 2)]
    unique = {e.url: e for e in found}
    return sorted(unique.values(), key=lambda e: -e.score)[: aggregate.EXAMPLES_PER_FRAME]


# Articles, not hits: a term repeated in one article counts once, and a story counts once per
# outlet (counted), as in the frame figures and the metaphor alerts.
TERMS_SQL = """
SELECT t.kind, t.term, count(DISTINCT m.id) AS n, any_value(t.alternatives),
       any_value(t.category)
FROM article_terms t JOIN migration_articles m ON m.id = t.article_id
WHERE t.kind IN ('metaphor', 'loaded_term') AND m.counted
  AND m.published_at >= ? AND m.published_at < ? AND {scope}
GROUP BY t.kind, t.term ORDER BY n DESC, t.term LIMIT 30
"""


def _scoped(
    con: duckdb.DuckDBPyConnection, sql: str, period: Period, scope: Scope
) -> list[tuple[Any, ...]]:
    """Rows of one of the report's own queries for the period, ``{scope}`` filled in."""
    cond, params = scope.where()
    return con.execute(sql.format(scope=cond), [period.start, period.end, *params]).fetchall()


def terms_found(con: duckdb.DuckDBPyConnection, period: Period, scope: Scope) -> list[TermRow]:
    """Metaphors and loaded terms in the period's migration articles."""
    rows = _scoped(con, TERMS_SQL, period, scope)
    return [
        TermRow(kind, term, int(n), tuple(alts or ()), (cat or "") if kind == "loaded_term" else "")
        for kind, term, n, alts, cat in rows
    ]


# All articles, migration or not, so the alias m is a join of articles and their outlet with
# the columns Scope.where() names (city, source_id, lang).
OUTLETS_SQL = """
SELECT m.source_name, count(*), count(*) FILTER (WHERE m.is_migration)
FROM (SELECT a.*, s.name AS source_name, s.city
      FROM articles a JOIN sources s ON s.id = a.source_id) m
WHERE m.published_at >= ? AND m.published_at < ? AND {scope}
GROUP BY m.source_name ORDER BY m.source_name
"""


def outlets(
    con: duckdb.DuckDBPyConnection, period: Period, scope: Scope
) -> list[tuple[str, int, int]]:
    """Articles and migration articles per outlet in the period."""
    return [(str(n), int(a), int(m)) for n, a, m in _scoped(con, OUTLETS_SQL, period, scope)]


# The fetch log joined to its outlet as m (source_id, city, declared lang), so Scope.where()
# applies; fetches of an unknown outlet only count when no city is asked for.
PROBLEMS_SQL = """
SELECT coalesce(m.name, m.source_id), m.error, count(*)
FROM (SELECT l.*, s.name, s.city, s.lang
      FROM fetch_log l LEFT JOIN sources s ON s.id = l.source_id) m
WHERE m.error IS NOT NULL AND m.fetched_at >= ? AND m.fetched_at < ? AND {scope}
GROUP BY ALL ORDER BY 3 DESC, 1
"""


def fetch_problems(
    con: duckdb.DuckDBPyConnection, period: Period, scope: Scope
) -> list[tuple[str, str, int]]:
    """Failed fetches during the period, grouped by outlet and reason."""
    rows = _scoped(con, PROBLEMS_SQL, period, scope)
    return [(str(s), str(e), int(n)) for s, e, n in rows]


def health_rows(health: list[SourceHealth], t: dict[str, str]) -> list[HealthRow]:
    """The outlets with a health flag, failing ones first, each problem said in words."""
    flagged = [h for h in worst_first(health) if h.status != "ok"]
    return [
        HealthRow(
            h.name,
            h.status,
            tuple(_flag_text(h, flag, t) for flag in h.flags),
            f"{h.last_article:%Y-%m-%d}" if h.last_article else t["health_no_article"],
        )
        for h in flagged
    ]


def _flag_text(h: SourceHealth, flag: str, t: dict[str, str]) -> str:
    """One health flag as a sentence of the report's language."""
    return t[f"health_{flag}"].format(
        n=h.consecutive_failures,
        now=f"{h.articles_per_day:.1f}",
        base=f"{h.baseline_per_day or 0:.1f}",
        failed=h.extraction_failures,
        pages=h.pages_fetched,
        feeds=h.feeds_disabled,
    )


def _is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the database holds the fictional demo newsroom."""
    rows = con.execute("SELECT count(*) FROM sources WHERE name LIKE '%(fictional)'").fetchall()
    return bool(rows[0][0])


def _queries(period: Period, scope: Scope) -> list[Query]:
    """The queries behind the numbers as they ran (scope condition filled in), each with its
    parameter list for this period and for the baseline, ready for ``framewatch sql``."""
    base = period.shifted(aggregate.BASELINE_PERIODS)
    cond, values = scope.where()
    scoped = [repr(v) for v in values]
    found = [  # anchor, heading key, SQL, (parameters before the dates, after the dates)
        ("totals", "key_figures", aggregate.MIGRATION_COUNT_SQL, [], scoped),
        ("frames", "frames_heading", aggregate.FRAME_COUNTS_SQL, [], scoped),
        ("chart", "chart_title", aggregate.GROUP_COUNTS_SQL, [], scoped),
        (
            "examples",
            "examples_heading",
            aggregate.EXAMPLES_SQL,
            ["'<frame>'"],
            [*scoped, str(aggregate.EXAMPLES_PER_FRAME)],
        ),
        ("drivers", "drivers_heading", breakdown.OUTLET_FRAME_SQL, ["'<frame>'"], scoped),
        ("voices", "voices_heading", breakdown.VOICES_SQL, [], scoped),
        ("terms", "terms_heading", TERMS_SQL, [], scoped),
        ("outlets", "outlets_heading", OUTLETS_SQL, [], scoped),
        ("problems", "problems_heading", PROBLEMS_SQL, [], scoped),
    ]
    return [
        Query(
            anchor,
            key,
            sql.format(scope=cond).strip(),
            _params(head, period.start, period.end, tail),
            _params(head, base.start, period.start, tail),
        )
        for anchor, key, sql, head, tail in found
    ]


def _params(head: list[str], start: datetime, end: datetime, tail: list[str]) -> str:
    """A parameter list as it would be typed: [frame, start, end, city ...]."""
    return "[" + ", ".join([*head, f"'{start:%Y-%m-%d}'", f"'{end:%Y-%m-%d}'", *tail]) + "]"


def render(report: Report, fmt: Literal["html", "md"]) -> str:
    """Render the report as 'html' or 'md'."""
    return render_twin("report", fmt, r=report, t=report.t)


def write_report(report: Report, out: Path, browser: Path | None = None) -> list[Path]:
    """Write the HTML file, its Markdown twin and, given a browser, a PDF; return the paths."""
    written = write_twins("report", out, r=report, t=report.t)
    pdf = write_pdf(out, browser) if browser else None
    return written + ([pdf] if pdf else [])
