"""Training packs rendered for trainers: a self-contained HTML page and a Markdown twin.

The HTML page carries its CSS inline and a Content-Security-Policy that allows no script and
no request, so it opens offline, prints cleanly and can be mailed. Scraped text (titles,
outlets, excerpts, URLs) reaches it only through Jinja2's autoescaping; the Markdown twin
escapes it with ``dashboards.render.md_escape`` and ``md_url``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from dashboards.render import render_twin, write_twins
from pipeline.pack import Pack


def render_pack(pack: Pack, fmt: Literal["html", "md"]) -> str:
    """Render a pack as 'html' or 'md'."""
    return render_twin("pack", fmt, p=pack, t=pack.t)


def pack_name(pack: Pack) -> str:
    """The default file name of a pack: frame, language and the last day it covers."""
    last = pack.period.end - timedelta(days=1)
    return f"{pack.frame}-{pack.lang}-{last:%Y-%m-%d}.html"


def write_pack(pack: Pack, out: Path) -> list[Path]:
    """Write the HTML file and its Markdown twin; return both paths."""
    return write_twins("pack", out, p=pack, t=pack.t)
