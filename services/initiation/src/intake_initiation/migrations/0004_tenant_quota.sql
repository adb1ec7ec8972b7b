-- Each tenant's cost in flight: its live (INITIATING, UPLOADING) sessions and their declared
-- bytes. The statement that inserts a session charges it (repo.py), and the quota CHECKs
-- refuse a charge above the limits it was made under; the triggers below give it back when a
-- session leaves the live statuses or is deleted live. Concurrent charges of one tenant wait
-- on its row, so no two of them can both take the last place.
CREATE TABLE tenant_usage (
    tenant_id     text PRIMARY KEY,
    open_sessions bigint NOT NULL CHECK (open_sessions >= 0),
    open_bytes    bigint NOT NULL CHECK (open_bytes >= 0),
    -- The quota of the last charge: every charge sets it, so the service's settings decide.
    max_sessions  bigint NOT NULL,
    max_bytes     bigint NOT NULL,
    CONSTRAINT tenant_usage_sessions_quota CHECK (open_sessions <= max_sessions),
    CONSTRAINT tenant_usage_bytes_quota CHECK (open_bytes <= max_bytes)
);

INSERT INTO tenant_usage (tenant_id, open_sessions, open_bytes, max_sessions, max_bytes)
SELECT tenant_id, count(*), sum(size_bytes), 9223372036854775807, 9223372036854775807
FROM upload_sessions WHERE status IN ('INITIATING', 'UPLOADING') GROUP BY tenant_id;

CREATE FUNCTION release_tenant_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE initiation.tenant_usage
    SET open_sessions = greatest(open_sessions - 1, 0),
        open_bytes = greatest(open_bytes - OLD.size_bytes, 0)
    WHERE tenant_id = OLD.tenant_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER upload_sessions_finished_release AFTER UPDATE OF status ON upload_sessions
    FOR EACH ROW
    WHEN (OLD.status IN ('INITIATING', 'UPLOADING')
          AND NEW.status NOT IN ('INITIATING', 'UPLOADING'))
    EXECUTE FUNCTION release_tenant_usage();

CREATE TRIGGER upload_sessions_deleted_release AFTER DELETE ON upload_sessions
    FOR EACH ROW
    WHEN (OLD.status IN ('INITIATING', 'UPLOADING'))
    EXECUTE FUNCTION release_tenant_usage();
