"""PDF copies of the self-contained HTML pages, printed by a headless Chromium when present.

Chromium renders the same HTML the reader sees (inline CSS and SVG), so the PDF needs no
second layout and no PDF library; where no browser is installed the HTML and Markdown are the
report and the PDF is skipped with a message, never a failure.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

# Headless, offline and quiet: no sandbox (containers), no update or sync requests.
# The test browser (tests/browser.py) launches with the same flags, less PRINT_ONLY.
PRINT_ONLY = ("--no-pdf-header-footer",)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    *PRINT_ONLY,
)


def write_pdf(html: Path, browser: Path, timeout: float = 120.0) -> Path | None:
    """Print ``html`` to a PDF beside it; None (and a log line) when that is not possible."""
    if not browser.exists():
        log.info("no PDF for %s: no browser at %s (FRAMEWATCH_BROWSER)", html, browser)
        return None
    pdf = html.with_suffix(".pdf")
    pdf.unlink(missing_ok=True)  # an old PDF must not pass for this run's
    # A throwaway profile: a user's running Chromium (or another test) keeps its own lock.
    with tempfile.TemporaryDirectory(prefix="fw-chromium-") as profile:
        cmd = [str(browser), *FLAGS, f"--user-data-dir={profile}"]
        cmd += [f"--print-to-pdf={pdf}", html.resolve().as_uri()]
        if not _run(cmd, timeout):
            return None
    return pdf if pdf.exists() and pdf.stat().st_size else None


def _run(cmd: list[str], timeout: float) -> bool:
    """Run Chromium in its own process group, killing all of it (renderers too) on timeout."""
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
    except OSError as exc:
        log.warning("no PDF: cannot start %s: %s", cmd[0], exc)
        return False
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.warning("no PDF: %s did not finish in %.0f s", cmd[0], timeout)
        return False
    if code != 0:
        log.warning("no PDF: %s exited with %s", cmd[0], code)
    return code == 0
