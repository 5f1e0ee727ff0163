"""Persistence: models, engine, unit of work, migrations."""
