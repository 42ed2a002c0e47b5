"""SQLite persistence: schema, migrations, queries (WAL, one writer thread)."""
