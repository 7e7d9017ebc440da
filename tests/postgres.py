"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl on a free port.

The server binaries come from Debian's `postgresql` package (`.ci/run`
installs it). PostgreSQL refuses to run as root, so under root the cluster
runs as the `postgres` system user.

Each pytest process (each xdist worker) starts its own cluster in its own
folder on its own port, so workers never share a server. The data lives in
`/dev/shm` when it exists: `CREATE DATABASE` copies the template's files,
which is five times faster in memory than on disk, and a test run needs
no durability (fsync is off anyway).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

__all__ = ["Cluster", "running_cluster"]

#: `pg_ctl start` on a port another process took after `_free_port` chose it fails;
#: a new port is tried this many times.
START_ATTEMPTS = 3


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scratch() -> str | None:
    """Where cluster folders go: `/dev/shm` if usable, else the default temp folder."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


class Cluster:
    """A running cluster; `database()` makes a fresh database."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.admin_url = f"postgresql://syndicator@127.0.0.1:{port}/postgres"
        self._migrated: str | None = None

    def url(self, name: str) -> str:
        """The SQLAlchemy URL of database `name`."""
        return f"postgresql+psycopg://syndicator@127.0.0.1:{self.port}/{name}"

    def _create(self, template: str | None = None) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return name

    def database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        return self.url(self._create())

    def migrated_database(self) -> str:
        """A fresh database with the current schema: a copy of one migrated once per cluster.

        Copying the template costs what creating an empty database costs, so each
        test saves the migration (a few dozen DDL statements) and nothing else
        changes: the copy is as fresh as a database the test migrated itself.
        """
        if self._migrated is None:
            from syndicator.store.store import Store

            name = self._create()
            store = Store(self.url(name))
            try:
                store.migrate()
            finally:
                store.close()  # a template must have no open sessions to be copied
            self._migrated = name
        return self.url(self._create(template=self._migrated))

    def drop(self, url: str) -> None:
        """Drop the database of `url`, closing what a test left connected to it."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start a cluster in a temporary folder; stop it and remove the folder afterwards."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="syndicator-pg-", dir=_scratch()))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "syndicator",
            "--no-sync", "-E", "UTF8")  # fmt: skip
        for attempt in range(START_ATTEMPTS):
            port = _free_port()
            options = (
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            try:
                run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log),
                    "-w", "start")  # fmt: skip
                break
            except subprocess.CalledProcessError:
                if attempt == START_ATTEMPTS - 1:
                    raise RuntimeError(
                        f"PostgreSQL did not start:\n{log.read_text(errors='replace')}"
                    ) from None
        try:
            yield Cluster(root, port)
        finally:
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
