"""DDL shared by the migration versions: tables the database itself keeps append-only.

A ledger table (events, cash movements, stock movements) refuses UPDATE and DELETE at the database
level, so that no code path (nor a hand-run query) can rewrite history. SQLite gets one trigger per
verb; PostgreSQL one trigger calling a plpgsql function. The names and the message are derived from
the table name (``stock_movements`` -> ``'stock movements are append-only'``); a migration that has run
must keep producing the same DDL, so change these texts only together with a new revision.

Imported by the versions as ``punte.store.migrations.ddl`` (Alembic loads the version files by path,
not as a package, so a relative import would not work there).
"""

from __future__ import annotations

from alembic import op

_VERBS = ("UPDATE", "DELETE")


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def create_append_only(table: str) -> None:
    """Make ``table`` refuse UPDATE and DELETE (call after the table is created)."""
    message = f"{table.replace('_', ' ')} are append-only"
    if _is_sqlite():
        for verb in _VERBS:
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
    else:
        op.execute(
            f"CREATE FUNCTION punte_{table}_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION punte_{table}_append_only()"
        )


def drop_append_only(table: str) -> None:
    """Undo :func:`create_append_only` (call before the table is dropped or rewritten)."""
    if _is_sqlite():
        for verb in _VERBS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb.lower()}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS punte_{table}_append_only()")
