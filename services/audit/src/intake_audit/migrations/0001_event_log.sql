-- The event log: append-only, one row per lifecycle event, deduplicated by its envelope id.
CREATE TABLE events (
    event_id          uuid PRIMARY KEY,
    -- Insertion order: breaks ties between events of the same instant.
    seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    type              text NOT NULL,
    tenant_id         text,
    upload_session_id uuid,
    occurred_at       timestamptz NOT NULL,
    payload           jsonb NOT NULL,
    topic             text NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_trail ON events (tenant_id, upload_session_id, occurred_at, seq)
    WHERE upload_session_id IS NOT NULL;

-- Append-only by construction, not only by convention.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.events is append-only';
END;
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
