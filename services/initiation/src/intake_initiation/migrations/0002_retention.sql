-- Retention removes finished sessions by the time they finished (their last update), oldest
-- first, in batches.
CREATE INDEX upload_sessions_finished ON upload_sessions (updated_at)
    WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED');
