-- Issue 5: alerts on a frame or metaphor rising above its baseline, per city and per outlet.
-- Applied in place on existing databases: only CREATE; no data is touched.

-- One row per (period, scope, subject): the id is a hash of them, so a rerun inserts nothing
-- twice; pipeline/alerts.py also skips a subject already alerted for an overlapping period,
-- so a daily run over the last seven days alerts a rise once, not every day of that week.
CREATE TABLE alerts (
    id                VARCHAR PRIMARY KEY,
    created_at        TIMESTAMP NOT NULL,
    period_start      TIMESTAMP NOT NULL,
    period_end        TIMESTAMP NOT NULL,
    scope             VARCHAR NOT NULL,
    city              VARCHAR NOT NULL,
    source_id         VARCHAR,
    outlet            VARCHAR,
    lang              VARCHAR NOT NULL,
    kind              VARCHAR NOT NULL,
    subject           VARCHAR NOT NULL,
    articles          INTEGER NOT NULL,
    total             INTEGER NOT NULL,
    share             DOUBLE NOT NULL,
    baseline_articles INTEGER NOT NULL,
    baseline_total    INTEGER NOT NULL,
    baseline_share    DOUBLE NOT NULL,
    p_value           DOUBLE,
    evidence          STRUCT(article_id VARCHAR, title VARCHAR, url VARCHAR, outlet VARCHAR, published_at TIMESTAMP, sentence VARCHAR)[],
    model_versions    VARCHAR[],
    query             VARCHAR NOT NULL,
    notified_at       TIMESTAMP,
    channels          VARCHAR[],
    notify_error      VARCHAR
);

-- The evidence of every alert, one row per example article, to join with articles.
CREATE VIEW alert_evidence AS
SELECT a.id AS alert_id, a.period_start, a.scope, a.city, a.source_id, a.kind, a.subject,
       e.article_id, e.title, e.url, e.outlet, e.published_at, e.sentence
FROM alerts a, unnest(a.evidence) AS u(e);

COMMENT ON TABLE alerts IS 'A frame or dehumanising metaphor whose share of counted migration articles rose significantly (Fisher''s exact test, as in the report) against the 8 periods before, in at least 3 articles of the period, per city and per outlet, with its evidence and whether it was sent (pipeline/alerts.py, pipeline/notify.py).';
COMMENT ON COLUMN alerts.id IS 'sha1 of period_start, scope, city, source_id, kind and subject, 16 hex digits: a rerun inserts nothing twice';
COMMENT ON COLUMN alerts.created_at IS 'when the alert was detected (UTC)';
COMMENT ON COLUMN alerts.period_start IS 'first instant of the period compared (UTC)';
COMMENT ON COLUMN alerts.period_end IS 'end of the period, exclusive (UTC); the baseline is the 8 periods before period_start';
COMMENT ON COLUMN alerts.scope IS 'city | outlet: whether the figures cover all outlets of the city or one outlet';
COMMENT ON COLUMN alerts.city IS 'city of the outlets counted (sources.city)';
COMMENT ON COLUMN alerts.source_id IS 'outlet (sources.id) for an outlet alert; NULL for a city alert';
COMMENT ON COLUMN alerts.outlet IS 'outlet name (sources.name) when the alert was raised; NULL for a city alert';
COMMENT ON COLUMN alerts.lang IS 'language of the message: the most common declared language of the city''s outlets';
COMMENT ON COLUMN alerts.kind IS 'frame | metaphor';
COMMENT ON COLUMN alerts.subject IS 'frame code (models/labels.yaml) or metaphor lexicon entry (article_terms.term)';
COMMENT ON COLUMN alerts.articles IS 'counted migration articles of the period carrying the subject (at least 3 for an alert)';
COMMENT ON COLUMN alerts.total IS 'counted migration articles of the period in the scope';
COMMENT ON COLUMN alerts.share IS 'articles / total';
COMMENT ON COLUMN alerts.baseline_articles IS 'counted migration articles of the baseline carrying the subject';
COMMENT ON COLUMN alerts.baseline_total IS 'counted migration articles of the baseline in the scope';
COMMENT ON COLUMN alerts.baseline_share IS 'baseline_articles / baseline_total';
COMMENT ON COLUMN alerts.p_value IS 'two-sided Fisher''s exact test of the period against the baseline (alerted when < 0.05 and the share rose)';
COMMENT ON COLUMN alerts.evidence IS 'up to 3 example articles of the period: the frame''s evidence sentence, or the sentence around the metaphor';
COMMENT ON COLUMN alerts.model_versions IS 'model versions that classified the counted articles of the period and the baseline; more than one means part of the change may come from a new model';
COMMENT ON COLUMN alerts.query IS 'the SQL behind articles and total, with its parameters';
COMMENT ON COLUMN alerts.notified_at IS 'when every configured channel had delivered the alert (UTC); NULL while pending';
COMMENT ON COLUMN alerts.channels IS 'channels that delivered it: email, webhook (a webhook post carrying it went out)';
COMMENT ON COLUMN alerts.notify_error IS 'why the last delivery attempt failed (kept for the record after a later success); the next run retries. Webhook errors are the exception type and HTTP status only, never the URL';

COMMENT ON VIEW alert_evidence IS 'One row per example article of each alert (alerts.evidence unnested).';
COMMENT ON COLUMN alert_evidence.alert_id IS 'alerts.id';
COMMENT ON COLUMN alert_evidence.period_start IS 'alerts.period_start';
COMMENT ON COLUMN alert_evidence.scope IS 'city | outlet';
COMMENT ON COLUMN alert_evidence.city IS 'alerts.city';
COMMENT ON COLUMN alert_evidence.source_id IS 'outlet of an outlet alert; NULL for a city alert';
COMMENT ON COLUMN alert_evidence.kind IS 'frame | metaphor';
COMMENT ON COLUMN alert_evidence.subject IS 'frame code or metaphor term';
COMMENT ON COLUMN alert_evidence.article_id IS 'articles.id of the example';
COMMENT ON COLUMN alert_evidence.title IS 'headline (scraped text)';
COMMENT ON COLUMN alert_evidence.url IS 'canonical URL of the article';
COMMENT ON COLUMN alert_evidence.outlet IS 'outlet name';
COMMENT ON COLUMN alert_evidence.published_at IS 'UTC';
COMMENT ON COLUMN alert_evidence.sentence IS 'the evidence sentence';
