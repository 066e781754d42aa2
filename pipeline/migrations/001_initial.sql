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
       a.duplicate_of, a.model_version
FROM articles a JOIN sources s ON s.id = a.source_id
WHERE a.is_migration;

CREATE VIEW weekly_frames AS
WITH m AS (
    -- A story republished by the same outlet counts once; a wire story syndicated by two
    -- outlets counts once for each of them.
    SELECT a.id, a.source_id, a.city, a.lang,
           strftime(a.published_at, '%G-W%V') AS week
    FROM migration_articles a
    LEFT JOIN articles d ON d.id = a.duplicate_of
    WHERE a.published_at IS NOT NULL AND (d.id IS NULL OR d.source_id <> a.source_id)
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
