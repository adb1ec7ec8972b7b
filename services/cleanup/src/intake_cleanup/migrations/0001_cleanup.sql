-- Status order of a session: an event never moves the index backwards (redelivery, reorder).
CREATE FUNCTION status_rank(status text) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE status WHEN 'INITIATING' THEN 0 WHEN 'UPLOADING' THEN 1 ELSE 2 END
$$;

-- What cleanup knows of each session, built only from initiation's lifecycle events.
CREATE TABLE session_index (
    session_id          uuid PRIMARY KEY,
    tenant_id           text NOT NULL,
    status              text NOT NULL,
    bucket              text NOT NULL,
    temp_key            text NOT NULL,
    multipart_upload_id text,
    expires_at          timestamptz NOT NULL,
    last_event_at       timestamptz NOT NULL,
    active_since        timestamptz NOT NULL,  -- lower bound of the last activity
    asset_id            uuid,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX session_index_idle ON session_index (active_since) WHERE status = 'UPLOADING';
CREATE INDEX session_index_expiry ON session_index (expires_at)
    WHERE status IN ('INITIATING', 'UPLOADING');
CREATE INDEX session_index_completed ON session_index (last_event_at) WHERE status = 'COMPLETED';

-- Sessions whose Asset exists (asset.created); may arrive before the session's own event.
CREATE TABLE assets_seen (
    session_id uuid PRIMARY KEY,
    asset_id   uuid NOT NULL,
    tenant_id  text NOT NULL,
    seen_at    timestamptz NOT NULL DEFAULT now()
);

-- Event ids already applied: the outbox relays at least once.
CREATE TABLE seen_events (
    message_id uuid PRIMARY KEY,
    seen_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE job_runs (
    run_id      uuid PRIMARY KEY,
    job         text NOT NULL,
    instance_id text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    status      text NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'skipped')),
    stats       jsonb NOT NULL DEFAULT '{}',
    errors      jsonb NOT NULL DEFAULT '[]'
);

CREATE INDEX job_runs_recent ON job_runs (job, started_at DESC);
