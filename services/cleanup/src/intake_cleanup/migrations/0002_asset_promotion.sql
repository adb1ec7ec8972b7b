-- Assets now start at the temp key and are promoted afterwards (asset.promoted): the temp
-- object of a COMPLETED session is kept until its Asset has moved.
ALTER TABLE assets_seen ADD COLUMN promoted_at timestamptz;
-- Assets seen before this migration were recorded at their permanent key.
UPDATE assets_seen SET promoted_at = seen_at;
