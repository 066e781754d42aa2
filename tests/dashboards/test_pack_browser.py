"""A training pack opened in a real browser: payload titles stay inert, nothing leaves the
machine, highlights show, and a screenshot is kept for people to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dashboards.pack import write_pack
from pipeline.pack import build_pack
from pipeline.store import open_readonly
from tests.browser import screenshot
from tests.pipeline.test_pack import CUE_WORD, FRAME, IMG, LOADED, SCRIPT, TODAY, build_db


def test_pack_in_chromium(page: Any, tmp_path: Path) -> None:
    db = tmp_path / "pack.duckdb"
    build_db(db)
    with open_readonly(db) as con:
        pack = build_pack(con, FRAME, "de", weeks=4, limit=8, today=TODAY)
    html, _ = write_pack(pack, tmp_path / "pack.html")
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    assert page.dialogs == [] and page.errors == [] and page.external == []
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    titles = page.locator("article.example h3").all_inner_texts()
    assert any(SCRIPT in t and IMG in t for t in titles)  # shown as text, not run
    cue = page.locator("mark.cue", has_text=CUE_WORD).first
    loaded = page.locator("mark.loaded_term", has_text=LOADED).first
    assert cue.is_visible() and loaded.is_visible()
    background = cue.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert "Zuwanderung" in (loaded.get_attribute("title") or "")
    assert page.locator("ol.prompts li").count() >= 3
    assert page.locator("article.example.good").count() == len(pack.good_practice) > 0
    page.emulate_media(media="print")  # on paper the address is not printed after links
    after = page.locator("a[href]").first.evaluate("el => getComputedStyle(el, '::after').content")
    assert after in ("none", "normal"), after
    page.emulate_media(media="screen")
    path = screenshot(page, "pack")
    assert path.exists() and path.stat().st_size > 10_000
