"""A real browser for tests: Debian's chromium driven by Playwright.

``scripts/ensure-chromium`` (run by ``make test``'s set-up) installs the Debian package;
Playwright's own browser download is never used, since it needs the internet. Screenshots go
to ``tests/artifacts/screenshots`` (or ``FRAMEWATCH_SCREENSHOTS``) so a person can look at them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards.pdf import FLAGS, PRINT_ONLY

# The PDF printer's flags, so the tests see the browser the reports are printed with.
CHROMIUM_FLAGS = [flag for flag in FLAGS if flag not in PRINT_ONLY]
SCREENSHOTS = Path(
    os.environ.get(
        "FRAMEWATCH_SCREENSHOTS", Path(__file__).resolve().parent / "artifacts" / "screenshots"
    )
)


def chromium_path() -> str:
    """The chromium executable, or skip the test with the reason."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("needs Debian's chromium (scripts/ensure-chromium installs it as root)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield chrome
        chrome.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (own context: no cookies shared between tests) that records JS errors,
    dialogs (alert() from an injected script) and requests leaving loopback."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.errors, pg.dialogs, pg.external = [], [], []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("request", lambda r: _note_external(pg, r.url))
    yield pg
    context.close()


def _note_external(pg: Any, url: str) -> None:
    """Record a request to anything but loopback, data: or about:."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if url.startswith(("data:", "about:", "blob:")) or host in ("127.0.0.1", "localhost", ""):
        return
    pg.external.append(url)


def screenshot(pg: Any, name: str) -> Path:
    """Save a full-page screenshot under SCREENSHOTS and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path
