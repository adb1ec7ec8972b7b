-- Retention removes finished sagas by when they finished; the Asset itself is never removed.
CREATE INDEX completions_done ON completions (updated_at) WHERE step = 'done';
-- Cleanup asks which permanent keys still have a promotion coming: by (tenant, asset).
CREATE INDEX completions_asset ON completions (tenant_id, asset_id);
