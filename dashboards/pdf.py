"""PDF copies of the self-contained HTML pages, printed by a headless Chromium when present.

Chromium renders the same HTML the reader sees (inline CSS and SVG), so the PDF needs no
second layout and no PDF library; where no browser is installed the HTML and Markdown are the
report and the PDF is skipped with a message, never a failure.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-pdf-header-footer",
)


def write_pdf(html: Path, browser: Path, timeout: float = 120.0) -> Path | None:
    """Print ``html`` to a PDF beside it; None (and a log line) when that is not possible."""
    if not browser.exists():
        log.info("no PDF for %s: no browser at %s (FRAMEWATCH_BROWSER)", html, browser)
        return None
    pdf = html.with_suffix(".pdf")
    # A throwaway profile: a user's running Chromium (or another test) keeps its own lock.
    with tempfile.TemporaryDirectory(prefix="fw-chromium-") as profile:
        cmd = [str(browser), *FLAGS, f"--user-data-dir={profile}"]
        cmd += [f"--print-to-pdf={pdf}", html.resolve().as_uri()]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, check=True)
        except (subprocess.SubprocessError, OSError) as exc:
            log.warning("no PDF for %s: %s", html, exc)
            return None
    return pdf if pdf.exists() and pdf.stat().st_size else None
