"""Taking a database back to an earlier schema version, for migration tests."""

from __future__ import annotations

import re

from sqlalchemy import Connection

from syndicator.store import schema


def migration_number(marker: str) -> int:
    """The number (from 1) of the first migration with a statement holding `marker`."""
    return next(
        number
        for number, steps in enumerate(schema.MIGRATIONS, start=1)
        if any(marker in step for step in steps)
    )


def later_changes(number: int) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """The tables, indexes and (table, column)s that migrations after `number` create."""
    steps = [step for steps in schema.MIGRATIONS[number:] for step in steps]
    tables = [name for step in steps for name in re.findall(r"^\s*CREATE TABLE (\w+)", step)]
    indexes = [name for step in steps for name in re.findall(r"CREATE INDEX (\w+)", step)]
    columns = [
        match for step in steps for match in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", step)
    ]
    return tables, indexes, columns


def undo_migrations_after(conn: Connection, number: int) -> None:
    """Drop what migrations after `number` created (tables, indexes, added
    columns), so they run again on the next open, and record `number` as the
    schema version."""
    tables, indexes, columns = later_changes(number)
    for name in tables:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    for name in indexes:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    for table, column in reversed(columns):
        if table not in tables:
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute(
        schema.meta.update().where(schema.meta.c.key == "schema_version").values(value=str(number))
    )
