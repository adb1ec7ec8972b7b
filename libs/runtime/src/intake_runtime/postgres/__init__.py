"""Postgres: pool, migrations, the inbox and outbox tables, the outbox relay. Needs the
`postgres` extra (asyncpg)."""
