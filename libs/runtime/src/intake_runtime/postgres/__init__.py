"""Postgres: pool, migrations, inbox and outbox. Needs the `postgres` extra (asyncpg)."""
