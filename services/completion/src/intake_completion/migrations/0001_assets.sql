-- Assets: one per completed upload session, never two (the UNIQUE session is the guarantee).
CREATE TABLE assets (
    asset_id          uuid PRIMARY KEY,
    upload_session_id uuid NOT NULL UNIQUE,
    tenant_id         text NOT NULL,
    brand_id          text NOT NULL,
    user_id           text NOT NULL,
    title             text NOT NULL,
    file_name         text NOT NULL,
    mime_type         text NOT NULL,
    size_bytes        bigint NOT NULL CHECK (size_bytes > 0),
    bucket            text NOT NULL,
    object_key        text NOT NULL,
    checksum_sha256   text,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX assets_tenant ON assets (tenant_id, created_at);
