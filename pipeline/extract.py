"""Extraction: a fetched page becomes an Article (clean text, title, date, language).

The HTML is parsed once (lxml, through trafilatura's loader); that one tree serves both the
page's structured metadata, read here, and trafilatura, which extracts the body (it leaves
navigation, cookie banners, teaser lists and comments behind) and runs htmldate.

What framewatch adds to trafilatura, each for a stated reason:

* dates: the feed's date first, then the page's JSON-LD ``datePublished``, its
  ``article:published_time`` meta, and only then htmldate's find, which drops the offset of
  a time (see ``pipeline.dates``); ``Article.date_source`` says which one was used.
* title: trafilatura's choice (og:title first, then JSON-LD ``headline``, then the page's
  own headline) without a site-name affix ("... - WELT", "... | MDR.DE"), cut only when the
  affix is the page's declared site name or its host, so a headline's own dash survives.
* text: the headline that trafilatura keeps as the text's first line (with the kicker above
  it) is dropped: the title field already holds it, and a second copy would double its
  weight for the classifier. Soft hyphens and zero-width characters are removed from title
  and text, because they split words for the lexicon and the tokenizer.
* comments and tables stay out: the record is the article's prose. Readers' comments are
  not the outlet's voice; tables are figures the framing classifier cannot read (with or
  without them, the body scores of benchmarks/extraction.py on the development pages are
  the same).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trafilatura
from charset_normalizer import from_bytes
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document
from trafilatura.utils import load_html
from w3lib.encoding import html_to_unicode, resolve_encoding

from pipeline.dates import choose_date, jsonld_article, jsonld_objects, meta_date
from pipeline.dates import plausible as plausible  # re-exported: callers check dates here
from pipeline.language import resolve_language
from pipeline.records import Article, FetchedPage
from pipeline.timeutil import as_utc
from pipeline.urls import canonical_url, host_of

MIN_TEXT_CHARS = 200
# htmldate: the original publication date with the time of day. Its extensive search
# (trafilatura's default; it reads dates in the visible text) only runs when the markup
# states none, and its find is only used when JSON-LD and meta tags gave none either: the
# last resort should not be weaker than plain trafilatura's.
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
# Soft hyphen, zero-width space, word joiner, BOM: invisible, but they split words.
INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")
# Separators between a headline and a site name in a title. Never ":" (headlines use it).
AFFIX_SEPARATOR = re.compile(r"\s+(?:[|\-–—·•]|::)\s+")
WORD = re.compile(r"\w+")
HEAD_LINES = 4  # a headline repeated in the text is among its first lines
KICKER_WORDS = 6  # a kicker (the line above a headline) is a few words long


class ExtractionError(ValueError):
    """A page that yields no usable article; the message is the reason for fetch_log."""


@dataclass(frozen=True)
class PageMeta:
    """What the page states about itself, read from its tree before trafilatura runs."""

    site_names: tuple[str, ...]  # og:site_name, application-name, JSON-LD publisher
    headlines: tuple[str, ...]  # og/twitter title, JSON-LD headline, <h1> texts
    jsonld_date: str | None
    meta_date: str | None
    canonical: str | None  # absolute http(s) <link rel=canonical> or og:url
    lang: str  # primary subtag of <html lang>, '' when absent


@dataclass(frozen=True)
class FileExtraction:
    """The result of extracting one HTML file (``framewatch extract``); never raises.

    ``error`` is None on success, else the reason (unreadable file, no article text); the
    other fields are then empty. ``url`` is the article's canonical URL: from ``--url`` or the
    page's own canonical link, None when neither exists.
    """

    file: str
    url: str | None
    title: str
    text: str
    author: str
    published_at: str | None  # ISO 8601 with offset
    date_source: str
    lang: str | None
    error: str | None = None

    def to_json(self) -> str:
        """One JSON object (UTF-8 text, not ASCII-escaped)."""
        return json.dumps(asdict(self), ensure_ascii=False)


def article_id(canonical: str) -> str:
    """The article id: a stable hash of the canonical URL."""
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]


def content_hash(text: str) -> str:
    """Hash of the text with case and whitespace normalised, to spot identical copies."""
    normalised = re.sub(r"\s+", " ", text).strip().lower()
    return hashlib.sha1(normalised.encode("utf-8")).hexdigest()


def extract_article(page: FetchedPage, declared_lang: str) -> Article:
    """Extract one page; raise ExtractionError with a reason when it holds no article."""
    tree = parse_html(page.html)
    return article_from_tree(tree, read_meta(tree), page, declared_lang)


def parse_html(html: str) -> HtmlElement:
    """The page's lxml tree (the one parse); ExtractionError when it is not HTML at all."""
    tree = load_html(html)
    if tree is None:
        raise ExtractionError("not an HTML page")
    return tree


def article_from_tree(
    tree: HtmlElement, meta: PageMeta, page: FetchedPage, declared_lang: str
) -> Article:
    """The Article of a parsed page: trafilatura's extraction plus framewatch's rules."""
    doc = _trafilatura(tree, page)
    title, text = _title_and_text(doc, meta, page)
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractionError(f"no article text ({len(text)} characters extracted)")
    canonical = _canonical(page.url, getattr(doc, "url", None))
    evidence = page_dates(meta, getattr(doc, "date", None))
    published, date_source = choose_date(page.feed_published, evidence, as_utc(page.fetched_at))
    return Article(
        id=article_id(canonical),
        url=page.url,
        requested_url=page.requested_url,
        canonical_url=canonical,
        source_id=page.source_id,
        lang=resolve_language(f"{title}\n{text}", declared_lang),
        declared_lang=declared_lang,
        title=title,
        text=text,
        author=clean_text(getattr(doc, "author", None)),
        published_at=published,
        date_source=date_source,
        fetched_at=page.fetched_at,
        content_hash=content_hash(text),
    )


def _title_and_text(doc: Any, meta: PageMeta, page: FetchedPage) -> tuple[str, str]:
    """The cleaned title (feed title as fallback) and the text without its headline line."""
    raw_title = clean_text(getattr(doc, "title", None) or page.feed_title)
    title = clean_title(raw_title, (*meta.site_names, *host_names(page.url)))
    body = clean_text(getattr(doc, "text", None))
    return title, drop_leading_headline(body, (title, raw_title, *meta.headlines))


def _trafilatura(tree: HtmlElement, page: FetchedPage) -> Any:
    """trafilatura's body and metadata of the parsed tree (it extracts from a copy, so
    ``tree`` stays intact for the metadata read after it)."""
    doc = trafilatura.bare_extraction(
        tree, url=page.url, include_comments=False, include_tables=False, deduplicate=False
    )
    if isinstance(doc, Document):
        latest = as_utc(page.fetched_at) + timedelta(days=1)  # as plausible(): not after
        doc.title, doc.author, doc.url, doc.date = _metadata(tree, page.url, latest)
    return doc


def _metadata(
    tree: HtmlElement, url: str, latest: datetime
) -> tuple[str | None, str | None, str | None, str | None]:
    """Title, author, URL and date as trafilatura's ``extract_metadata`` finds them.

    The same steps in the same order, minus what framewatch never reads (categories, tags,
    licence, site name): on news pages with hundreds of links those cost a third of the
    whole extraction, and the crawl extracts in the same two cores that download.
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None  # trafilatura's rule: a one-word "author" is a site or a handle
    with contextlib.suppress(Exception):  # trafilatura guards its JSON-LD reader the same way
        meta = extract_meta_json(tree, meta)
    title = meta.title or extract_title(tree)
    author = meta.author or extract_author(tree)
    page_url = meta.url or extract_url(tree, url)
    date = find_date(
        tree,
        url=page_url,
        original_date=True,
        extensive_search=True,
        outputformat=DATE_FORMAT,
        max_date=latest.strftime("%Y-%m-%d"),
    )
    return title, author, page_url, date


def page_dates(meta: PageMeta, htmldate_find: str | None) -> list[tuple[str, str | None]]:
    """The page's date evidence, best first (the order is argued in pipeline.dates)."""
    return [
        ("page:jsonld", meta.jsonld_date),
        ("page:meta", meta.meta_date),
        ("page:htmldate", htmldate_find),
    ]


def _canonical(page_url: str, declared: str | None) -> str:
    """The page's declared canonical URL when it is usable, else the page URL.

    Usable means on the same host and not the site's root: some CMSs declare the home page
    as the canonical of every article, which would make all articles one.
    """
    if declared and host_of(declared) == host_of(page_url) and urlsplit(declared).path.strip("/"):
        return canonical_url(declared)
    return canonical_url(page_url)


# --- the page's own metadata -------------------------------------------------------------


def read_meta(tree: HtmlElement) -> PageMeta:
    """Site names, headlines, dates and canonical link as the page declares them."""
    pairs = _meta_pairs(tree)
    named = dict(reversed(pairs))  # the first occurrence of a key wins
    article = jsonld_article(jsonld_objects(_jsonld_scripts(tree))) or {}
    publisher = article.get("publisher")
    publisher_name = publisher.get("name") if isinstance(publisher, dict) else None
    names = [named.get("og:site_name"), named.get("application-name"), publisher_name]
    headline = article.get("headline")
    heads = [named.get("og:title"), named.get("twitter:title"), headline, *_h1_texts(tree)]
    published = article.get("datePublished")
    return PageMeta(
        site_names=tuple(_strings(names)),
        headlines=tuple(_strings(heads)),
        jsonld_date=published if isinstance(published, str) else None,
        meta_date=meta_date(pairs),
        canonical=_absolute(_canonical_link(tree) or named.get("og:url")),
        lang=(tree.get("lang") or "").split("-")[0].strip().lower(),
    )


def _meta_pairs(tree: HtmlElement) -> list[tuple[str, str]]:
    """(property, name or itemprop; content) of every <meta> with content, in page order."""
    pairs = []
    for element in tree.iter("meta"):
        key = element.get("property") or element.get("name") or element.get("itemprop")
        content = element.get("content")
        if key and content and content.strip():
            pairs.append((key.strip(), content.strip()))
    return pairs


def _jsonld_scripts(tree: HtmlElement) -> list[str]:
    """The texts of the page's JSON-LD scripts."""
    return [
        script.text
        for script in tree.iter("script")
        if (script.get("type") or "").strip().lower() == "application/ld+json" and script.text
    ]


def _h1_texts(tree: HtmlElement) -> list[str]:
    """The texts of the page's <h1> elements, whitespace collapsed."""
    return [" ".join(h1.text_content().split()) for h1 in tree.iter("h1")]


def _canonical_link(tree: HtmlElement) -> str | None:
    """The href of <link rel="canonical">."""
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            return link.get("href")
    return None


def _absolute(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) URL (a relative one has no base here)."""
    if url and urlsplit(url.strip()).scheme in ("http", "https") and host_of(url.strip()):
        return url.strip()
    return None


def _strings(values: Iterable[object]) -> list[str]:
    """The non-empty strings among ``values``, stripped."""
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def host_names(url: str) -> list[str]:
    """Names a site goes by in its titles, from its host: welt.de -> "welt.de", "welt"."""
    host = host_of(url).removeprefix("www.")
    labels = [label for label in host.split(".")[:-1] if label != "www"]
    return [host, *labels] if host else []


# --- title and text ------------------------------------------------------------------------


def clean_text(value: str | None) -> str:
    """Text without invisible characters, stripped (None becomes '')."""
    return INVISIBLE.sub("", value or "").strip()


def clean_title(title: str, site_names: Sequence[str]) -> str:
    """The title without a site-name prefix or suffix, whitespace collapsed.

    An affix is cut only when it is one of ``site_names`` (compared without case, spaces and
    punctuation) and stands behind a separator such as " | " or " - "; trailing sections
    after the site name go with it ("Title | NDR.de - Nachrichten"). A title that is only a
    site name is kept as it is: some title is better than none.
    """
    title = " ".join(INVISIBLE.sub("", title).split())
    known = {_key(name) for name in site_names} - {""}
    parts = AFFIX_SEPARATOR.split(title)
    if len(parts) < 2 or not known:
        return title
    seps = AFFIX_SEPARATOR.findall(title)
    start = 1 if _key(parts[0]) in known else 0
    end = next((i for i in range(start + 1, len(parts)) if _key(parts[i]) in known), len(parts))
    kept = parts[start]
    for sep, part in zip(seps[start : end - 1], parts[start + 1 : end], strict=True):
        kept += sep + part
    return kept if kept.strip() else title


def _key(name: str) -> str:
    """A site name for comparison: lower-case letters and digits only."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def drop_leading_headline(text: str, headlines: Iterable[str]) -> str:
    """The text without the headline trafilatura keeps as one of its first lines.

    A line is the headline when its words equal a headline's, or end with them after at
    most a kicker's few words. Short lines above it (kicker, rubric) go with it; a long one
    is article text and stays.
    """
    heads = [h for h in (tuple(_words(x)) for x in headlines) if h]
    lines = text.split("\n")
    for index, line in enumerate(lines[:HEAD_LINES]):
        if _is_headline(tuple(_words(line)), heads):
            above = lines[:index]
            keep = [] if all(len(_words(x)) <= KICKER_WORDS for x in above) else above
            return "\n".join([*keep, *lines[index + 1 :]]).strip()
    return text


def _is_headline(words: tuple[str, ...], heads: Sequence[tuple[str, ...]]) -> bool:
    """Whether a line's words are a headline's, possibly after a kicker."""
    for head in heads:
        extra = len(words) - len(head)
        if words == head or (
            len(head) >= 3 and 0 < extra <= KICKER_WORDS and words[extra:] == head
        ):
            return True
    return False


def _words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return WORD.findall(text.lower())


# --- files (framewatch extract) ------------------------------------------------------------


def extract_file(
    path: Path, url: str | None = None, declared_lang: str | None = None
) -> FileExtraction:
    """Extract a saved page (``.html`` or ``.html.gz``, any encoding) for ``framewatch extract``.

    Without ``url`` the page's canonical link stands in for it; without either, trafilatura
    gets the file's ``file://`` URI and the result's ``url`` is None. Without
    ``declared_lang`` the page's ``<html lang>`` is the fallback for language detection.
    """
    try:
        encoding, html = read_html(path)
    except (OSError, EOFError, zlib.error) as err:  # missing, unreadable, broken gzip
        return _failed(path, url, f"cannot read {path.name}: {err}")
    try:
        tree = parse_html(html)
    except ExtractionError as err:
        return _failed(path, url, str(err))
    meta = read_meta(tree)
    page_url = url or meta.canonical
    stand_in = page_url or path.resolve().as_uri()
    fetched = FetchedPage("file", stand_in, stand_in, html, encoding, datetime.now(UTC))
    try:
        article = article_from_tree(tree, meta, fetched, declared_lang or meta.lang)
    except ExtractionError as err:
        return _failed(path, page_url, str(err))
    return _file_result(path, article, has_url=page_url is not None)


def _file_result(path: Path, article: Article, *, has_url: bool) -> FileExtraction:
    """A successful FileExtraction from the Article."""
    return FileExtraction(
        file=str(path),
        url=article.canonical_url if has_url else None,
        title=article.title,
        text=article.text,
        author=article.author,
        published_at=article.published_at.isoformat() if article.published_at else None,
        date_source=article.date_source,
        lang=article.lang or None,
    )


def _failed(path: Path, url: str | None, reason: str) -> FileExtraction:
    """A FileExtraction that records why nothing was extracted."""
    return FileExtraction(str(path), url, "", "", "", None, "none", None, reason)


def read_html(path: Path) -> tuple[str, str]:
    """(encoding, text) of a saved page, decoded as scrapy decodes a response.

    gzip is recognised by its magic bytes, not the name. The encoding comes from a BOM, then
    the page's <meta charset>; a page that declares none is tried as ASCII and UTF-8 and then
    guessed by charset-normalizer, as scrapy's TextResponse does.
    """
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    encoding, html = html_to_unicode(None, raw, auto_detect_fun=_detect_encoding)
    return encoding, html


def _detect_encoding(raw: bytes) -> str | None:
    """scrapy's fallback for pages without a declared encoding."""
    for encoding in ("ascii", "utf-8"):
        try:
            raw.decode(encoding)
        except UnicodeError:
            continue
        return resolve_encoding(encoding)
    match = from_bytes(raw).best()
    return resolve_encoding(match.encoding) if match else None
