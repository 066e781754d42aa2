"""The source health table as the terminal shows it (``sources check`` and the demo)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from rich import box
from rich.table import Column, Table

from pipeline.records import SourceHealth

STYLES = {"ok": "green", "warning": "yellow", "failing": "red"}


def _when(value: datetime | None, today: date) -> str:
    """Time of day for today, the date otherwise (UTC); a dash for never."""
    if value is None:
        return "–"
    return f"{value:%H:%M}" if value.date() == today else f"{value:%Y-%m-%d}"


def health_table(
    rows: Sequence[SourceHealth], title: str = "Source health", window: int = 7
) -> Table:
    """One line per outlet: status, flags, last success, failures, rate, extraction."""
    today = datetime.now(UTC).date()
    headers = ("outlet", "status", "last ok", "last new", "fails", "/day", "usual")
    table = Table(
        *(Column(h, no_wrap=True, min_width=len(h)) for h in headers),
        Column("no text", no_wrap=True, min_width=7),
        title=title,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        caption="times UTC · fails: failed requests in a row (worst feed) · /day: new articles"
        f" a day, last {window} days; usual: the weeks before · no text: pages without"
        " article text / pages fetched",
    )
    for h in rows:
        style = STYLES.get(h.status, "")
        table.add_row(
            h.source_id,
            f"[{style}]{', '.join(h.flags) or h.status}[/]",
            _when(h.last_success, today),
            _when(h.last_article, today),
            str(h.consecutive_failures),
            f"{h.articles_per_day:.1f}",
            "–" if h.baseline_per_day is None else f"{h.baseline_per_day:.1f}",
            f"{h.extraction_failures} / {h.pages_fetched}",
        )
    return table
