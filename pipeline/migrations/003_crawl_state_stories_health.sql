-- Issue 4: incremental crawl state, raw HTML, near-duplicate stories, source health.
-- Applied in place on existing databases: only CREATE, ALTER and UPDATE; no data is dropped.

CREATE TABLE feed_state (
    url                  VARCHAR PRIMARY KEY,
    source_id            VARCHAR NOT NULL,
    etag                 VARCHAR,
    last_modified        VARCHAR,
    last_full_fetch      TIMESTAMP,
    last_success         TIMESTAMP,
    last_attempt         TIMESTAMP,
    last_error           VARCHAR,
    consecutive_failures INTEGER NOT NULL,
    disabled_at          TIMESTAMP,
    updated_at           TIMESTAMP NOT NULL
);

-- Raw HTML is compressed with the standard library's gzip (zlib's deflate with a gzip
-- header): no extra dependency, and a BLOB that any gzip tool reads once exported. News
-- pages full of repeated markup and inline scripts shrink 5-8x; content-heavy pages about 4x.
-- zstd would be faster but needs a package (see pipeline/store.py, GZIP_LEVEL).
CREATE TABLE raw_pages (
    url_id         VARCHAR PRIMARY KEY,
    url            VARCHAR NOT NULL,
    requested_url  VARCHAR NOT NULL,
    source_id      VARCHAR NOT NULL,
    encoding       VARCHAR NOT NULL,
    fetched_at     TIMESTAMP NOT NULL,
    feed_title     VARCHAR NOT NULL,
    feed_published TIMESTAMP,
    html_bytes     BIGINT NOT NULL,
    html_gz        BLOB,
    dropped        VARCHAR,
    article_id     VARCHAR,
    run_id         VARCHAR
);

CREATE TABLE article_signatures (
    article_id VARCHAR PRIMARY KEY,
    minhash    UINTEGER[]
);

-- Keys of the URLs already handled, per outlet, handed to the crawler instead of URLs
-- (pipeline/store.py, known_keys). Rows stored before this table existed are keyed the
-- first time known_keys finds them without their own key.
CREATE TABLE url_keys (
    key       VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,
    PRIMARY KEY (key, source_id)
);

ALTER TABLE articles ADD COLUMN story_id VARCHAR;

-- Backfill: exact copies form one story named after their first copy, which is exactly what
-- the old `counted` (one per outlet and content_hash) counted, so no figure changes on
-- upgrade. Near-duplicates among old articles are not looked for; their signatures are
-- computed the first time they fall in the window of a new run.
UPDATE articles SET story_id = first.id
FROM (SELECT content_hash, arg_min(id, (fetched_at, id)) AS id
      FROM articles GROUP BY content_hash) AS first
WHERE articles.content_hash = first.content_hash;

-- Same columns as before plus story_id (last, so positional readers are unaffected).
-- weekly_frames and article_voices read `counted` from this view and follow it.
CREATE OR REPLACE VIEW migration_articles AS
SELECT a.id, a.url, a.source_id, s.name AS source_name, s.city, s.country, a.lang,
       a.title, a.published_at, a.migration_score, a.hostile_score, a.frame_group,
       a.duplicate_of,
       -- One story counts once per outlet: the exact or near copies an outlet runs again
       -- (a new URL, small edits) count once there; a story syndicated by several outlets
       -- counts once in each. A row without story_id (written outside the store) is its
       -- own story.
       row_number() OVER (PARTITION BY a.source_id, coalesce(a.story_id, a.id)
                          ORDER BY a.fetched_at, a.id) = 1 AS counted,
       a.model_version,
       coalesce(a.story_id, a.id) AS story_id
FROM articles a JOIN sources s ON s.id = a.source_id
WHERE a.is_migration;

COMMENT ON TABLE feed_state IS 'One row per feed, sitemap or home page URL: validators for conditional requests and the failure streak that disables a dead feed (pipeline/feeds.py plans each poll from it).';
COMMENT ON COLUMN feed_state.url IS 'the URL as requested (declared, discovered on a home page, or listed in a sitemap index)';
COMMENT ON COLUMN feed_state.source_id IS 'outlet (sources.id)';
COMMENT ON COLUMN feed_state.etag IS 'ETag of the last full answer, sent back as If-None-Match; NULL when the server sent none';
COMMENT ON COLUMN feed_state.last_modified IS 'Last-Modified of the last full answer, sent back as If-Modified-Since; NULL when none';
COMMENT ON COLUMN feed_state.last_full_fetch IS 'last 200 answer (UTC); validators older than feed_full_fetch_hours are not sent';
COMMENT ON COLUMN feed_state.last_success IS 'last usable answer, 200 or 304 (UTC)';
COMMENT ON COLUMN feed_state.last_attempt IS 'last request, successful or not; skipped polls do not count (UTC)';
COMMENT ON COLUMN feed_state.last_error IS 'why the last failed request failed (kept after a success, for the record)';
COMMENT ON COLUMN feed_state.consecutive_failures IS 'failed requests since the last usable answer';
COMMENT ON COLUMN feed_state.disabled_at IS 'when consecutive_failures reached feed_disable_after (UTC); the feed is then only probed every feed_probe_days, and a success clears it';
COMMENT ON COLUMN feed_state.updated_at IS 'when the row was last written (UTC)';

COMMENT ON TABLE raw_pages IS 'Raw HTML of every fetched article page, gzip-compressed, so `framewatch reextract` can rerun extraction without fetching again.';
COMMENT ON COLUMN raw_pages.url_id IS 'sha1 of url, 16 hex digits; a refetch of the same URL replaces the row';
COMMENT ON COLUMN raw_pages.url IS 'URL as fetched (after redirects); articles.url of the article it yielded';
COMMENT ON COLUMN raw_pages.requested_url IS 'URL as the feed or sitemap announced it, before redirects';
COMMENT ON COLUMN raw_pages.source_id IS 'outlet (sources.id)';
COMMENT ON COLUMN raw_pages.encoding IS 'the encoding the crawler decoded the page from';
COMMENT ON COLUMN raw_pages.fetched_at IS 'UTC';
COMMENT ON COLUMN raw_pages.feed_title IS 'title the feed or sitemap gave the link, empty when none';
COMMENT ON COLUMN raw_pages.feed_published IS 'publication time the feed or sitemap gave (UTC); NULL when none';
COMMENT ON COLUMN raw_pages.html_bytes IS 'size of the decoded HTML as UTF-8, uncompressed';
COMMENT ON COLUMN raw_pages.html_gz IS 'the decoded HTML as UTF-8, gzip-compressed; NULL when dropped';
COMMENT ON COLUMN raw_pages.dropped IS 'why html_gz is NULL: larger than raw_html_maxsize, or past raw_html_retention_days; NULL when kept';
COMMENT ON COLUMN raw_pages.article_id IS 'articles.id the page yielded; NULL when extraction failed (reextract retries these)';
COMMENT ON COLUMN raw_pages.run_id IS 'the run that fetched it; NULL when stored outside a run';

COMMENT ON TABLE article_signatures IS 'MinHash signature of each article''s text (pipeline/dedup.py: 5-word shingles, 128 permutations), for near-duplicate stories.';
COMMENT ON COLUMN article_signatures.article_id IS 'articles.id';
COMMENT ON COLUMN article_signatures.minhash IS '128 MinHash values (datasketch affine32, seed 1); NULL when the text is too short (under 50 shingles) for near-duplicate detection';

COMMENT ON TABLE url_keys IS 'Keys of every URL form already handled per outlet (articles: url, requested_url, canonical_url; raw_pages: url, requested_url), so the crawler skips them without the URLs themselves.';
COMMENT ON COLUMN url_keys.key IS 'pipeline/urls.py url_key: 16 hex digits of the sha1 of the canonical URL; also each row''s own key (articles.id, raw_pages.url_id), which marks it as keyed';
COMMENT ON COLUMN url_keys.source_id IS 'outlet (sources.id)';

COMMENT ON COLUMN articles.story_id IS 'id of the first article of its story: the same text, or a near-duplicate (estimated Jaccard >= 0.5 of 5-word shingles) fetched within 30 days';
COMMENT ON COLUMN articles.duplicate_of IS 'id of the first article with the same text (exact copy; near copies share story_id instead)';
COMMENT ON COLUMN fetch_log.kind IS 'homepage | feed | sitemap | article';
COMMENT ON COLUMN fetch_log.note IS 'an observation: legacy encoding, copy or same story, not modified, why a poll was skipped or fetched in full';

COMMENT ON VIEW migration_articles IS 'Articles classified as about migration, with outlet and city. counted marks the one article per story and outlet that trend figures count.';
COMMENT ON COLUMN migration_articles.id IS 'articles.id';
COMMENT ON COLUMN migration_articles.url IS 'articles.url';
COMMENT ON COLUMN migration_articles.source_id IS 'outlet id';
COMMENT ON COLUMN migration_articles.source_name IS 'outlet name';
COMMENT ON COLUMN migration_articles.city IS 'city of the outlet';
COMMENT ON COLUMN migration_articles.country IS 'country of the outlet';
COMMENT ON COLUMN migration_articles.lang IS 'language detected from the text';
COMMENT ON COLUMN migration_articles.title IS 'headline';
COMMENT ON COLUMN migration_articles.published_at IS 'UTC; NULL when unknown';
COMMENT ON COLUMN migration_articles.migration_score IS 'relevance score 0..1';
COMMENT ON COLUMN migration_articles.hostile_score IS 'hostility toward migrants 0..1';
COMMENT ON COLUMN migration_articles.frame_group IS 'threat | victim | hero | none';
COMMENT ON COLUMN migration_articles.duplicate_of IS 'first article with the same text, if any';
COMMENT ON COLUMN migration_articles.counted IS 'the first (by fetched_at, then id) of this outlet''s migration articles in its story: a story republished by the outlet (new URL, small edits) counts once there; a story syndicated by several outlets counts once per outlet';
COMMENT ON COLUMN migration_articles.model_version IS 'encoder + heads that classified it';
COMMENT ON COLUMN migration_articles.story_id IS 'articles.story_id: the first article of its story (exact or near copy)';

COMMENT ON VIEW weekly_frames IS 'Per ISO week, city, outlet and language: migration articles carrying each frame and their share, counting each story once per outlet (migration_articles.counted): a story republished by the same outlet, as an exact or a near copy, counts once; a syndicated story counts once per outlet.';
COMMENT ON COLUMN weekly_frames.articles IS 'counted migration articles (one per story) with this frame assigned';
COMMENT ON COLUMN weekly_frames.migration_articles IS 'counted migration articles (one per story) of that week, city, outlet and language';
COMMENT ON VIEW article_voices IS 'Quotations per counted migration article (one per story and outlet) and speaker category: who gets to speak.';
COMMENT ON COLUMN articles.date_source IS 'where published_at came from: feed | page:jsonld | page:meta | page:htmldate | none (older rows: page)';
