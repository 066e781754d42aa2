"""The ``framewatch`` command line: thin wiring over the library (like sqlite-utils' cli)."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline.config import Settings
from pipeline.runtime import prefect_defaults

if TYPE_CHECKING:  # aggregate loads scipy: imported where a command needs it
    from contextlib import AbstractContextManager

    import duckdb

    from pipeline.aggregate import Period

app = typer.Typer(
    help="framewatch: how local news frames migrants, week by week.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

DEMO_DB = Path("data/demo.duckdb")


def _settings(**overrides: object) -> Settings:
    """Settings from the environment with CLI overrides applied."""
    return Settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})


def _writer(settings: Settings) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    """The command's read-write connection: writer lock, wait for readers, snapshot."""
    from pipeline.store import writing

    return writing(settings.db, settings.writer_wait_seconds, settings.snapshot)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logs")] = False,
) -> None:
    """Configure logging and Prefect's offline defaults for every command."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    prefect_defaults()


@app.command()
def demo(
    db: Annotated[Path, typer.Option(help="database for the demo")] = DEMO_DB,
    reports: Annotated[Path, typer.Option(help="folder for the reports")] = Path("reports/demo"),
) -> None:
    """Run the whole pipeline on the bundled demo newsroom, offline.

    Example: framewatch demo
    """
    from pipeline.demo_run import run_demo

    run_demo(_settings(db=db, staging=db.parent / "staging"), reports, console)


@app.command()
def run(
    sources: Annotated[Path, typer.Option(help="sources YAML file", exists=True)],
    newsroom: Annotated[str | None, typer.Option(help="base URL replacing {newsroom}")] = None,
    refetch: Annotated[
        bool, typer.Option("--refetch", help="fetch article URLs already stored again")
    ] = False,
) -> None:
    """One ingest + classify cycle as a Prefect flow run, into FRAMEWATCH_DB.

    Failed fetches are recorded in fetch_log and do not fail the run; it fails only when it
    cannot proceed at all (no database, an unreadable sources file).

    Example: FRAMEWATCH_DB=data/ruhr.duckdb framewatch run --sources sources/epic-cities.yaml
    """
    from flows.ingest import run_ingest
    from pipeline.progress import Progress
    from pipeline.store import writer_lock

    settings = _settings(refetch=refetch or None)
    with writer_lock(settings.db):  # refuse before Prefect starts when a run is writing
        pass
    summary = run_ingest(sources, settings, newsroom, Progress(console))
    console.print(
        f"run {summary.run_id}: {summary.pages_fetched} pages, "
        f"{summary.fetch_failures} failures (see fetch_log), "
        f"{summary.articles_new} new articles, {summary.articles_classified} classified"
    )


@app.command()
def report(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W47")] = None,
    lang: Annotated[
        str | None, typer.Option(help="report language (default: the city's, else en)")
    ] = None,
    city: Annotated[str | None, typer.Option(help="one city only")] = None,
    out: Annotated[Path | None, typer.Option(help="output HTML file")] = None,
    pdf: Annotated[bool, typer.Option(help="also print a PDF with Chromium when present")] = False,
) -> None:
    """Write the weekly trend report (HTML with inline SVG charts, Markdown, optional PDF).

    Example: framewatch report --week 2026-W47 --city Oberhausen --pdf
    """
    from dashboards.report import build_report, report_name, write_report
    from pipeline.aggregate import city_languages
    from pipeline.store import open_readonly

    settings = _settings()
    period = _period(week)
    with open_readonly(settings.db) as con:
        cities = city_languages(con)
        if city is not None and city not in cities:
            raise typer.BadParameter(f"no outlet in {city!r}; cities: {', '.join(cities)}")
        lang = lang or (cities[city] if city else "en")
        target = out or settings.reports / report_name(period, city, lang)
        report = build_report(con, period, lang, city, settings.counter_bank)
    paths = write_report(report, target, settings.browser if pdf else None)
    if pdf and not any(p.suffix == ".pdf" for p in paths):
        console.print(f"[yellow]no PDF: no working Chromium at {settings.browser}[/]")
    console.print("\n".join(f"wrote {p}" for p in paths))


def _period(week: str | None) -> Period:
    """The ISO week given with --week, else the last seven days; a bad week is a usage error."""
    from pipeline.aggregate import iso_week, last_days

    try:
        return iso_week(week) if week else last_days()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--week") from None


@app.command()
def classify(
    input: Annotated[Path, typer.Option("--input", help="JSONL: {id, text, lang?}")],
    output: Annotated[Path, typer.Option("--output", help="JSONL with the framings")],
) -> None:
    """Classify any texts: migration relevance, frames, hostility, evidence.

    Example: framewatch classify --input texts.jsonl --output framings.jsonl
    """
    from pipeline.classify_io import classify_file
    from pipeline.runtime import load_classifier

    n = classify_file(input, output, load_classifier(_settings()))
    console.print(f"classified {n} texts -> {output}")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="a SELECT statement")],
    format: Annotated[str, typer.Option(help="table, csv or json")] = "table",
) -> None:
    """Run a read-only SQL query on the database.

    Example: framewatch sql "SELECT * FROM weekly_frames ORDER BY week DESC LIMIT 20"
    """
    from pipeline.store import open_readonly

    with open_readonly(_settings().db) as con:
        cursor = con.execute(query)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    _print_rows(columns, rows, format)


def _print_rows(columns: list[str], rows: list[tuple[object, ...]], fmt: str) -> None:
    """Print query results as a table, CSV or JSON lines."""
    if fmt == "json":
        for row in rows:
            sys.stdout.write(
                json.dumps(dict(zip(columns, row, strict=True)), default=str, ensure_ascii=False)
                + "\n"
            )
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="folder for heads.json and cv.json")] = Path(
        "models/heads"
    ),
    dev: Annotated[Path, typer.Option(help="development data")] = Path("../shared/data/dev"),
    annotations: Annotated[
        bool, typer.Option(help="also train on reviewers' corrections in the database")
    ] = False,
) -> None:
    """Train the classifier heads (seeds, development data, reviewers' corrections) and
    write their cross-validated figures to cv.json.

    Example: framewatch train --out models/heads --dev ../shared/data/dev
    """
    from models.data import load_training_data
    from models.heads import save_heads
    from models.train import save_cv, train_heads
    from pipeline.annotations import import_spool_of
    from pipeline.progress import Progress
    from pipeline.runtime import load_encoder

    settings = _settings()
    spooled = import_spool_of(settings.db)  # reviews the dashboard kept while the db was busy
    if spooled:
        console.print(f"stored {spooled} reviews that waited in the dashboard's spool")
    examples = load_training_data(dev, settings.db if annotations else None)
    encoder = load_encoder(settings)
    with Progress(console).step("embed", total=len(examples)) as tick:
        trained = train_heads(encoder, examples, settings.model_cache, tick)
    path = save_heads(trained.heads, out)
    cv = save_cv(trained.cv, out)
    for line in cv_lines(trained.cv):
        console.print(line)
    console.print(f"wrote {path} and {cv}")


def cv_lines(cv: dict[str, object]) -> list[str]:
    """The headline cross-validated figures of a training run."""
    from models.train import headline

    return [f"{k}: {v}" for k, v in headline(cv).items()]


@app.command(name="eval")
def evaluate(
    dataset: Annotated[Path, typer.Option("--dataset", help="labelled JSONL")],
    unit: Annotated[str, typer.Option(help="sentence or article")] = "sentence",
    heads: Annotated[Path | None, typer.Option(help="heads folder (default: bundled)")] = None,
) -> None:
    """Measure the classifier on a labelled dataset: precision, recall and F1 per label and
    group, macro-F1 per language, a group confusion table and the calibration error. The
    last line is a JSON summary.

    Lines: {"id","text","lang","group","labels"} and/or {"id","text","lang","hostile"}.
    Example: framewatch eval --dataset held_out.jsonl --unit article
    """
    from models.data import load_dataset
    from models.evaluate import evaluate as run_eval
    from models.evaluate import format_report, summary
    from pipeline.runtime import load_classifier

    if unit not in ("sentence", "article"):
        raise typer.BadParameter("unit must be sentence or article")
    settings = _settings(heads=heads)
    report = run_eval(load_classifier(settings), load_dataset(dataset), unit)
    for line in format_report(report):
        sys.stdout.write(line + "\n")
    sys.stdout.write(json.dumps(summary(report), ensure_ascii=False) + "\n")


@app.command()
def annotate(
    file: Annotated[Path, typer.Argument(help="JSONL corrections, dataset format + reviewer")],
    reviewer: Annotated[str, typer.Option(help="who reviewed (when lines do not say)")] = "",
) -> None:
    """Import reviewers' corrections into the database; the next `framewatch train` learns
    from them. Lines: {"id","text","lang","group","labels","hostile","migration",
    "article_id","reviewer","note"}; fields a reviewer did not judge are left out.

    Example: framewatch annotate corrections.jsonl --reviewer anna
    """
    from pipeline.annotations import import_spooled_reviews, read_annotations, spool_path
    from pipeline.store import add_annotations

    notes = read_annotations(file, reviewer)
    settings = _settings()
    db = settings.db
    with _writer(settings) as con:
        spooled = import_spooled_reviews(con, spool_path(db))  # the dashboard's waiting ones
        n = add_annotations(con, notes)
    if spooled:
        console.print(f"stored {spooled} reviews that waited in the dashboard's spool")
    console.print(f"imported {n} corrections into {db}")


@app.command()
def finetune(
    out: Annotated[Path, typer.Option(help="folder for the fine-tuned encoder")],
    dev: Annotated[Path, typer.Option(help="development data")] = Path("../shared/data/dev"),
    epochs: Annotated[int, typer.Option(help="passes over the data")] = 3,
    batch_size: Annotated[int, typer.Option(help="examples per step")] = 16,
    max_examples: Annotated[
        int | None, typer.Option(help="use only the first N (smoke test)")
    ] = None,
) -> None:
    """Fine-tune the encoder on the frame, group and hostility data (use a GPU: on a 2-core
    CPU this takes hours). Then point FRAMEWATCH_ENCODER at OUT and run `framewatch train`
    so the heads, thresholds and cv.json are made for the new encoder.

    Example: framewatch finetune --out ~/framewatch-e5-ft --epochs 3
    """
    from models.data import load_training_data
    from models.fine_tune import FineTuneConfig, fine_tune

    settings = _settings()
    examples = load_training_data(dev, settings.db)
    if max_examples is not None:  # a smoke test: an even sample across sources and languages
        examples = examples[:: max(1, len(examples) // max_examples)][:max_examples]
    config = FineTuneConfig(epochs=epochs, batch_size=batch_size)
    result = fine_tune(settings, examples, out, config)
    console.print(
        f"fine-tuned on {result.examples} examples, {result.steps} steps, "
        f"{result.seconds:.0f} s on {result.device}: {out}"
    )
    console.print(f"next: FRAMEWATCH_ENCODER={out} framewatch train --out {out}/heads")


@app.command()
def extract(
    files: Annotated[list[Path], typer.Argument(help="HTML files (.html or .html.gz)")],
    url: Annotated[str | None, typer.Option(help="the page's URL (for one file)")] = None,
    lang: Annotated[str | None, typer.Option(help="declared language of the outlet")] = None,
) -> None:
    """Extract pages as the pipeline would: one JSON line per file on stdout.

    Fields: file, url, title, text, author, published_at, date_source, lang, error.

    Example: framewatch extract saved/page.html --url https://example.org/news/1
    """
    from pipeline.extract import extract_file

    if url and len(files) > 1:
        raise typer.BadParameter("--url names one page; give one file with it", param_hint="--url")
    for path in files:
        sys.stdout.write(extract_file(path, url, lang).to_json() + "\n")


@app.command()
def reextract(
    source: Annotated[str | None, typer.Option(help="one outlet id only")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="pages fetched on or after this date")
    ] = None,
    classify: Annotated[bool, typer.Option(help="classify changed articles")] = True,
) -> None:
    """Extract the stored raw HTML again (after an extractor fix), without refetching.

    Example: framewatch reextract --source oberhausen-kurier --since 2026-11-01
    """
    from pipeline import ingest
    from pipeline.progress import Progress
    from pipeline.timeutil import as_utc

    settings = _settings()
    with _writer(settings) as con:
        with Progress(console).step("reextract", total=None) as tick:
            counts = ingest.reextract(
                con, "reextract", source, as_utc(since), settings.extract_workers, tick
            )
        console.print(
            f"re-extracted {counts.pages} pages: {counts.updated} stored articles rewritten "
            f"({counts.reset} changed, to be classified again), {counts.inserted} new, "
            f"{counts.failed} pages still without an article"
        )
        if classify:
            from pipeline.runtime import load_classifier

            n = ingest.classify_pending(con, load_classifier(settings))
            console.print(f"classified {n} articles")


sources_app = typer.Typer(
    help="Outlets: health of their feeds and articles.\n\nExample: framewatch sources check",
    no_args_is_help=True,
)
app.add_typer(sources_app, name="sources")


@sources_app.command("check")
def sources_check(
    window: Annotated[int, typer.Option(help="days of the recent window", min=1)] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:
    """Print each outlet's health: failures in a row, silence against its baseline,
    extraction failures. Exit code 0; flagged outlets say why in the table.

    Example: framewatch sources check
    """
    from pipeline.health import source_health
    from pipeline.health_table import health_table
    from pipeline.store import open_readonly

    with open_readonly(_settings().db) as con:
        rows = source_health(con, datetime.now(UTC), window_days=window)
    if as_json:
        for h in rows:
            sys.stdout.write(json.dumps(asdict(h), default=str, ensure_ascii=False) + "\n")
        return
    console.print(health_table(rows, window=window))
    flagged = [h for h in rows if h.status != "ok"]
    console.print(f"{len(rows) - len(flagged)} of {len(rows)} outlets ok")


@app.command()
def newsroom(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8765,
) -> None:
    """Serve the demo newsroom on loopback until Ctrl-C (to look at its pages).

    Example: framewatch newsroom --port 8765
    """
    from pipeline.demo.newsroom import start_newsroom

    room = start_newsroom(port=port)
    console.print(f"demo newsroom at {room.url}/ (Ctrl-C to stop)")
    try:
        room.thread.join()
    except KeyboardInterrupt:
        room.stop()


@app.command()
def dashboard(
    host: Annotated[str | None, typer.Option(help="address to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8050)")] = None,
    db: Annotated[Path | None, typer.Option(help="database (default FRAMEWATCH_DB)")] = None,
) -> None:
    """Serve the dashboard: filters, trends, articles with their evidence, reviews.

    With FRAMEWATCH_DASHBOARD_TOKEN set (16+ characters) every page asks for it; it is
    required beyond 127.0.0.1 and behind a reverse proxy (without it, only browsers on
    this machine get in).

    Example: framewatch dashboard --db data/demo.duckdb
    """
    import uvicorn

    from dashboards.app import DashboardConfigError, create_app

    settings = _settings(dashboard_host=host, dashboard_port=port, db=db)
    try:
        web = create_app(settings)
    except DashboardConfigError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(f"dashboard at http://{settings.dashboard_host}:{settings.dashboard_port}/")
    uvicorn.run(web, host=settings.dashboard_host, port=settings.dashboard_port)


@app.command()
def alerts(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W47")] = None,
    send: Annotated[
        bool, typer.Option("--send/--no-send", help="send pending alerts (e-mail, webhook)")
    ] = False,
) -> None:
    """Find frames and metaphors rising above their baseline per city and outlet, store them
    in the alerts table and, with --send, send the pending ones to the configured channels
    (FRAMEWATCH_SMTP_HOST + FRAMEWATCH_ALERT_TO, FRAMEWATCH_WEBHOOK_URL). Default period:
    the last seven days.

    Example: framewatch alerts --week 2026-W47 --send
    """
    from pipeline.alerts import alert_table, run_alerts
    from pipeline.notify import configured_channels

    settings = _settings()
    period = _period(week)
    with _writer(settings) as con:
        summary = run_alerts(con, settings, period, send=send)
    if summary.detected:
        console.print(alert_table(summary.detected))
    console.print(f"{period.label}: {len(summary.detected)} alerts, {summary.new} new")
    if send and not configured_channels(settings):
        console.print("no channel configured: set FRAMEWATCH_SMTP_HOST or FRAMEWATCH_WEBHOOK_URL")
    elif send:
        console.print(f"sent: {summary.delivered}, failed (retried next time): {summary.failed}")


@app.command()
def pack(
    frame: Annotated[str, typer.Option(help="frame code, e.g. threat_public_order")],
    lang: Annotated[str, typer.Option(help="language of the pack and its trainers")],
    weeks: Annotated[int, typer.Option(help="weeks back from today", min=1)] = 8,
    limit: Annotated[int, typer.Option(help="examples of the frame, at most", min=1)] = 8,
    public_figures: Annotated[
        Path | None, typer.Option(help="YAML list of names to keep (public figures)", exists=True)
    ] = None,
    out: Annotated[Path | None, typer.Option(help="output HTML file")] = None,
) -> None:
    """Write a training pack: the best recent examples of a frame, pseudonymised, with
    highlights, discussion prompts and good-practice counter-examples (HTML and Markdown).

    Example: framewatch pack --frame threat_public_order --lang de --weeks 8
    """
    from dashboards.i18n import LANGUAGES
    from dashboards.pack import pack_name, write_pack
    from models.labels import load_labels
    from pipeline.pack import build_pack
    from pipeline.store import open_readonly

    codes = load_labels().codes
    if frame not in codes:
        raise typer.BadParameter(f"unknown frame; one of: {', '.join(codes)}", param_hint="--frame")
    if lang not in LANGUAGES:
        raise typer.BadParameter(f"one of: {', '.join(LANGUAGES)}", param_hint="--lang")
    settings = _settings()
    with open_readonly(settings.db) as con:
        built = build_pack(con, frame, lang, weeks, limit, public_figures=public_figures)
    paths = write_pack(built, out or settings.reports / "packs" / pack_name(built))
    console.print("\n".join(f"wrote {p}" for p in paths))


@app.command(name="export")
def export_data(
    out: Annotated[Path, typer.Option(help="folder for the datasets (replaced per dataset)")],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
    dataset: Annotated[
        list[str] | None, typer.Option(help="one dataset (repeatable); default: all")
    ] = None,
    db: Annotated[Path | None, typer.Option(help="database (default: FRAMEWATCH_DB)")] = None,
) -> None:
    """Export the analyst views (schema v1) as Hive-partitioned Parquet or CSV, by week
    and city, for DuckDB, pandas, polars or Spark. See docs/queries.md.

    Example: framewatch export --format parquet --out export/
    """
    from pipeline.export import export
    from pipeline.store import open_readonly

    with open_readonly(_settings(db=db).db) as con:
        try:
            written = export(con, out, fmt, dataset)  # type: ignore[arg-type]  # checked there
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    table = Table("dataset", "rows", "KiB", "seconds", "folder")
    for d in written:
        table.add_row(d.name, str(d.rows), f"{d.bytes / 1024:.0f}", f"{d.seconds:.2f}", str(d.path))
    console.print(table)


if TYPE_CHECKING:
    from pipeline.retention import PurgePreview


@app.command(name="purge")
def purge_command(
    url: Annotated[str | None, typer.Option(help="one article, by any of its URLs")] = None,
    source: Annotated[str | None, typer.Option(help="every article of this outlet id")] = None,
    before: Annotated[
        datetime | None, typer.Option(help="every article fetched before this date (UTC)")
    ] = None,
    reason: Annotated[
        str, typer.Option(help="the request's case reference (not the requester's name)")
    ] = "",
    by: Annotated[
        str | None, typer.Option("--by", help="who runs the purge (default: the system user)")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    compact: Annotated[
        bool, typer.Option(help="rewrite the database file, so no trace stays in freed blocks")
    ] = True,
) -> None:
    """Remove the content of articles on request: title, text, byline, URLs, evidence,
    quotations, raw HTML, their examples in alerts and their annotations. Figures stay the
    same (the classification is kept) and no crawl fetches the URLs again. Selectors combine;
    what would go is shown first. Logged in purge_log. See docs/data-protection.md.

    Example: framewatch purge --url https://www.example.org/lokales/1234 --reason "DSR-2026-17"
    """
    import getpass

    from pipeline import retention, store
    from pipeline.timeutil import as_utc

    if not (url or source or before):
        raise typer.BadParameter("give --url, --source or --before (they combine)")
    settings, since = _settings(), as_utc(before)
    # A writer's connection, though it only reads: it brings an older schema up to date.
    with store.writing(settings.db, settings.writer_wait_seconds) as con:
        plan = retention.preview(con, url=url, source=source, before=since)
    _print_purge_preview(plan)
    if not plan.articles and not plan.raw_pages:
        return
    if not yes:
        typer.confirm("Remove this content for good?", abort=True)
    with store.writing(settings.db, settings.writer_wait_seconds) as con:
        done = retention.purge(
            con,
            url=url,
            source=source,
            before=since,
            reason=reason,
            requested_by=by or getpass.getuser(),
        )
        if compact:
            retention.compact(con, settings.db)
    _refresh_snapshot(settings)
    console.print(
        f"purge {done.purge_id}: {done.articles} articles and {done.raw_pages} raw pages emptied;"
        f" {done.evidence} evidence sentences, {done.quotes} quotations, {done.terms} matched"
        f" terms, {done.fetch_log} fetch-log rows, {done.alerts} alert examples and"
        f" {done.annotations} annotations removed"
        + ("; database file rewritten" if compact else "")
    )


def _print_purge_preview(plan: PurgePreview) -> None:
    """What a purge would remove, headlines as plain text (scraped: no markup, no escapes)."""
    if not plan.articles and not plan.raw_pages:
        console.print("nothing to purge: no article or raw page matches (or it is purged)")
        return
    span = (
        f"{plan.first_fetched:%Y-%m-%d} to {plan.last_fetched:%Y-%m-%d}, " if plan.articles else ""
    )
    console.print(
        f"would purge {plan.articles} articles and {plan.raw_pages} raw pages"
        f" ({span}outlets: {', '.join(plan.sources)}):",
        markup=False,
    )
    for title in plan.titles:
        console.print("  " + "".join(c if c.isprintable() else " " for c in title), markup=False)
    if plan.articles > len(plan.titles):
        console.print(f"  … and {plan.articles - len(plan.titles)} more")


def _refresh_snapshot(settings: Settings) -> None:
    """Copy the database for readers again after content was removed: the snapshot is a copy
    of the file and would keep it until the next run. Also when snapshots are off but one is
    left from before."""
    from pipeline import store

    if settings.snapshot or store.snapshot_path(settings.db).exists():
        with store.writing(settings.db, settings.writer_wait_seconds, snapshot=True):
            pass


@app.command(name="retention")
def retention_command(
    compact: Annotated[
        bool, typer.Option(help="rewrite the database file afterwards (slow on large files)")
    ] = False,
) -> None:
    """Apply the retention now: drop the full texts fetched more than
    FRAMEWATCH_TEXT_RETENTION_DAYS ago (default 365; headlines, figures and evidence excerpts
    of FRAMEWATCH_EXCERPT_CHARS stay) and raw HTML older than
    FRAMEWATCH_RAW_HTML_RETENTION_DAYS (default 180); 0 keeps forever. The daily maintenance
    does the same.

    Example: framewatch retention --compact
    """
    from pipeline import retention, store
    from pipeline.timeutil import utc_now

    settings = _settings()
    snapshot = settings.snapshot and not compact  # a compacted file is copied afterwards
    with store.writing(settings.db, settings.writer_wait_seconds, snapshot=snapshot) as con:
        done = retention.apply_retention(
            con,
            utc_now(),
            settings.text_retention_days,
            settings.raw_html_retention_days,
            settings.excerpt_chars,
        )
        if compact:
            retention.compact(con, settings.db)
    if compact:
        _refresh_snapshot(settings)
    console.print(
        f"texts dropped: {done.texts}, raw pages dropped: {done.raw_pages}, evidence sentences"
        f" cut: {done.evidence}, quotations: {done.quotes}, signatures: {done.signatures},"
        f" alert examples cut: {done.alerts}" + ("; database file rewritten" if compact else "")
    )


@app.command()
def serve(
    show: Annotated[
        bool, typer.Option("--show", help="print the schedule and exit without serving")
    ] = False,
) -> None:
    """Run framewatch unattended: ingest (hourly), classify after each ingest, source health
    and retention (daily), the weekly reports (Monday 07:00 in each city's time zone), as
    Prefect deployments with retries, timeouts and one writer at a time. Schedules come from
    FRAMEWATCH_INGEST_CRON, _HEALTH_CRON, _REPORT_CRON, _TIMEZONE, _CITY_TIMEZONES.

    Uses the Prefect server at PREFECT_API_URL, or starts a local one (its UI at
    http://127.0.0.1:FRAMEWATCH_PREFECT_PORT, default 4200). Stop with Ctrl-C.

    Example: FRAMEWATCH_SOURCES_FILE=sources/epic-cities.yaml framewatch serve
    """
    from pipeline.prefect_server import prefect_api
    from pipeline.schedule import plan
    from pipeline.sources import load_sources

    settings = _settings()
    jobs = plan(settings, load_sources(settings.sources_file))
    table = Table("deployment", "flow", "when", "time zone", "cities")
    for job in jobs:
        when = job.cron or f"after {job.after}"
        table.add_row(job.name, job.flow, when, job.timezone, ", ".join(job.cities))
    console.print(table)
    if show:
        return
    with prefect_api(settings.prefect_port, settings.db.parent / "prefect-server.log") as url:
        _serve_at(url, settings)


def _serve_at(url: str, settings: Settings) -> None:
    """Serve the deployments against the Prefect API at ``url`` until interrupted."""
    import os

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.serve import serve_all

    os.environ["PREFECT_API_URL"] = url  # for the flow-run processes the runner starts
    console.print(f"Prefect UI: {url.removesuffix('/api')} (runs, logs, schedules)")
    with temporary_settings({PREFECT_API_URL: url}):
        serve_all(settings)


def run_app() -> None:
    """Console entry point: expected user errors become one line, not a traceback."""
    from pipeline.store import DatabaseBusy

    try:
        app()
    except (FileNotFoundError, DatabaseBusy) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    run_app()
