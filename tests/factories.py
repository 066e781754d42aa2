"""Records for tests, with every field a test does not care about filled in plausibly."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.records import Article

PUBLISHED = datetime(2026, 11, 20, 8, tzinfo=UTC)
FETCHED = datetime(2026, 11, 21, tzinfo=UTC)


def make_article(
    id: str,
    source_id: str = "s1",
    text: str = "Ein Text über die Stadt. " * 20,
    *,
    title: str | None = None,
    url: str | None = None,
    published_at: datetime | None = PUBLISHED,
    fetched_at: datetime = FETCHED,
    content_hash: str | None = None,
    author: str = "",
) -> Article:
    """A stored-looking German article, by default at http://<source_id>/<id>."""
    url = url or f"http://{source_id}/{id}"
    return Article(
        id=id,
        url=url,
        requested_url=url,
        canonical_url=url,
        source_id=source_id,
        lang="de",
        declared_lang="de",
        title=title or f"Titel {id}",
        text=text,
        author=author,
        published_at=published_at,
        date_source="feed",
        fetched_at=fetched_at,
        content_hash=content_hash or f"h{hash(text)}",
    )
