"""Engine creation and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StoreError
from syndicator.store.schema import MIGRATIONS, meta

__all__ = [
    "SCHEMA_VERSION",
    "Checkpointer",
    "create_db_engine",
    "free_pages",
    "migrate",
    "schema_version",
    "sqlite_path",
    "use_incremental_vacuum",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = len(MIGRATIONS)
_SERIAL = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT", "postgresql": "BIGSERIAL PRIMARY KEY"}
_BLOB = {"sqlite": "BLOB", "postgresql": "BYTEA"}
# A table that is all key: SQLite keeps it as one B-tree, not a table and an index.
_WITHOUT_ROWID = {"sqlite": " WITHOUT ROWID", "postgresql": ""}
# A descending key column; PostgreSQL's primary keys have none (it scans back).
_DESC = {"sqlite": " DESC", "postgresql": ""}
_INCREMENTAL = 2  # PRAGMA auto_vacuum value
#: Seconds a truncating checkpoint retries while another checkpoint runs.
_TRUNCATE_WAIT = 10.0


def _sqlite_engine(url: str, cache_mb: int) -> Engine:
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
        # Before anything writes the header of a new database: only then does
        # the mode take effect without a VACUUM (`use_incremental_vacuum`
        # converts an older file). Retention frees pages that
        # `incremental_vacuum` then gives back to the file system.
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        # WAL: readers never block the writer; NORMAL sync is durable across a
        # process crash (kill -9), losing at most the last commit on power loss.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache by default (SQLite's is 2 MiB): index inserts of
        # a large import stay in memory instead of re-reading pages.
        cursor.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
        # Checkpoints run on the Store's `Checkpointer` thread, not inside the
        # commit that filled the WAL: after a large import that is seconds of
        # copying and fsync the build no longer waits for. The WAL file is cut
        # back to 64 MiB whenever it restarts.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute("PRAGMA journal_size_limit=67108864")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front, so two writers queue on busy_timeout
        # instead of failing when a read transaction tries to upgrade.
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Checkpointer:
    """Copies an SQLite WAL back into the database on a thread of its own.

    `poke()` after a commit asks for a checkpoint; they run one at a time, at
    most one a second, plus one every 30 s regardless. PASSIVE checkpoints
    never block readers or writers; a crash in the middle is harmless (SQLite
    replays the WAL on the next open).
    """

    MIN_INTERVAL = 1.0
    MAX_INTERVAL = 30.0

    def __init__(self, path: str) -> None:
        self.path = path
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """A transaction committed: checkpoint soon."""
        self._wanted.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopping.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="sqlite-checkpoint", daemon=True
                    )
                    self._thread.start()

    def checkpoint(self, *, truncate: bool = False) -> None:
        """Checkpoint now, on the calling thread; with `truncate`, wait for
        readers and empty the WAL, so the next writer starts it afresh."""
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            mode = "TRUNCATE" if truncate else "PASSIVE"
            deadline = time.monotonic() + _TRUNCATE_WAIT
            while True:
                busy = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0]
                # A checkpoint running on another connection (this store's own
                # thread) makes SQLite answer busy at once, without waiting.
                if not busy or not truncate or time.monotonic() > deadline:
                    return
                time.sleep(0.05)
        finally:
            conn.close()

    def close(self) -> None:
        """Stop the thread after the checkpoint in progress (the last connection
        to close checkpoints whatever is left)."""
        with self._lock:
            self._stopping.set()
            self._wanted.set()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wanted.wait(self.MAX_INTERVAL)
            if self._stopping.is_set():
                return
            self._wanted.clear()
            try:
                self.checkpoint()
            except sqlite3.Error as exc:
                log.warning("WAL checkpoint failed: %s", exc)
            self._stopping.wait(self.MIN_INTERVAL)


def use_incremental_vacuum(path: str) -> bool:
    """Switch an SQLite file to incremental auto-vacuum; True when it had to be converted.

    A database created before the switch needs one `VACUUM`, which rewrites the
    whole file (through the WAL: about twice its size on disk for a moment) and
    holds the write lock meanwhile. It is one transaction: a crash leaves the
    old file, and the next start converts it again; a converted file is left alone.
    """
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == _INCREMENTAL:
            return False
        log.info("converting %s to incremental auto-vacuum (once; rewrites the file)", path)
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("VACUUM")
        return True
    finally:
        conn.close()


def free_pages(path: str, release: int) -> int:
    """Give up to `release` free pages of an SQLite file back to the file system
    (one short write transaction); return the free pages left."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        # As on the store's connections: in WAL mode a commit then needs no fsync
        # (a step moves pages, and a crash loses at most that step), which at the
        # default FULL was most of the time each step held the write lock.
        conn.execute("PRAGMA synchronous=NORMAL")
        if release > 0:
            # executescript steps the pragma to the end; execute() would free one page.
            conn.executescript(f"PRAGMA incremental_vacuum({int(release)});")
        return int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    finally:
        conn.close()


def sqlite_path(url: str) -> str | None:
    """The database file of an SQLite URL (None for in-memory databases)."""
    database = make_url(url).database or ""
    return None if not database or database == ":memory:" else database


def create_db_engine(url: str, *, cache_mb: int = 64) -> Engine:
    """An engine for `url` with the pragmas and options Syndicator relies on.

    `cache_mb` is SQLite's page cache per connection (a reader needs less).
    """
    try:
        if url.startswith("sqlite:"):
            return _sqlite_engine(url, cache_mb)
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


def once(engine: Engine, key: str, step: Callable[[Connection], object]) -> bool:
    """Run `step` in one transaction unless `key` is in `meta`, then record it
    there; return whether it ran. For data migrations a statement cannot do."""
    with engine.connect().execution_options(immediate=True) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7210001)")
        if conn.execute(select(meta.c.value).where(meta.c.key == key)).first() is not None:
            return False
        step(conn)
        conn.execute(meta.insert().values(key=key, value="1"))
        return True


def migrate(engine: Engine) -> int:
    """Apply pending migrations, each in its own transaction; return the version."""
    dialect = "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
    serial, blob, keyed = _SERIAL[dialect], _BLOB[dialect], _WITHOUT_ROWID[dialect]
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
                sql = statement.replace("{serial}", serial).replace("{blob}", blob)
                sql = sql.replace("{without_rowid}", keyed).replace("{desc}", _DESC[dialect])
                conn.exec_driver_sql(sql)
            new = str(version + 1)
            if version == 0:
                conn.execute(meta.insert().values(key="schema_version", value=new))
            else:
                conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=new))
