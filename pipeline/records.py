"""The records that cross stage boundaries, in one place.

Each stage takes the previous record and returns the next one:
``Source -> FeedEntry -> FetchedPage (+ FetchOutcome) -> Article -> Document -> Framing``.
A field that a stage guarantees is not Optional; a field that can honestly be unknown
(a publication date a page does not state) is. Records are frozen so that no later stage can
quietly change what an earlier one decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Source:
    """One news outlet, as declared in ``sources/*.yaml``."""

    id: str
    name: str
    city: str
    country: str
    lang: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    verified: bool = True
    # Crawl policy for this outlet; None means the global default from Settings.
    allow_private: bool = False
    download_timeout: float | None = None  # seconds per request
    download_maxsize: int | None = None  # largest response accepted, bytes
    download_delay: float | None = None  # seconds between requests to the outlet's hosts
    concurrency: int | None = None  # parallel requests to the outlet's hosts
    max_retries: int | None = None  # retries of a 5xx or timeout
    homepages: tuple[str, ...] = ()  # pages whose <link rel="alternate"> feeds are discovered
    note: str = ""


@dataclass(frozen=True)
class FeedEntry:
    """An article link announced by a feed or sitemap."""

    source_id: str
    url: str
    feed_url: str
    title: str = ""
    published: datetime | None = None


@dataclass(frozen=True)
class FetchedPage:
    """An article page fetched with status 200, decoded to text by the crawler."""

    source_id: str
    url: str
    requested_url: str
    html: str
    encoding: str
    fetched_at: datetime
    feed_title: str = ""
    feed_published: datetime | None = None


@dataclass(frozen=True)
class FetchOutcome:
    """What happened to one requested URL; every request gets one, in ``fetch_log``.

    ``error`` says why a URL could not be used (None on success); ``note`` records an
    observation on a success, such as a legacy encoding or a syndicated copy.
    """

    source_id: str
    url: str
    kind: str  # homepage | feed | sitemap | article
    status: int | None
    error: str | None
    fetched_at: datetime
    note: str = ""
    # Validators a feed or sitemap answered with (for the next conditional request).
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FeedState:
    """What framewatch remembers about one feed or sitemap URL between runs (``feed_state``)."""

    url: str
    source_id: str
    etag: str | None
    last_modified: str | None
    last_full_fetch: datetime | None  # last 200 answer with a body
    last_success: datetime | None  # last usable answer (200 or 304)
    consecutive_failures: int
    disabled_at: datetime | None  # set after many consecutive failures; still probed
    last_attempt: datetime | None = None  # last request (the probe schedule needs it)
    last_error: str | None = None  # why the last failed request failed


@dataclass(frozen=True)
class FeedPoll:
    """How the crawler treats one feed or sitemap URL in this run, decided from its FeedState.

    Validators are sent as If-None-Match / If-Modified-Since; they are left out (a full
    fetch) when the feed has not been fetched in full for too long, because some servers
    answer 304 from stale headers forever.
    """

    url: str
    skip: bool = False  # disabled and not due for a probe
    etag: str | None = None
    last_modified: str | None = None
    reason: str = ""  # recorded in the fetch log: why skipped, or why fetched in full


@dataclass(frozen=True)
class SourceHealth:
    """One outlet's health over the recent window, for ``sources check`` and the report."""

    source_id: str
    name: str
    city: str
    last_success: datetime | None  # last usable feed/sitemap answer
    last_article: datetime | None  # last new article stored
    consecutive_failures: int  # of its worst feed or sitemap
    feeds_disabled: int
    articles_per_day: float  # new articles per day over the recent window
    baseline_per_day: float | None  # over the weeks before; None without enough history
    extraction_failures: int  # pages fetched but yielding no article, recent window
    pages_fetched: int  # article pages fetched, recent window
    flags: tuple[str, ...]  # failing | silent | disabled | extraction | never_succeeded
    status: str  # ok | warning | failing


@dataclass(frozen=True)
class Article:
    """An extracted article: clean text plus the metadata the reports need."""

    id: str
    url: str
    requested_url: str  # as the feed announced it, before redirects
    canonical_url: str
    source_id: str
    lang: str
    declared_lang: str
    title: str
    text: str
    author: str
    published_at: datetime | None
    date_source: str  # feed | page:jsonld | page:meta | page:htmldate | none
    fetched_at: datetime
    content_hash: str


@dataclass(frozen=True)
class Document:
    """What the classifier reads: an Article, or any text handed to ``framewatch classify``."""

    id: str
    lang: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class Cue:
    """A word that carries a frame inside its evidence sentence (offsets into the article)."""

    start: int
    end: int
    text: str
    weight: float  # share of the sentence's evidence for the label (attribution), or 1.0
    source: str  # attribution | lexicon


@dataclass(frozen=True)
class Evidence:
    """One sentence that supports a label, with character offsets into the article text."""

    label: str
    score: float
    start: int
    end: int
    text: str
    cues: tuple[Cue, ...] = ()


@dataclass(frozen=True)
class Quote:
    """A quotation in an article and who said it, as far as the text tells.

    Offsets are characters into the article text; speaker offsets are -1 when no speaker
    was found. ``speaker_category`` is one of migrant, official, police, ngo, expert,
    citizen or unknown.
    """

    start: int
    end: int
    text: str
    speaker: str
    speaker_start: int
    speaker_end: int
    speaker_category: str
    cue: str  # the speech verb or colon/quote pattern that attributed it


@dataclass(frozen=True)
class TermHit:
    """A lexicon match: migration term, dehumanising metaphor or loaded term."""

    kind: str  # migration_term | metaphor | loaded_term
    term: str
    start: int
    end: int
    text: str
    category: str = ""  # metaphor kind (water, war, ...) or the guide for a loaded term
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Framing:
    """The classifier's decision on one text, with the evidence behind every label."""

    article_id: str
    lang: str
    migration: bool
    migration_score: float
    frames: dict[str, float]
    labels: tuple[str, ...]
    group: str  # threat | victim | hero | none: the group of the strongest assigned label
    hostile: float
    evidence: tuple[Evidence, ...]
    terms: tuple[TermHit, ...] = field(default=())
    quotes: tuple[Quote, ...] = field(default=())
    model_version: str = ""
    # per label: sentences whose own probability passed the label's sentence threshold
    evidence_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Annotation:
    """A reviewer's correction of one text: training data for the next ``framewatch train``.

    None means "not judged": a reviewer may correct only the frames, or only hostility.
    """

    id: str
    reviewer: str
    text: str
    lang: str
    article_id: str | None = None
    migration: bool | None = None
    group: str | None = None
    labels: tuple[str, ...] | None = None
    hostile: bool | None = None
    note: str = ""


@dataclass(frozen=True)
class AlertEvidence:
    """One example article behind an alert: what a reader can open and check."""

    article_id: str
    title: str
    url: str
    outlet: str
    published_at: datetime | None
    sentence: str  # the frame's evidence sentence, or the sentence around the metaphor


@dataclass(frozen=True)
class Alert:
    """A frame or metaphor whose share of a city's or an outlet's migration coverage rose
    significantly against its baseline, with the figures, evidence and SQL behind it.

    ``scope`` is city or outlet (then ``source_id`` and ``outlet`` name it); ``kind`` is frame
    (``subject`` a label code) or metaphor (``subject`` a lexicon entry). ``lang`` is the
    language the city's messages are written in. The last four fields record delivery.
    """

    id: str
    period_start: datetime
    period_end: datetime
    scope: str  # city | outlet
    city: str
    source_id: str | None
    outlet: str | None
    lang: str
    kind: str  # frame | metaphor
    subject: str
    articles: int
    total: int
    share: float
    baseline_articles: int
    baseline_total: int
    baseline_share: float
    p_value: float | None
    evidence: tuple[AlertEvidence, ...]
    model_versions: tuple[str, ...]
    query: str
    created_at: datetime | None = None
    notified_at: datetime | None = None
    channels: tuple[str, ...] = ()  # email | webhook: channels that delivered it
    notify_error: str | None = None
