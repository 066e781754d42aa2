"""Outlets are data: ``sources/*.yaml`` files, loaded into ``Source`` records."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pipeline.records import Source

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES_DIR = REPO_ROOT / "sources"
REQUIRED = ("id", "name", "city", "country", "lang")


class SourcesError(ValueError):
    """A sources file that cannot be used, with the entry and field at fault."""


def load_sources(path: Path, newsroom: str | None = None) -> list[Source]:
    """Read a sources file; ``{newsroom}`` in URLs becomes the demo newsroom's address."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("sources", [])
    if not isinstance(entries, list) or not entries:
        raise SourcesError(f"{path}: expected a non-empty list under 'sources'")
    sources = [_source(entry, path, newsroom) for entry in entries]
    ids = [s.id for s in sources]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SourcesError(f"{path}: duplicate source ids {dupes}")
    return sources


def _source(entry: dict[str, Any], path: Path, newsroom: str | None) -> Source:
    """Validate one YAML entry and turn it into a Source."""
    missing = [k for k in REQUIRED if not entry.get(k)]
    if missing:
        raise SourcesError(f"{path}: entry {entry.get('id', '?')!r} lacks {missing}")
    if not entry.get("feeds") and not entry.get("sitemaps"):
        raise SourcesError(f"{path}: entry {entry['id']!r} has neither feeds nor sitemaps")

    def urls(key: str) -> tuple[str, ...]:
        raw = entry.get(key) or []
        if not isinstance(raw, list):
            raise SourcesError(f"{path}: {key} of {entry['id']!r} must be a list of URLs")
        values = tuple(
            str(u) if newsroom is None else str(u).replace("{newsroom}", newsroom) for u in raw
        )
        # An unfilled {newsroom} template is checked once the address is known.
        bad = [u for u in values if "{newsroom}" not in u and not _http_url(u)]
        if bad:
            raise SourcesError(f"{path}: {entry['id']!r} has URLs that are not http(s): {bad}")
        return values

    timeout = entry.get("download_timeout")
    return Source(
        id=str(entry["id"]),
        name=str(entry["name"]),
        city=str(entry["city"]),
        country=str(entry["country"]).upper(),
        lang=str(entry["lang"]).lower(),
        feeds=urls("feeds"),
        sitemaps=urls("sitemaps"),
        verified=bool(entry.get("verified", True)),
        allow_private=bool(entry.get("allow_private", False)),
        download_timeout=float(timeout) if timeout is not None else None,
        note=str(entry.get("note", "")),
    )


def _http_url(url: str) -> bool:
    """An absolute http(s) URL with a host."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def demo_sources_file() -> Path:
    """The bundled demo newsroom's sources file."""
    return SOURCES_DIR / "demo.yaml"
