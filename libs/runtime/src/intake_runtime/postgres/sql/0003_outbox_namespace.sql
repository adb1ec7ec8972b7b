-- Deployments sharing a database (a test run beside `make up`, a soak beside a benchmark) each
-- relay only the events they wrote: without the writer's namespace on the row, any relay of the
-- schema published every row into its own namespace, where the intended consumers never look.
ALTER TABLE outbox ADD COLUMN namespace text NOT NULL DEFAULT '';
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (namespace, id) WHERE published_at IS NULL;
