-- 001: the first schema. Every column is documented in docs/schema.md.
CREATE TABLE sources (
    id          VARCHAR PRIMARY KEY,   -- outlet id from sources/*.yaml
    name        VARCHAR NOT NULL,
    city        VARCHAR NOT NULL,
    country     VARCHAR NOT NULL,      -- ISO 3166-1 alpha-2
    lang        VARCHAR NOT NULL,      -- declared language (ISO 639-1)
    feeds       VARCHAR[],
    sitemaps    VARCHAR[],
    verified    BOOLEAN NOT NULL,      -- false: feed URLs not yet checked from a machine online
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE runs (
    id                  VARCHAR PRIMARY KEY,
    started_at          TIMESTAMP NOT NULL,
    finished_at         TIMESTAMP,
    status              VARCHAR NOT NULL,     -- running | completed | failed
    sources_file        VARCHAR,
    pages_fetched       INTEGER,
    fetch_failures      INTEGER,
    articles_new        INTEGER,
    articles_classified INTEGER,
    model_version       VARCHAR,
    note                VARCHAR
);

CREATE TABLE fetch_log (
    run_id      VARCHAR NOT NULL,
    source_id   VARCHAR,
    url         VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,      -- feed | sitemap | article
    status      INTEGER,               -- HTTP status; NULL when no response came
    error       VARCHAR,               -- why the URL could not be used; NULL on success
    note        VARCHAR,               -- an observation on a success (legacy encoding, copy)
    fetched_at  TIMESTAMP NOT NULL
);

CREATE TABLE articles (
    id              VARCHAR PRIMARY KEY,  -- sha1 of the canonical URL, 16 hex digits
    url             VARCHAR NOT NULL,     -- URL as fetched (after redirects)
    requested_url   VARCHAR NOT NULL,     -- URL as the feed or sitemap announced it
    canonical_url   VARCHAR NOT NULL,
    source_id       VARCHAR NOT NULL,
    lang            VARCHAR NOT NULL,     -- detected from the text
    declared_lang   VARCHAR NOT NULL,     -- the outlet's language
    title           VARCHAR NOT NULL,
    text            VARCHAR NOT NULL,
    author          VARCHAR NOT NULL,
    published_at    TIMESTAMP,            -- UTC; NULL when neither feed nor page states it
    date_source     VARCHAR NOT NULL,     -- feed | page | none
    fetched_at      TIMESTAMP NOT NULL,
    content_hash    VARCHAR NOT NULL,     -- sha1 of the normalised text
    duplicate_of    VARCHAR,              -- id of the first article with the same text
    run_id          VARCHAR NOT NULL,
    migration_score DOUBLE,               -- NULL until classified
    is_migration    BOOLEAN,
    hostile_score   DOUBLE,
    frame_group     VARCHAR,              -- threat | victim | hero | none
    model_version   VARCHAR,
    classified_at   TIMESTAMP
);

CREATE TABLE article_frames (
    article_id    VARCHAR NOT NULL,
    frame         VARCHAR NOT NULL,
    score         DOUBLE NOT NULL,        -- article-level probability-like score, 0..1
    assigned      BOOLEAN NOT NULL,       -- score passed the label's threshold
    evidence      VARCHAR,                -- the sentence with the highest score
    start_char    INTEGER,                -- offsets of that sentence in articles.text
    end_char      INTEGER,
    model_version VARCHAR NOT NULL,
    PRIMARY KEY (article_id, frame)
);

CREATE TABLE article_terms (
    article_id    VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,       -- migration_term | metaphor | loaded_term
    term          VARCHAR NOT NULL,       -- the lexicon entry
    matched       VARCHAR NOT NULL,       -- the words as they stand in the text
    start_char    INTEGER NOT NULL,
    end_char      INTEGER NOT NULL,
    category      VARCHAR,                -- metaphor kind, or the guide of a loaded term
    alternatives  VARCHAR[]
);

-- Analysts' views: stable names and columns; docs/schema.md documents them.
CREATE VIEW migration_articles AS
SELECT a.id, a.url, a.source_id, s.name AS source_name, s.city, s.country, a.lang,
       a.title, a.published_at, a.migration_score, a.hostile_score, a.frame_group,
       a.duplicate_of,
       -- A text an outlet publishes twice counts once for that outlet; a wire story
       -- syndicated by two outlets counts once for each.
       row_number() OVER (PARTITION BY a.source_id, a.content_hash
                          ORDER BY a.fetched_at, a.id) = 1 AS counted,
       a.model_version
FROM articles a JOIN sources s ON s.id = a.source_id
WHERE a.is_migration;

CREATE VIEW weekly_frames AS
WITH m AS (
    SELECT id, source_id, city, lang, strftime(published_at, '%G-W%V') AS week
    FROM migration_articles
    WHERE published_at IS NOT NULL AND counted
), totals AS (
    SELECT week, city, source_id, lang, count(*) AS migration_articles
    FROM m GROUP BY ALL
)
SELECT m.week, m.city, m.source_id AS source, m.lang, f.frame,
       count(*) AS articles,
       any_value(t.migration_articles) AS migration_articles,
       count(*) / any_value(t.migration_articles) AS share
FROM m
JOIN article_frames f ON f.article_id = m.id AND f.assigned
JOIN totals t USING (week, city, source_id, lang)
GROUP BY m.week, m.city, m.source_id, m.lang, f.frame;

-- Column documentation lives in the database itself (duckdb_columns().comment);
-- docs/schema.md is generated from it.
COMMENT ON COLUMN sources.id IS 'outlet id from sources/*.yaml';
COMMENT ON COLUMN sources.country IS 'ISO 3166-1 alpha-2';
COMMENT ON COLUMN sources.lang IS 'declared language (ISO 639-1)';
COMMENT ON COLUMN sources.verified IS 'false: feed URLs not yet checked from a machine online';
COMMENT ON COLUMN runs.status IS 'running | completed | failed';
COMMENT ON COLUMN fetch_log.kind IS 'feed | sitemap | article';
COMMENT ON COLUMN fetch_log.status IS 'HTTP status; NULL when no response came';
COMMENT ON COLUMN fetch_log.error IS 'why the URL could not be used; NULL on success';
COMMENT ON COLUMN fetch_log.note IS 'an observation on a success (legacy encoding, copy)';
COMMENT ON COLUMN articles.id IS 'sha1 of the canonical URL, 16 hex digits';
COMMENT ON COLUMN articles.url IS 'URL as fetched (after redirects)';
COMMENT ON COLUMN articles.lang IS 'detected from the text';
COMMENT ON COLUMN articles.declared_lang IS 'the outlet''s language';
COMMENT ON COLUMN articles.published_at IS 'UTC; NULL when neither feed nor page states it';
COMMENT ON COLUMN articles.date_source IS 'feed | page | none';
COMMENT ON COLUMN articles.content_hash IS 'sha1 of the normalised text';
COMMENT ON COLUMN articles.duplicate_of IS 'id of the first article with the same text';
COMMENT ON COLUMN articles.migration_score IS 'NULL until classified';
COMMENT ON COLUMN articles.frame_group IS 'threat | victim | hero | none';
COMMENT ON COLUMN article_frames.score IS 'article-level probability-like score, 0..1';
COMMENT ON COLUMN article_frames.assigned IS 'score passed the label''s threshold';
COMMENT ON COLUMN article_frames.evidence IS 'the sentence with the highest score';
COMMENT ON COLUMN article_frames.start_char IS 'offsets of that sentence in articles.text';
COMMENT ON COLUMN article_terms.kind IS 'migration_term | metaphor | loaded_term';
COMMENT ON COLUMN article_terms.term IS 'the lexicon entry';
COMMENT ON COLUMN article_terms.matched IS 'the words as they stand in the text';
COMMENT ON COLUMN article_terms.category IS 'metaphor kind, or the guide of a loaded term';
COMMENT ON COLUMN sources.feeds IS 'RSS/Atom feed URLs';
COMMENT ON COLUMN sources.sitemaps IS 'XML / Google News sitemap URLs';
COMMENT ON COLUMN sources.updated_at IS 'when the entry was last written from the sources file';
COMMENT ON COLUMN runs.id IS 'run id (12 hex digits)';
COMMENT ON COLUMN runs.started_at IS 'UTC';
COMMENT ON COLUMN runs.finished_at IS 'UTC; NULL while running or after a crash';
COMMENT ON COLUMN runs.sources_file IS 'the sources YAML of the run';
COMMENT ON COLUMN runs.pages_fetched IS 'article pages fetched with status 200';
COMMENT ON COLUMN runs.fetch_failures IS 'requests or pages that could not be used (see fetch_log)';
COMMENT ON COLUMN runs.articles_new IS 'articles stored for the first time';
COMMENT ON COLUMN runs.articles_classified IS 'articles (re)classified in this run';
COMMENT ON COLUMN runs.model_version IS 'encoder and heads used';
COMMENT ON COLUMN runs.note IS 'free text';
COMMENT ON COLUMN fetch_log.run_id IS 'the run that made the request';
COMMENT ON COLUMN fetch_log.source_id IS 'outlet';
COMMENT ON COLUMN fetch_log.url IS 'requested or final URL';
COMMENT ON COLUMN fetch_log.fetched_at IS 'UTC';
COMMENT ON COLUMN articles.source_id IS 'outlet (sources.id)';
COMMENT ON COLUMN articles.title IS 'headline';
COMMENT ON COLUMN articles.text IS 'extracted body text, one paragraph per line';
COMMENT ON COLUMN articles.author IS 'byline as extracted, empty when none';
COMMENT ON COLUMN articles.fetched_at IS 'UTC';
COMMENT ON COLUMN articles.run_id IS 'run that stored it first';
COMMENT ON COLUMN articles.is_migration IS 'about migration (relevance decision); NULL until classified';
COMMENT ON COLUMN articles.hostile_score IS 'hostility toward migrants, 0..1; 0 for non-migration articles';
COMMENT ON COLUMN articles.model_version IS 'encoder + heads that classified it';
COMMENT ON COLUMN articles.classified_at IS 'UTC';
COMMENT ON COLUMN article_frames.article_id IS 'articles.id';
COMMENT ON COLUMN article_frames.frame IS 'label code (models/labels.yaml)';
COMMENT ON COLUMN article_frames.model_version IS 'encoder + heads';
COMMENT ON COLUMN article_terms.article_id IS 'articles.id';
COMMENT ON COLUMN article_terms.start_char IS 'offset in articles.text';
COMMENT ON COLUMN article_terms.end_char IS 'end offset (exclusive)';
COMMENT ON COLUMN article_terms.alternatives IS 'suggested alternatives for a loaded term';
COMMENT ON COLUMN article_frames.end_char IS 'end offset (exclusive)';

COMMENT ON VIEW migration_articles IS 'Articles classified as about migration, with outlet and city.';
COMMENT ON VIEW weekly_frames IS 'Per ISO week, city, outlet and language: migration articles carrying each frame and their share. A story republished by the same outlet counts once; a syndicated story counts once per outlet.';
COMMENT ON COLUMN weekly_frames.week IS 'ISO week of publication, e.g. 2026-W47';
COMMENT ON COLUMN weekly_frames.city IS 'city of the outlet';
COMMENT ON COLUMN weekly_frames.source IS 'outlet id';
COMMENT ON COLUMN weekly_frames.lang IS 'language of the articles';
COMMENT ON COLUMN weekly_frames.frame IS 'frame code';
COMMENT ON COLUMN weekly_frames.articles IS 'migration articles with this frame assigned';
COMMENT ON COLUMN weekly_frames.migration_articles IS 'all migration articles of that week, city, outlet and language';
COMMENT ON COLUMN weekly_frames.share IS 'articles / migration_articles';
COMMENT ON COLUMN articles.canonical_url IS 'rel=canonical / og:url on the same host, tracking parameters removed';
COMMENT ON COLUMN sources.name IS 'outlet name';
COMMENT ON COLUMN sources.city IS 'city the outlet covers';
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
COMMENT ON COLUMN migration_articles.counted IS 'first copy of its text in this outlet: the copy trend figures count';
COMMENT ON COLUMN migration_articles.model_version IS 'encoder + heads that classified it';
COMMENT ON COLUMN articles.requested_url IS 'URL as the feed or sitemap announced it, before redirects';
