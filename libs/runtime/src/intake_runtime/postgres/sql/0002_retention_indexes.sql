-- Retention deletes inbox rows and published outbox rows by age, in batches: an index each,
-- so a batch reads only the rows it removes.
CREATE INDEX inbox_received ON inbox (received_at);
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
