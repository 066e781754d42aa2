"""Outlets are data: ``sources/*.yaml`` files, loaded into ``Source`` records.

Every field is validated here, once, with a message naming the file, the entry and the field:
a typo or a wrong type in a hand-edited YAML file must stop a run before it starts, not
surface as a silently ignored politeness setting in the middle of a crawl.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pipeline.records import Source

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES_DIR = REPO_ROOT / "sources"
REQUIRED = ("id", "name", "city", "country", "lang")
URL_LISTS = ("feeds", "sitemaps", "homepages")
# Every Source field may be written in YAML, plus the one-item shorthand ``homepage: URL``.
KNOWN_FIELDS = frozenset(f.name for f in fields(Source)) | {"homepage"}


class SourcesError(ValueError):
    """A sources file that cannot be used, with the entry and field at fault."""


def load_sources(path: Path, newsroom: str | None = None) -> list[Source]:
    """Read a sources file; ``{newsroom}`` in URLs becomes the demo newsroom's address."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("sources", []) if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SourcesError(f"{path}: expected a non-empty list under 'sources'")
    sources = [_source(entry, path, newsroom) for entry in entries]
    ids = [s.id for s in sources]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SourcesError(f"{path}: duplicate source ids {dupes}")
    return sources


def _source(entry: Any, path: Path, newsroom: str | None) -> Source:
    """Validate one YAML entry and turn it into a Source."""
    if not isinstance(entry, dict):
        raise SourcesError(f"{path}: every entry under 'sources' must be a mapping, got {entry!r}")
    missing = [k for k in REQUIRED if not entry.get(k)]
    if missing:
        raise SourcesError(f"{path}: entry {entry.get('id', '?')!r} lacks {missing}")
    where = f"{path}: entry {entry['id']!r}"
    unknown = sorted(set(entry) - KNOWN_FIELDS)
    if unknown:
        raise SourcesError(f"{where}: unknown fields {unknown} (a typo?)")
    urls = {key: _urls(_url_list(entry, key, where), where, key, newsroom) for key in URL_LISTS}
    if not any(urls.values()):
        raise SourcesError(f"{where} has no feeds, sitemaps or homepages")
    return Source(
        id=str(entry["id"]),
        name=str(entry["name"]),
        city=str(entry["city"]),
        country=str(entry["country"]).upper(),
        lang=str(entry["lang"]).lower(),
        feeds=urls["feeds"],
        sitemaps=urls["sitemaps"],
        homepages=urls["homepages"],
        verified=_flag(entry, "verified", True, where),
        allow_private=_flag(entry, "allow_private", False, where),
        download_timeout=_seconds(entry, "download_timeout", where, positive=True),
        download_maxsize=_count(entry, "download_maxsize", where, minimum=1),
        download_delay=_seconds(entry, "download_delay", where),
        concurrency=_count(entry, "concurrency", where, minimum=1),
        max_retries=_count(entry, "max_retries", where, minimum=0),
        note=str(entry.get("note", "")),
    )


def _url_list(entry: dict[str, Any], key: str, where: str) -> list[Any]:
    """The raw URL list under ``key``; ``homepage: URL`` is a one-item ``homepages``."""
    raw = entry.get(key)
    if key == "homepages" and entry.get("homepage") is not None:
        if raw is not None:
            raise SourcesError(f"{where}: give either homepage or homepages, not both")
        raw = [entry["homepage"]]
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SourcesError(f"{where}: {key} must be a list of URLs, got {raw!r}")
    return raw


def _urls(raw: list[Any], where: str, key: str, newsroom: str | None) -> tuple[str, ...]:
    """Fill ``{newsroom}`` and check that every URL is absolute http(s)."""
    values = tuple(
        str(u) if newsroom is None else str(u).replace("{newsroom}", newsroom) for u in raw
    )
    # An unfilled {newsroom} template is checked once the address is known.
    bad = [u for u in values if "{newsroom}" not in u and not _http_url(u)]
    if bad:
        raise SourcesError(f"{where}: {key} has URLs that are not http(s): {bad}")
    return values


def _flag(entry: dict[str, Any], key: str, default: bool, where: str) -> bool:
    """A YAML boolean; the quoted string "false" would be truthy, so it is refused."""
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise SourcesError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _seconds(entry: dict[str, Any], key: str, where: str, positive: bool = False) -> float | None:
    """An optional number of seconds, >= 0 (> 0 with ``positive``); None = global default."""
    value = _checked(entry, key, where, (int, float), "a number")
    if value is None:
        return None
    if value < 0 or (positive and value == 0):
        bound = "greater than 0" if positive else "at least 0"
        raise SourcesError(f"{where}: {key} must be {bound}, got {value!r}")
    return float(value)


def _count(entry: dict[str, Any], key: str, where: str, minimum: int) -> int | None:
    """An optional whole number >= ``minimum``; None = global default."""
    value = _checked(entry, key, where, (int,), "a whole number")
    if value is None:
        return None
    if value < minimum:
        raise SourcesError(f"{where}: {key} must be at least {minimum}, got {value!r}")
    return int(value)


def _checked(
    entry: dict[str, Any], key: str, where: str, types: tuple[type, ...], noun: str
) -> Any:
    """The value under ``key`` if it has one of ``types`` (or None).

    YAML booleans are ints in Python: ``concurrency: yes`` is refused rather than read as 1.
    """
    value = entry.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
        raise SourcesError(f"{where}: {key} must be {noun}, got {value!r}")
    return value


def _http_url(url: str) -> bool:
    """An absolute http(s) URL with a host."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def demo_sources_file() -> Path:
    """The bundled demo newsroom's sources file."""
    return SOURCES_DIR / "demo.yaml"
