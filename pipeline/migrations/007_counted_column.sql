-- Issue 6: scale. `counted` (one article per story and outlet) was a window over every
-- migration article in the view migration_articles; a period filter cannot be pushed below
-- a window, so every report, dashboard page and alert recomputed it over the whole history
-- (28-39 s a report on 2 million articles). It is now stored on articles, kept by
-- pipeline/store.py (refresh_counted) in the transaction of every write that changes a
-- story's migration articles or their order, and the view reads it.
-- Applied in place: ALTER, then an UPDATE that fills it with exactly the window the view
-- used, so no figure changes on upgrade.

-- false for every article that is not a counted migration article, including the new
-- ones a crawl stores (not classified yet, so not in migration_articles).
ALTER TABLE articles ADD COLUMN counted BOOLEAN DEFAULT false;

UPDATE articles SET counted = true
FROM (SELECT id
      FROM (SELECT id, row_number() OVER (PARTITION BY source_id, coalesce(story_id, id)
                                          ORDER BY fetched_at, id) AS n
            FROM articles WHERE is_migration)
      WHERE n = 1) AS first
WHERE articles.id = first.id;

-- The same columns, in the same order, as migration 003 defined; only `counted` is read
-- instead of computed. weekly_frames, article_voices and the v1 views follow it.
CREATE OR REPLACE VIEW migration_articles AS
SELECT a.id, a.url, a.source_id, s.name AS source_name, s.city, s.country, a.lang,
       a.title, a.published_at, a.migration_score, a.hostile_score, a.frame_group,
       a.duplicate_of,
       a.counted,
       a.model_version,
       coalesce(a.story_id, a.id) AS story_id
FROM articles a JOIN sources s ON s.id = a.source_id
WHERE a.is_migration;

COMMENT ON COLUMN articles.counted IS 'true for the first (by fetched_at, then id) migration article of its story in its outlet: the one trend figures count (migration_articles.counted); false for every other article. Kept by pipeline/store.py refresh_counted whenever a classification or a story changes';

-- CREATE OR REPLACE drops the comments of the view it replaces: the same ones again.
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
