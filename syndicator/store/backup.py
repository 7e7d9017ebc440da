"""`syndicator backup`: a consistent copy of an SQLite database, taken while it is in use.

SQLite's online backup API (the standard library's `sqlite3.Connection.backup`)
copies every page in one step, inside one read transaction: in WAL mode that is
one consistent snapshot, and writers go on meanwhile. The copy is written to a
hidden file beside the target, checked (`PRAGMA quick_check`), made a single
self-contained file (rollback journal instead of WAL), flushed to disk, and only
then given the target's name, so a half-written backup never carries it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

from syndicator.errors import StoreError

__all__ = ["BackupRefused", "TargetExists", "backup_sqlite"]


class BackupRefused(StoreError):
    """The backup was asked for something it will not do (a usage error)."""


class TargetExists(BackupRefused):
    """The backup's target exists and replacing it was not asked for."""

    def __init__(self, target: Path) -> None:
        super().__init__(f"{target} exists; pass --force to replace it")


def backup_sqlite(source: str, target: Path, *, replace: bool = False) -> int:
    """Copy the SQLite database `source` to `target`; return the copy's size in bytes."""
    if not os.path.isfile(source):
        raise StoreError(f"database file not found: {source}")
    live = os.path.realpath(source)
    if os.path.realpath(target) in (live, f"{live}-wal", f"{live}-shm", f"{live}-journal"):
        raise BackupRefused(f"{target} is the database itself (or one of its files)")
    if target.exists() and not replace:
        raise TargetExists(target)
    folder = target.parent
    if not folder.is_dir():
        raise StoreError(f"cannot write {target}: folder {folder} does not exist")
    try:
        # mkstemp creates the file 0600: the database holds WebSub subscribers' secrets.
        handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise StoreError(f"cannot write in {folder}: {exc.strerror}") from exc
    os.close(handle)
    try:
        _copy(source, partial)
        _install(partial, target, replace)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    return target.stat().st_size


def _copy(source: str, partial: str) -> None:
    # Read-write, like the daemon: opened read-only, SQLite would leave -wal and
    # -shm files behind that a connection of another user could then not write.
    try:
        src = sqlite3.connect(source, timeout=30)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {source}: {exc}") from exc
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: everything in one step, one snapshot
            check = [row[0] for row in dst.execute("PRAGMA quick_check")]
            if check != ["ok"]:
                raise StoreError(f"the copy of {source} fails its check: {'; '.join(check[:5])}")
            dst.execute("PRAGMA journal_mode=DELETE").fetchall()
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise StoreError(f"backup of {source} failed: {exc}") from exc
    finally:
        src.close()


def _install(partial: str, target: Path, replace: bool) -> None:
    try:
        with open(partial, "rb+") as copy:
            os.fsync(copy.fileno())
        if replace or not _linked(partial, target):
            os.replace(partial, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc.strerror}") from exc


def _linked(partial: str, target: Path) -> bool:
    """Give the copy the target's name unless something has it already (checked by the
    file system, so a target created meanwhile is not overwritten either); False
    where the file system has no hard links and the caller must rename."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise TargetExists(target) from None
    except OSError:
        # No hard links here (some network and FAT file systems): check, then rename.
        if target.exists():
            raise TargetExists(target) from None
        return False
    os.unlink(partial)
    return True
