-- Issue 6: a versioned interface for analysts, the schema `v1`.
-- Applied in place on existing databases: only CREATE and COMMENT; no data is touched.
--
-- The contract: a view or column of v1 never disappears, is never renamed and never changes
-- meaning or type. New columns may be added at the end of a view and new views beside the
-- others; a change that breaks the contract creates a schema v2 next to v1, and v1 stays.
-- tests/fixtures/v1_contract.json pins every view's columns and types.
--
-- The views are thin layers over the main views (migration_articles, weekly_frames,
-- article_voices), so the counting rules (one article per story and outlet) live in one
-- place. Objects of the main schema are named `main.x`: a view of schema v1 that names
-- `x` alone would look for it in v1 (and in the default catalog when the database file is
-- ATTACHed under another name). Columns are always listed, never `*`, so a column added to
-- a table by a later migration cannot change a v1 view.
--
-- What v1 leaves out on purpose: article texts, quotations and speakers' names. Exports
-- leave the database, and with it the retention rules for texts; the counts analysts need
-- (who is quoted, how often) do not need them. The evidence sentence of each frame (one
-- sentence, shown in reports too) is kept so a figure can be checked against its wording.

CREATE SCHEMA v1;

CREATE VIEW v1.api_info AS
SELECT 'v1' AS api,
       (SELECT max(version) FROM main.schema_migrations) AS schema_version,
       'Views and columns of schema v1 never disappear, are never renamed and never change '
       || 'meaning or type. New columns may be added at the end of a view and new views '
       || 'beside the others, so read columns by name. A change that would break this '
       || 'creates a schema v2 beside v1, and v1 keeps answering as before. week is the ISO '
       || 'week of publication (''2026-W47''), or ''unknown'' when the publication date is not known; '
       || 'city is the outlet''s city. Counted figures take one article per story and outlet '
       || '(counted = true). Article texts, quotations and speakers'' names are not part of v1.'
       AS contract;

CREATE VIEW v1.articles AS
SELECT a.id, a.url, a.title, a.published_at,
       -- 'unknown' rather than NULL: the week is a partition of the Parquet export, and a
       -- NULL partition becomes __HIVE_DEFAULT_PARTITION__, which pandas cannot read back.
       coalesce(strftime(a.published_at, '%G-W%V'), 'unknown') AS week,
       s.city, s.country, a.source_id, s.name AS source_name, a.lang,
       a.is_migration, a.migration_score, a.hostile_score, a.frame_group,
       coalesce(m.counted, false) AS counted,
       a.duplicate_of,
       -- as in migration_articles: a row without story_id is its own story
       coalesce(a.story_id, a.id) AS story_id,
       a.model_version
FROM main.articles a
JOIN main.sources s ON s.id = a.source_id
LEFT JOIN main.migration_articles m ON m.id = a.id;

CREATE VIEW v1.frames AS
SELECT f.article_id, a.week, a.city, a.source_id, a.lang, a.published_at, a.counted,
       f.frame, f.score, f.assigned, f.evidence, f.evidence_count, f.model_version
FROM main.article_frames f
JOIN v1.articles a ON a.id = f.article_id AND a.is_migration;

CREATE VIEW v1.terms AS
SELECT t.article_id, a.week, a.city, a.source_id, a.lang, a.published_at, a.counted,
       t.kind, t.term, t.matched, t.category, t.alternatives
FROM main.article_terms t
JOIN v1.articles a ON a.id = t.article_id AND a.is_migration;

CREATE VIEW v1.voices AS
SELECT v.article_id, a.week, a.city, a.source_id, a.lang, a.published_at,
       v.speaker_category, v.quotes
FROM main.article_voices v
JOIN v1.articles a ON a.id = v.article_id;

CREATE VIEW v1.weekly_frames AS
SELECT w.week, w.city, w.source AS source_id, w.lang, w.frame, w.articles,
       w.migration_articles, w.share
FROM main.weekly_frames w;

CREATE VIEW v1.runs AS
SELECT r.id, r.started_at, r.finished_at, r.status, r.pages_fetched, r.fetch_failures,
       r.articles_new, r.articles_classified, r.model_version
FROM main.runs r;

COMMENT ON VIEW v1.api_info IS 'One row: the version of the analyst interface and its stability contract.';
COMMENT ON COLUMN v1.api_info.api IS 'interface version: v1';
COMMENT ON COLUMN v1.api_info.schema_version IS 'highest migration applied to this database (schema_migrations.version)';
COMMENT ON COLUMN v1.api_info.contract IS 'what stays stable in v1';

COMMENT ON VIEW v1.articles IS 'Every stored article with its outlet, ISO week and classification (no text). Migration figures: WHERE is_migration AND counted.';
COMMENT ON COLUMN v1.articles.id IS 'article id: sha1 of the canonical URL, 16 hex digits';
COMMENT ON COLUMN v1.articles.url IS 'URL as fetched (after redirects)';
COMMENT ON COLUMN v1.articles.title IS 'headline (scraped text)';
COMMENT ON COLUMN v1.articles.published_at IS 'publication time, UTC; NULL when neither feed nor page states it';
COMMENT ON COLUMN v1.articles.week IS 'ISO week of publication, e.g. 2026-W47; ''unknown'' when published_at is NULL';
COMMENT ON COLUMN v1.articles.city IS 'city the outlet covers';
COMMENT ON COLUMN v1.articles.country IS 'country of the outlet, ISO 3166-1 alpha-2';
COMMENT ON COLUMN v1.articles.source_id IS 'outlet id (sources/*.yaml)';
COMMENT ON COLUMN v1.articles.source_name IS 'outlet name';
COMMENT ON COLUMN v1.articles.lang IS 'language detected from the text, ISO 639-1';
COMMENT ON COLUMN v1.articles.is_migration IS 'about migration; NULL until classified';
COMMENT ON COLUMN v1.articles.migration_score IS 'relevance score 0..1; NULL until classified';
COMMENT ON COLUMN v1.articles.hostile_score IS 'hostility toward migrants 0..1; 0 for articles not about migration';
COMMENT ON COLUMN v1.articles.frame_group IS 'threat | victim | hero | none: group of the strongest assigned frame';
COMMENT ON COLUMN v1.articles.counted IS 'true for the one migration article per story and outlet that trend figures count; false for republished copies and for articles not about migration';
COMMENT ON COLUMN v1.articles.duplicate_of IS 'id of the first article with the same text, if any (exact copy)';
COMMENT ON COLUMN v1.articles.story_id IS 'id of the first article of its story (exact or near copy); the article''s own id when it starts one';
COMMENT ON COLUMN v1.articles.model_version IS 'encoder + heads that classified it; NULL until classified';

COMMENT ON VIEW v1.frames IS 'One row per migration article and frame code: every code is scored, assigned or not, so avg(assigned::INT) over counted rows is the share of articles carrying the frame.';
COMMENT ON COLUMN v1.frames.article_id IS 'v1.articles.id';
COMMENT ON COLUMN v1.frames.week IS 'v1.articles.week: ISO week of publication or ''unknown''';
COMMENT ON COLUMN v1.frames.city IS 'city of the outlet';
COMMENT ON COLUMN v1.frames.source_id IS 'outlet id';
COMMENT ON COLUMN v1.frames.lang IS 'language of the article, ISO 639-1';
COMMENT ON COLUMN v1.frames.published_at IS 'UTC; NULL when unknown';
COMMENT ON COLUMN v1.frames.counted IS 'v1.articles.counted: the copy of its story that trend figures count';
COMMENT ON COLUMN v1.frames.frame IS 'frame code (models/labels.yaml); its group is the part before the first underscore';
COMMENT ON COLUMN v1.frames.score IS 'calibrated article probability of the frame, 0..1';
COMMENT ON COLUMN v1.frames.assigned IS 'the frame is assigned: score passed the frame''s threshold with at least one evidence sentence';
COMMENT ON COLUMN v1.frames.evidence IS 'the sentence with the highest probability of the frame (scraped text)';
COMMENT ON COLUMN v1.frames.evidence_count IS 'sentences whose own probability passed the frame''s sentence threshold';
COMMENT ON COLUMN v1.frames.model_version IS 'encoder + heads';

COMMENT ON VIEW v1.terms IS 'Lexicon matches in migration articles: migration terms, dehumanising metaphors and loaded terms with suggested alternatives.';
COMMENT ON COLUMN v1.terms.article_id IS 'v1.articles.id';
COMMENT ON COLUMN v1.terms.week IS 'ISO week of publication or ''unknown''';
COMMENT ON COLUMN v1.terms.city IS 'city of the outlet';
COMMENT ON COLUMN v1.terms.source_id IS 'outlet id';
COMMENT ON COLUMN v1.terms.lang IS 'language of the article, ISO 639-1';
COMMENT ON COLUMN v1.terms.published_at IS 'UTC; NULL when unknown';
COMMENT ON COLUMN v1.terms.counted IS 'v1.articles.counted';
COMMENT ON COLUMN v1.terms.kind IS 'migration_term | metaphor | loaded_term';
COMMENT ON COLUMN v1.terms.term IS 'the lexicon entry';
COMMENT ON COLUMN v1.terms.matched IS 'the words as they stand in the text';
COMMENT ON COLUMN v1.terms.category IS 'metaphor kind (water, war, ...), or the guide of a loaded term';
COMMENT ON COLUMN v1.terms.alternatives IS 'suggested alternatives for a loaded term';

COMMENT ON VIEW v1.voices IS 'Who gets to speak: quotations per counted migration article (one per story and outlet) and speaker category. Quotations and names stay in the database (article_quotes).';
COMMENT ON COLUMN v1.voices.article_id IS 'v1.articles.id';
COMMENT ON COLUMN v1.voices.week IS 'ISO week of publication or ''unknown''';
COMMENT ON COLUMN v1.voices.city IS 'city of the outlet';
COMMENT ON COLUMN v1.voices.source_id IS 'outlet id';
COMMENT ON COLUMN v1.voices.lang IS 'language of the article, ISO 639-1';
COMMENT ON COLUMN v1.voices.published_at IS 'UTC; NULL when unknown';
COMMENT ON COLUMN v1.voices.speaker_category IS 'migrant | official | police | ngo | expert | citizen | unknown';
COMMENT ON COLUMN v1.voices.quotes IS 'quotations by speakers of this category in the article';

COMMENT ON VIEW v1.weekly_frames IS 'The figures of the weekly report, per ISO week, city, outlet and language: counted migration articles carrying each frame and their share. Articles without a publication date are left out.';
COMMENT ON COLUMN v1.weekly_frames.week IS 'ISO week of publication, e.g. 2026-W47';
COMMENT ON COLUMN v1.weekly_frames.city IS 'city of the outlet';
COMMENT ON COLUMN v1.weekly_frames.source_id IS 'outlet id';
COMMENT ON COLUMN v1.weekly_frames.lang IS 'language of the articles, ISO 639-1';
COMMENT ON COLUMN v1.weekly_frames.frame IS 'frame code (models/labels.yaml)';
COMMENT ON COLUMN v1.weekly_frames.articles IS 'counted migration articles with this frame assigned';
COMMENT ON COLUMN v1.weekly_frames.migration_articles IS 'counted migration articles of that week, city, outlet and language';
COMMENT ON COLUMN v1.weekly_frames.share IS 'articles / migration_articles';

COMMENT ON VIEW v1.runs IS 'Ingest runs: when the data was collected and how much failed, to judge how complete a week is.';
COMMENT ON COLUMN v1.runs.id IS 'run id';
COMMENT ON COLUMN v1.runs.started_at IS 'UTC';
COMMENT ON COLUMN v1.runs.finished_at IS 'UTC; NULL while running or after a crash';
COMMENT ON COLUMN v1.runs.status IS 'running | completed | failed';
COMMENT ON COLUMN v1.runs.pages_fetched IS 'article pages fetched with status 200';
COMMENT ON COLUMN v1.runs.fetch_failures IS 'requests or pages that could not be used';
COMMENT ON COLUMN v1.runs.articles_new IS 'articles stored for the first time';
COMMENT ON COLUMN v1.runs.articles_classified IS 'articles (re)classified in this run';
COMMENT ON COLUMN v1.runs.model_version IS 'encoder and heads used';
