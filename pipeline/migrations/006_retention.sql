-- Issue 6: data protection. Full texts older than text_retention_days are dropped while the
-- classification and short evidence excerpts stay (pipeline/retention.py, apply_retention);
-- content is removed on request (purge), and every purge is logged.
-- Applied in place on existing databases: only CREATE and ALTER; no data is touched.

ALTER TABLE articles ADD COLUMN text_dropped_at TIMESTAMP;
-- Which purge emptied the article, rather than the request note on every row: the note is
-- written once, in purge_log, and a NULL here tells a retention drop from a purge.
ALTER TABLE articles ADD COLUMN purge_id VARCHAR;

CREATE TABLE purge_log (
    id             VARCHAR PRIMARY KEY,
    purged_at      TIMESTAMP NOT NULL,
    requested_by   VARCHAR NOT NULL,
    reason         VARCHAR NOT NULL,
    url_key        VARCHAR,
    source_id      VARCHAR,
    fetched_before TIMESTAMP,
    articles       INTEGER NOT NULL,
    raw_pages      INTEGER NOT NULL,
    evidence       INTEGER NOT NULL,
    quotes         INTEGER NOT NULL,
    terms          INTEGER NOT NULL,
    fetch_log      INTEGER NOT NULL,
    alerts         INTEGER NOT NULL,
    annotations    INTEGER NOT NULL
);

-- Kept apart from url_keys (whose writers insert two columns by position): the keys a crawl
-- with --refetch, which ignores url_keys, must still skip.
CREATE TABLE purged_keys (
    key       VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,
    purge_id  VARCHAR NOT NULL,
    PRIMARY KEY (key, source_id)
);

COMMENT ON COLUMN articles.text_dropped_at IS 'when text and author were emptied (UTC): by retention (text_retention_days after fetched_at) or by a purge; NULL while the text is kept. Offsets of evidence, quotes and terms still point into the text as it was';
COMMENT ON COLUMN articles.purge_id IS 'purge_log.id of the purge that removed title, text, author and URLs on request; NULL when none (then a text_dropped_at is retention). Its classification stays, so figures do not change';

COMMENT ON TABLE purge_log IS 'Every `framewatch purge`: what was selected, by whom, why, and how many rows lost their content. The URL asked for is kept only as its key, so the log does not keep what it removed.';
COMMENT ON COLUMN purge_log.id IS 'purge id (12 hex digits); articles.purge_id and purged_keys.purge_id point here';
COMMENT ON COLUMN purge_log.purged_at IS 'when the purge ran (UTC)';
COMMENT ON COLUMN purge_log.requested_by IS 'who ran or ordered the purge (staff name or role; --by, default the system user), never the data subject';
COMMENT ON COLUMN purge_log.reason IS 'why: the request''s case reference (--reason); not the requester''s name';
COMMENT ON COLUMN purge_log.url_key IS 'selector --url as pipeline/urls.py url_key (16 hex digits of the sha1 of the canonical URL); NULL when not used';
COMMENT ON COLUMN purge_log.source_id IS 'selector --source (sources.id); NULL when not used';
COMMENT ON COLUMN purge_log.fetched_before IS 'selector --before: articles fetched before this instant (UTC); NULL when not used';
COMMENT ON COLUMN purge_log.articles IS 'articles emptied (title, text, author, URLs)';
COMMENT ON COLUMN purge_log.raw_pages IS 'raw_pages rows whose HTML, URLs and feed title were removed';
COMMENT ON COLUMN purge_log.evidence IS 'article_evidence and article_frames rows whose sentence was removed';
COMMENT ON COLUMN purge_log.quotes IS 'article_quotes rows whose quotation and speaker were removed';
COMMENT ON COLUMN purge_log.terms IS 'article_terms rows whose matched words were removed';
COMMENT ON COLUMN purge_log.fetch_log IS 'fetch_log rows whose URL or note named a purged URL';
COMMENT ON COLUMN purge_log.alerts IS 'example articles removed from stored alerts (alerts.evidence)';
COMMENT ON COLUMN purge_log.annotations IS 'reviewers'' annotations of the purged articles deleted (their text is a passage of the article)';

COMMENT ON TABLE purged_keys IS 'url_key of every URL form (as announced, as fetched, canonical) of purged articles and pages, per outlet: a crawl never fetches them again, not even with --refetch.';
COMMENT ON COLUMN purged_keys.key IS 'pipeline/urls.py url_key, or the row''s own key (articles.id, raw_pages.url_id)';
COMMENT ON COLUMN purged_keys.source_id IS 'outlet (sources.id)';
COMMENT ON COLUMN purged_keys.purge_id IS 'purge_log.id';

COMMENT ON COLUMN article_evidence.sentence IS 'the sentence as it stands in articles.text; after the text is dropped at most excerpt_chars of it around its strongest cue; empty after a purge';
COMMENT ON COLUMN article_evidence.start_char IS 'start offset of the sentence (or of its kept excerpt) in articles.text';
COMMENT ON COLUMN article_evidence.cues IS 'words carrying the frame: source lexicon (metaphor or loaded term) or attribution (weight = share of the head''s positive evidence); offsets into articles.text. After the text is dropped only the cues inside the kept excerpt; NULL after a purge';
COMMENT ON COLUMN article_frames.evidence IS 'the sentence with the highest score; after the text is dropped at most excerpt_chars of it; NULL after a purge';
COMMENT ON COLUMN article_frames.start_char IS 'offsets of that sentence (or of its kept excerpt) in articles.text; NULL after a purge';
COMMENT ON COLUMN article_quotes.quote IS 'the quoted words, without quote marks; after the text is dropped at most excerpt_chars of them; empty after a purge';
COMMENT ON COLUMN article_quotes.speaker IS 'speaker as written (name and/or role); empty when none was found, after the text is dropped and after a purge (speaker_category stays)';
COMMENT ON COLUMN article_terms.matched IS 'the words as they stand in the text; empty after a purge';
COMMENT ON COLUMN raw_pages.dropped IS 'why html_gz is NULL: larger than raw_html_maxsize, past raw_html_retention_days (or the text''s retention), or purge <purge_log.id>; NULL when kept';
COMMENT ON COLUMN articles.url IS 'URL as fetched (after redirects); after a purge ''purged:'' and 16 hex digits of its sha1 (the same mark wherever that URL stood)';
COMMENT ON COLUMN articles.requested_url IS 'URL as the feed or sitemap announced it, before redirects; ''purged:<sha1>'' after a purge';
COMMENT ON COLUMN articles.canonical_url IS 'rel=canonical / og:url on the same host, tracking parameters removed; ''purged:<sha1>'' after a purge';
COMMENT ON COLUMN articles.title IS 'headline (kept when retention drops the text); empty after a purge';
COMMENT ON COLUMN articles.text IS 'extracted body text, one paragraph per line; empty once text_dropped_at is set';
COMMENT ON COLUMN articles.author IS 'byline as extracted, empty when none and once text_dropped_at is set';
COMMENT ON COLUMN raw_pages.url IS 'URL as fetched (after redirects); articles.url of the article it yielded; ''purged:<sha1>'' after a purge';
COMMENT ON COLUMN raw_pages.requested_url IS 'URL as the feed or sitemap announced it, before redirects; ''purged:<sha1>'' after a purge';
COMMENT ON COLUMN raw_pages.feed_title IS 'title the feed or sitemap gave the link, empty when none and after a purge';
COMMENT ON COLUMN fetch_log.url IS 'requested or final URL; an article URL becomes ''purged:<sha1>'' when its article is purged';
