"""SQLite storage: connections, migrations and repository functions."""
