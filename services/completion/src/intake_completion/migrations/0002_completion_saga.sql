-- The completion saga: one row per session being (or having been) completed, naming the step
-- it reached. Steps advance by compare-and-set; S3 work runs between them, outside any
-- transaction, under a lease that a crashed worker's successor may take once it has expired.
CREATE TABLE completions (
    upload_session_id uuid PRIMARY KEY,
    tenant_id         text NOT NULL,
    asset_id          uuid NOT NULL,
    step              text NOT NULL
        CHECK (step IN ('finalizing', 'promoting', 'releasing', 'done')),
    lease_owner       uuid,
    lease_until       timestamptz,
    tries             integer NOT NULL DEFAULT 0,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The per-tenant cap counts a tenant's leased finalizations.
CREATE INDEX completions_leased ON completions (tenant_id) WHERE lease_until IS NOT NULL;
-- The promoter's sweep: unfinished background steps, oldest first.
CREATE INDEX completions_background ON completions (updated_at)
    WHERE step IN ('promoting', 'releasing');

-- Where an Asset's bytes are: `object_key` is the temp key until promotion, then the
-- permanent key, with `promoted_at` set in the same statement.
ALTER TABLE assets ADD COLUMN promoted_at timestamptz;
-- Assets written before this migration were promoted before they were recorded.
UPDATE assets SET promoted_at = created_at WHERE object_key NOT LIKE 'temp/%';
