-- Upload sessions: the only table whose status column decides a session's fate.
CREATE TABLE upload_sessions (
    id                  uuid PRIMARY KEY,
    tenant_id           text NOT NULL,
    brand_id            text NOT NULL,
    user_id             text NOT NULL,
    status              text NOT NULL CHECK (
        status IN ('INITIATING', 'UPLOADING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    file_name           text NOT NULL,
    mime_type           text NOT NULL,
    size_bytes          bigint NOT NULL CHECK (size_bytes > 0),
    upload_type         text NOT NULL CHECK (upload_type IN ('direct', 'multipart')),
    chunk_size          bigint,
    part_count          integer,
    bucket              text NOT NULL,
    temp_key            text NOT NULL,
    multipart_upload_id text,
    client_reference    text,
    batch_reference     text,
    category_id         text,
    checksum_sha256     text,
    idempotency_key     text,
    request_fingerprint text,
    expires_at          timestamptz NOT NULL,
    last_activity_at    timestamptz NOT NULL,
    failure_reason      text,
    asset_id            uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX upload_sessions_idempotency
    ON upload_sessions (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX upload_sessions_tenant ON upload_sessions (tenant_id, created_at);
CREATE INDEX upload_sessions_live ON upload_sessions (status, last_activity_at)
    WHERE status IN ('INITIATING', 'UPLOADING');
