"""One database and what every table group shares: connections, transactions, helpers.

`Database` is the only holder of the engine. Its `read()` and `write()` hand out a
connection inside a transaction and translate driver errors into `StoreError`, so the
table-group modules never see `SQLAlchemyError` escape and callers never see it at all.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, FromClause, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from syndicator.errors import StoreError
from syndicator.store.database import (
    Checkpointer,
    create_db_engine,
    free_pages,
    migrate,
    once,
    sqlite_path,
    use_incremental_vacuum,
)

__all__ = ["Bulk", "Database", "chunked", "count_rows", "dialect_insert", "parse_time"]

_CHUNK = 500  # bound on bind parameters per IN (...) query

_T = TypeVar("_T")


def chunked(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """`items` in slices small enough for one `IN (...)` list each."""
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def parse_time(value: str | None) -> datetime | None:
    """A stored time (`db_time` text) as a datetime; None stays None."""
    return None if value is None else datetime.fromisoformat(value)


def dialect_insert(dialect: str) -> Any:
    """The `insert` construct of `dialect` (the one with ``on_conflict_do_…``)."""
    # Imported on use: a SQLite process never loads the PostgreSQL dialect (30 ms).
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def count_rows(conn: Connection, table: FromClause) -> int:
    """The number of rows in `table`."""
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


class Bulk:
    """A write run with the driver's own executemany, compiled once per dialect.

    For the rows of a big import, SQLAlchemy's per-row parameter processing
    costs more than the database's insert; these statements bind plain text.
    """

    def __init__(self, stmt: ClauseElement) -> None:
        self.stmt = stmt
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute the statement once per row (nothing when there are none)."""
        if not rows:
            return
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            done = cast(SQLCompiler, self.stmt.compile(dialect=dialect))
            names = tuple(done.positiontup or ()) if done.positional else None
            compiled = self._compiled[dialect.name] = (str(done), names)
        sql, names = compiled
        if names is None:
            conn.exec_driver_sql(sql, list(rows))
        else:
            conn.exec_driver_sql(sql, [tuple(row[n] for n in names) for row in rows])


class Database:
    """The engine of one deployment's database, with its WAL checkpointer on SQLite."""

    def __init__(self, url: str, *, cache_mb: int = 64) -> None:
        self.url = url
        self.engine = create_db_engine(url, cache_mb=cache_mb)
        self.dialect = self.engine.dialect.name
        path = sqlite_path(url) if self.dialect == "sqlite" else None
        self._path = path
        self._checkpointer = None if path is None else Checkpointer(path)

    def migrate(self, *steps: tuple[str, Callable[[Connection], object]]) -> int:
        """Bring the schema up to date (and an SQLite file to incremental
        auto-vacuum), then run each data step (key, function) not run before;
        return the schema version."""
        try:
            version = migrate(self.engine)
            for key, step in steps:
                once(self.engine, key, step)
            if self._path is not None:
                use_incremental_vacuum(self._path)
            return version
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate database: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"cannot convert database to incremental auto-vacuum: {exc}") from exc

    def size_bytes(self) -> int | None:
        """The database's size on disk: SQLite's file and WAL, PostgreSQL's
        `pg_database_size` (None for an in-memory database)."""
        if self.dialect == "postgresql":
            with self.read() as conn:
                value = conn.exec_driver_sql("SELECT pg_database_size(current_database())")
                return int(value.scalar_one())
        if self._path is None:
            return None
        try:
            size = os.path.getsize(self._path)
        except OSError as exc:
            raise StoreError(f"cannot read the size of {self._path}: {exc.strerror}") from exc
        with contextlib.suppress(FileNotFoundError):
            size += os.path.getsize(f"{self._path}-wal")
        return size

    def free_pages(self, release: int) -> int:
        """SQLite: give up to `release` free pages back to the file system; return
        the free pages left. PostgreSQL's autovacuum does this on its own: 0."""
        if self._path is None:
            return 0
        try:
            return free_pages(self._path, release)
        except sqlite3.Error as exc:
            raise StoreError(f"incremental vacuum failed: {exc}") from exc

    def checkpoint(self) -> None:
        """Fold SQLite's WAL back into the database now (nothing for PostgreSQL)."""
        if self._checkpointer is not None:
            self._checkpointer.checkpoint(truncate=True)

    def close(self) -> None:
        """Release every connection."""
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; everything in it commits together or not at all."""
        try:
            with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database write failed: {exc}") from exc
        if self._checkpointer is not None:
            self._checkpointer.poke()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent view of the database."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database read failed: {exc}") from exc

    def ping(self) -> None:
        """Raise `StoreError` when the database cannot be reached."""
        with self.read() as conn:
            conn.exec_driver_sql("SELECT 1")
