"""Engine creation and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StoreError
from syndicator.store.schema import MIGRATIONS, meta

__all__ = ["SCHEMA_VERSION", "create_db_engine", "migrate", "schema_version"]

SCHEMA_VERSION = len(MIGRATIONS)
_SERIAL = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT", "postgresql": "BIGSERIAL PRIMARY KEY"}
_BLOB = {"sqlite": "BLOB", "postgresql": "BYTEA"}


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the pysqlite
        # driver's implicit transactions would skip it before SELECTs).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # WAL: readers never block the writer; NORMAL sync is durable across a
        # process crash (kill -9), losing at most the last commit on power loss.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache (the default is 2 MiB): index inserts of a large
        # import stay in memory instead of re-reading pages.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front, so two writers queue on busy_timeout
        # instead of failing when a read transaction tries to upgrade.
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_db_engine(url: str) -> Engine:
    """An engine for `url` with the pragmas and options Syndicator relies on."""
    try:
        if url.startswith("sqlite:"):
            return _sqlite_engine(url)
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"cannot open database: {exc}") from exc


def schema_version(conn: Connection) -> int:
    """The schema version recorded in the database (0 when empty)."""
    if not inspect(conn).has_table("meta"):
        return 0
    value = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return int(value) if value is not None else 0


def migrate(engine: Engine) -> int:
    """Apply pending migrations, each in its own transaction; return the version."""
    dialect = "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
    serial, blob = _SERIAL[dialect], _BLOB[dialect]
    while True:
        with engine.connect().execution_options(immediate=True) as conn, conn.begin():
            if engine.dialect.name == "postgresql":
                # Several processes may start at once: one migrates at a time.
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7210001)")
            version = schema_version(conn)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"database schema version {version} is newer than this "
                    f"Syndicator ({SCHEMA_VERSION}); upgrade Syndicator"
                )
            if version == SCHEMA_VERSION:
                return version
            for statement in MIGRATIONS[version]:
                conn.exec_driver_sql(statement.replace("{serial}", serial).replace("{blob}", blob))
            new = str(version + 1)
            if version == 0:
                conn.execute(meta.insert().values(key="schema_version", value=new))
            else:
                conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=new))
