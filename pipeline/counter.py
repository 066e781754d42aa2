"""Counter-narrative suggestions: what a communication officer can answer when a frame rises.

The advice lives in a data file (``pipeline/counter_bank.yaml``, the starter bank) that a city
can override with its own file (``FRAMEWATCH_COUNTER_BANK``) without touching the code. The
loader is strict because what it returns is printed, in a city's name, in front of the
people who answer the press: a missing translation would leave a reader without advice, and
a figure without a source is exactly the kind of claim the bank exists to counter. So every
text must exist in every supported language, every item must name a published source with an
http(s) link, and every fact must also say which date or period its figure refers to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from models.labels import load_labels
from pipeline.language import SUPPORTED
from pipeline.urls import is_web_url

BANK_FILE = Path(__file__).with_name("counter_bank.yaml")
GENERAL = "general"
ENTRY_FIELDS = frozenset({"guidance", "facts"})
SOURCE_FIELDS = frozenset({"title", "publisher", "year", "url", "authors"})
# as_of: a date or a period, so the reader knows how old a figure is (2023, 2023-12,
# 2023-12-31, or start/end such as 2023-01/2023-12).
_ISO_POINT = r"\d{4}(?:-\d{2}(?:-\d{2})?)?"
AS_OF_PATTERN = re.compile(rf"{_ISO_POINT}(?:/{_ISO_POINT})?")


class CounterBankError(ValueError):
    """A bank file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Citation:
    """The published guide or statistic an item comes from, for citation in the report."""

    title: str
    publisher: str
    year: int
    url: str
    authors: str | None = None


@dataclass(frozen=True)
class Guidance:
    """One practice item, in every language, with the guide it comes from."""

    text: Mapping[str, str]
    source: Citation


@dataclass(frozen=True)
class Fact:
    """One sourced figure, in every language, with the date or period it refers to."""

    text: Mapping[str, str]
    source: Citation
    as_of: str


@dataclass(frozen=True)
class CounterEntry:
    """Everything the bank holds for one frame code (or for ``general``)."""

    key: str
    guidance: tuple[Guidance, ...]
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class Suggestion:
    """One line the report shows: a text in the report's language and what to cite."""

    frame: str
    kind: Literal["guidance", "fact"]
    text: str
    source: Citation
    as_of: str | None = None


def bank_keys() -> tuple[str, ...]:
    """The keys a bank may have: ``general`` and the frame codes of the label set."""
    return (GENERAL, *load_labels().codes)


def load_bank(path: Path | None = None) -> dict[str, CounterEntry]:
    """The starter bank, with a city's override file merged in when one is given.

    The override names only what it changes: per frame, the fields it gives replace the
    starter ones and the others are kept, so a city can add local facts without copying the
    starter guidance. Both files are validated; the first problem stops loading.

    Each file is read once per process (every city's report asks for the bank): a changed
    bank file takes effect in a new process, such as the next ``framewatch report`` run.
    """
    return dict(_bank(path.resolve() if path is not None else None))


@cache
def _bank(path: Path | None) -> dict[str, CounterEntry]:
    """load_bank for a resolved path, cached; callers get a copy, so the cache stays intact."""
    bank = {
        key: replace(CounterEntry(key, (), ()), **_parse_fields(BANK_FILE, key, raw))
        for key, raw in _read(BANK_FILE).items()
    }
    _require_every_key(bank, BANK_FILE)
    if path is not None:
        for key, raw in _read(path).items():
            bank[key] = replace(bank[key], **_parse_fields(path, key, raw))
    return bank


def entries_for(
    bank: Mapping[str, CounterEntry], frames: Iterable[str], lang: str
) -> list[Suggestion]:
    """What the report shows for the frames that rose, in the report's language.

    The general guidance comes once, first (it applies whatever rose), then each frame in
    the order given (the report's order), guidance before facts. Nothing rose: nothing to
    suggest.
    """
    if lang not in SUPPORTED:
        raise ValueError(f"unsupported language {lang!r}; expected one of {list(SUPPORTED)}")
    wanted = [frame for frame in dict.fromkeys(frames) if frame != GENERAL]
    unknown = [frame for frame in wanted if frame not in bank]
    if unknown:
        raise ValueError(f"no counter-narrative entry for frames {unknown}")
    if not wanted:
        return []
    return [s for key in (GENERAL, *wanted) for s in _suggestions(bank[key], lang)]


def _suggestions(entry: CounterEntry, lang: str) -> list[Suggestion]:
    """The guidance, then the facts, of one entry in one language."""
    guidance = [Suggestion(entry.key, "guidance", g.text[lang], g.source) for g in entry.guidance]
    facts = [Suggestion(entry.key, "fact", f.text[lang], f.source, f.as_of) for f in entry.facts]
    return guidance + facts


def _read(path: Path) -> dict[str, Any]:
    """The top-level mapping of a bank file, every key a known frame code or ``general``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CounterBankError(f"{path}: counter-narrative bank file not found") from None
    except yaml.YAMLError as exc:
        raise CounterBankError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CounterBankError(f"{path}: must be a mapping of frame codes to entries")
    unknown = sorted(str(key) for key in data if key not in bank_keys())
    if unknown:
        raise CounterBankError(
            f"{path}: unknown frame codes {unknown}; expected {GENERAL!r} or one of "
            f"{list(load_labels().codes)}"
        )
    return data


def _require_every_key(bank: Mapping[str, CounterEntry], path: Path) -> None:
    """The starter bank must cover every frame, and give each some guidance."""
    missing = [key for key in bank_keys() if key not in bank]
    if missing:
        raise CounterBankError(f"{path}: no entry for {missing}")
    empty = [key for key, entry in bank.items() if not entry.guidance]
    if empty:
        raise CounterBankError(f"{path}: no guidance for {empty}")


def _parse_fields(path: Path, key: str, raw: Any) -> dict[str, Any]:
    """The fields one entry gives, parsed and validated (absent fields are left out): the
    starter entry starts from empty fields, an override's replace the starter's."""
    if not isinstance(raw, dict):
        raise CounterBankError(f"{path}: {key}: must be a mapping with guidance and/or facts")
    _refuse_unknown(path, key, raw, ENTRY_FIELDS)
    fields: dict[str, Any] = {}
    if "guidance" in raw:
        items = _items(path, f"{key}.guidance", raw["guidance"])
        fields["guidance"] = tuple(_guidance(path, where, item) for where, item in items)
    if "facts" in raw:
        items = _items(path, f"{key}.facts", raw["facts"])
        fields["facts"] = tuple(_fact(path, where, item) for where, item in items)
    return fields


def _items(path: Path, where: str, raw: Any) -> list[tuple[str, dict[str, Any]]]:
    """The mappings of a list field, each with its location for error messages."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CounterBankError(f"{path}: {where}: must be a list")
    bad = [index for index, item in enumerate(raw) if not isinstance(item, dict)]
    if bad:
        raise CounterBankError(f"{path}: {where}[{bad[0]}]: must be a mapping")
    return [(f"{where}[{index}]", item) for index, item in enumerate(raw)]


def _guidance(path: Path, where: str, raw: dict[str, Any]) -> Guidance:
    """One practice item; a figure in its text without a source is refused by name."""
    _refuse_unknown(path, where, raw, {"text", "source"})
    text = _texts(path, f"{where}.text", raw.get("text"))
    if raw.get("source") is None:
        has_figure = any(re.search(r"\d", t) for t in text.values())
        hint = "; its text contains a figure, which is never shown unsourced" if has_figure else ""
        raise CounterBankError(
            f"{path}: {where}: guidance names no source{hint} (give source: "
            "{title, publisher, year, url}; put figures in facts with source and as_of)"
        )
    return Guidance(text, _source(path, f"{where}.source", raw["source"]))


def _fact(path: Path, where: str, raw: dict[str, Any]) -> Fact:
    """One figure: refused without a full source and the date or period it refers to."""
    _refuse_unknown(path, where, raw, {"text", "source", "as_of"})
    text = _texts(path, f"{where}.text", raw.get("text"))
    if raw.get("source") is None:
        raise CounterBankError(
            f"{path}: {where}: unsourced fact; a fact needs source: {{title, publisher, "
            "year, url}}"
        )
    source = _source(path, f"{where}.source", raw["source"])
    return Fact(text, source, _as_of(path, f"{where}.as_of", raw.get("as_of")))


def _texts(path: Path, where: str, raw: Any) -> dict[str, str]:
    """A text in every supported language, nothing else, none of them blank."""
    if not isinstance(raw, dict):
        raise CounterBankError(f"{path}: {where}: must map each language to its text")
    missing = [lang for lang in SUPPORTED if not _filled(raw.get(lang))]
    if missing:
        raise CounterBankError(f"{path}: {where}: missing languages {missing}")
    extra = sorted(str(lang) for lang in raw if lang not in SUPPORTED)
    if extra:
        raise CounterBankError(
            f"{path}: {where}: unknown languages {extra}; expected {list(SUPPORTED)}"
        )
    return {lang: str(raw[lang]).strip() for lang in SUPPORTED}


def _source(path: Path, where: str, raw: Any) -> Citation:
    """A citable source: title, publisher, a year and an http(s) link."""
    if not isinstance(raw, dict):
        raise CounterBankError(f"{path}: {where}: must be a mapping of title, publisher, year, url")
    _refuse_unknown(path, where, raw, SOURCE_FIELDS)
    missing = [name for name in ("title", "publisher", "url") if not _filled(raw.get(name))]
    if missing:
        raise CounterBankError(f"{path}: {where}: missing {missing}")
    year = raw.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2100:
        raise CounterBankError(f"{path}: {where}.year: must be a year such as 2020, got {year!r}")
    url = str(raw["url"]).strip()
    if not is_web_url(url):
        raise CounterBankError(f"{path}: {where}.url: must be an http(s) link, got {url!r}")
    authors = str(raw["authors"]).strip() if _filled(raw.get("authors")) else None
    return Citation(str(raw["title"]).strip(), str(raw["publisher"]).strip(), year, url, authors)


def _as_of(path: Path, where: str, raw: Any) -> str:
    """The date or period a figure refers to, as an ISO 8601 string."""
    # YAML reads an unquoted 2023-12-31 as a date: keep it as the ISO string it was.
    value = raw.isoformat() if hasattr(raw, "isoformat") else str(raw or "").strip()
    if not AS_OF_PATTERN.fullmatch(value):
        raise CounterBankError(
            f"{path}: {where}: a fact needs as_of, the date or period its figure refers to "
            f"(YYYY, YYYY-MM, YYYY-MM-DD or start/end), got {raw!r}"
        )
    return value


def _refuse_unknown(path: Path, where: str, raw: dict[str, Any], known: Iterable[str]) -> None:
    """Refuse misspelt fields, which would otherwise be silently ignored."""
    unknown = sorted(str(name) for name in raw if name not in set(known))
    if unknown:
        raise CounterBankError(f"{path}: {where}: unknown fields {unknown}")


def _filled(value: Any) -> bool:
    """A non-blank string (a year or number does not count as text)."""
    return isinstance(value, str) and bool(value.strip())
