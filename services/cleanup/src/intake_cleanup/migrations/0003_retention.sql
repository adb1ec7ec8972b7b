-- Retention deletes by age, in batches: an index for each table it prunes.
CREATE INDEX session_index_finished ON session_index (updated_at)
    WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED');
CREATE INDEX seen_events_seen ON seen_events (seen_at);
CREATE INDEX job_runs_started ON job_runs (started_at);

-- Reply topics seen without a live consumer, and since when: the sweep deletes one only once
-- it has stayed unclaimed for the grace period.
CREATE TABLE unclaimed_reply_topics (
    topic      text PRIMARY KEY,
    first_seen timestamptz NOT NULL
);
