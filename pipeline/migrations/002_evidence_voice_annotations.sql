-- Issue 3: explanations (all evidence sentences and the words that carry each frame),
-- voice (quotations and speakers), reviewers' corrections, and calibrated article scores.

ALTER TABLE article_frames ADD COLUMN evidence_count INTEGER;

CREATE TABLE article_evidence (
    article_id    VARCHAR NOT NULL,
    frame         VARCHAR NOT NULL,
    rank          INTEGER NOT NULL,
    score         DOUBLE NOT NULL,
    sentence      VARCHAR NOT NULL,
    start_char    INTEGER NOT NULL,
    end_char      INTEGER NOT NULL,
    cues          STRUCT(word VARCHAR, start_char INTEGER, end_char INTEGER, weight DOUBLE, source VARCHAR)[],
    model_version VARCHAR NOT NULL
);

CREATE TABLE article_quotes (
    article_id       VARCHAR NOT NULL,
    quote_index      INTEGER NOT NULL,
    quote            VARCHAR NOT NULL,
    start_char       INTEGER NOT NULL,
    end_char         INTEGER NOT NULL,
    speaker          VARCHAR NOT NULL,
    speaker_start    INTEGER,
    speaker_end      INTEGER,
    speaker_category VARCHAR NOT NULL,
    cue              VARCHAR NOT NULL,
    model_version    VARCHAR NOT NULL
);

CREATE TABLE annotations (
    id          VARCHAR PRIMARY KEY,
    created_at  TIMESTAMP NOT NULL,
    reviewer    VARCHAR NOT NULL,
    article_id  VARCHAR,
    text        VARCHAR NOT NULL,
    lang        VARCHAR NOT NULL,
    migration   BOOLEAN,
    frame_group VARCHAR,
    labels      VARCHAR[],
    hostile     BOOLEAN,
    note        VARCHAR
);

CREATE VIEW article_voices AS
SELECT q.article_id, m.source_id, m.city, m.lang, m.published_at, q.speaker_category,
       count(*) AS quotes
FROM article_quotes q
JOIN migration_articles m ON m.id = q.article_id AND m.counted
GROUP BY ALL;

COMMENT ON COLUMN article_frames.evidence_count IS 'sentences whose own probability passed the label''s sentence threshold';
COMMENT ON COLUMN article_frames.score IS 'calibrated article probability: noisy-or of the two best sentences';
COMMENT ON COLUMN article_frames.assigned IS 'score passed the label''s article threshold and evidence_count >= 1';

COMMENT ON TABLE article_evidence IS 'Evidence sentences per article and label (best first), with the words that carry the frame for assigned labels.';
COMMENT ON COLUMN article_evidence.article_id IS 'articles.id';
COMMENT ON COLUMN article_evidence.frame IS 'label code (models/labels.yaml)';
COMMENT ON COLUMN article_evidence.rank IS '1 = the sentence with the highest probability';
COMMENT ON COLUMN article_evidence.score IS 'calibrated sentence probability of the label';
COMMENT ON COLUMN article_evidence.sentence IS 'the sentence as it stands in articles.text';
COMMENT ON COLUMN article_evidence.start_char IS 'start offset of the sentence in articles.text';
COMMENT ON COLUMN article_evidence.end_char IS 'end offset (exclusive)';
COMMENT ON COLUMN article_evidence.cues IS 'words carrying the frame: source lexicon (metaphor or loaded term) or attribution (weight = share of the head''s positive evidence); offsets into articles.text';
COMMENT ON COLUMN article_evidence.model_version IS 'encoder + heads';

COMMENT ON TABLE article_quotes IS 'Direct quotations in articles and who said them, as far as the text tells (models/voice.py).';
COMMENT ON COLUMN article_quotes.article_id IS 'articles.id';
COMMENT ON COLUMN article_quotes.quote_index IS 'order of the quotation in the article, from 0';
COMMENT ON COLUMN article_quotes.quote IS 'the quoted words, without quote marks';
COMMENT ON COLUMN article_quotes.start_char IS 'start offset of the quotation in articles.text';
COMMENT ON COLUMN article_quotes.end_char IS 'end offset (exclusive)';
COMMENT ON COLUMN article_quotes.speaker IS 'speaker as written (name and/or role); empty when none was found';
COMMENT ON COLUMN article_quotes.speaker_start IS 'offset of the speaker in articles.text; NULL when unknown';
COMMENT ON COLUMN article_quotes.speaker_end IS 'end offset (exclusive); NULL when unknown';
COMMENT ON COLUMN article_quotes.speaker_category IS 'migrant | official | police | ngo | expert | citizen | unknown';
COMMENT ON COLUMN article_quotes.cue IS 'the speech verb or pattern that attributed the quotation';
COMMENT ON COLUMN article_quotes.model_version IS 'encoder + heads';

COMMENT ON TABLE annotations IS 'Reviewers'' corrections; framewatch train uses them as training sentences (NULL = not judged).';
COMMENT ON COLUMN annotations.id IS 'annotation id, given in the corrections file; a later line with the same id replaces it';
COMMENT ON COLUMN annotations.created_at IS 'when the correction was imported (UTC)';
COMMENT ON COLUMN annotations.reviewer IS 'who made the correction';
COMMENT ON COLUMN annotations.article_id IS 'articles.id the text comes from, if any (keeps one article in one CV fold)';
COMMENT ON COLUMN annotations.text IS 'the sentence or passage judged';
COMMENT ON COLUMN annotations.lang IS 'ISO 639-1';
COMMENT ON COLUMN annotations.migration IS 'about migration; NULL = not judged';
COMMENT ON COLUMN annotations.frame_group IS 'threat | victim | hero | none; NULL = not judged';
COMMENT ON COLUMN annotations.labels IS 'frame codes that apply; NULL = not judged';
COMMENT ON COLUMN annotations.hostile IS 'hostile toward migrants; NULL = not judged';
COMMENT ON COLUMN annotations.note IS 'the reviewer''s note';

COMMENT ON VIEW article_voices IS 'Quotations per counted migration article and speaker category: who gets to speak.';
COMMENT ON COLUMN article_voices.article_id IS 'articles.id';
COMMENT ON COLUMN article_voices.source_id IS 'outlet id';
COMMENT ON COLUMN article_voices.city IS 'the outlet''s city';
COMMENT ON COLUMN article_voices.lang IS 'detected article language (ISO 639-1)';
COMMENT ON COLUMN article_voices.published_at IS 'UTC; NULL when neither feed nor page states it';
COMMENT ON COLUMN article_voices.speaker_category IS 'migrant | official | police | ngo | expert | citizen | unknown';
COMMENT ON COLUMN article_voices.quotes IS 'quotations by speakers of this category in the article';
