"""Static output: feeds written under `feeds.output_dir` by atomic replace."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["OutputDir"]

_TMP_MARK = ".tmp-"
_WRITERS = 4  # threads writing the files of one batch


class OutputDir:
    """A folder that mirrors the public URLs; every write is all-or-nothing."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        """Create the folder and remove temporary files a crash left behind."""
        (self.root / "feeds").mkdir(parents=True, exist_ok=True)
        for folder in (self.root, self.root / "feeds"):
            for entry in folder.iterdir():
                if entry.name.startswith(".") and _TMP_MARK in entry.name:
                    with contextlib.suppress(FileNotFoundError):
                        entry.unlink()

    def exists(self, relpath: str) -> bool:
        """Whether the file is present."""
        return (self.root / relpath).is_file()

    def stamp(self, relpath: str) -> str | None:
        """The file's identity: inode, modification time (ns) and size; None
        when it is missing. Every write replaces the file by a rename (a new
        inode), so a file with the stamp it had when written still holds the
        bytes written then."""
        try:
            return _stamp((self.root / relpath).stat())
        except OSError:
            return None

    def read(self, relpath: str) -> bytes | None:
        """The file's bytes; None when it cannot be read."""
        try:
            return (self.root / relpath).read_bytes()
        except OSError:
            return None

    def read_stamped(self, relpath: str) -> tuple[bytes, str] | None:
        """The file's bytes and the stamp of that very file; None when it
        cannot be read."""
        try:
            with (self.root / relpath).open("rb") as handle:
                return handle.read(), _stamp(os.fstat(handle.fileno()))
        except OSError:
            return None

    def modified(self, relpath: str) -> datetime | None:
        """When the file was last replaced; None when it is missing."""
        try:
            return datetime.fromtimestamp((self.root / relpath).stat().st_mtime, UTC)
        except OSError:
            return None

    def write_many(
        self, files: Sequence[tuple[str, bytes]], stamps: dict[str, str] | None = None
    ) -> int:
        """Replace several files, each atomically; return how many changed.

        Temporary files are written and flushed to disk on several threads
        (writes and fsyncs release the GIL, and parallel fsyncs share the file
        system's journal commits), then renamed into place, and each folder is
        synced once at the end. With `stamps`, each file's stamp (see `stamp`)
        is put there, taken from the very file written or compared, so another
        process replacing it meanwhile cannot lend it its own.
        """
        latest = dict(files)  # one writer per file: the last version given wins
        changed: list[tuple[str, Path, bytes]] = []
        for rel, data in latest.items():
            held = self._held(rel, data)
            if held is None:
                changed.append((rel, self.root / rel, data))
            elif stamps is not None:
                stamps[rel] = held
        if not changed:
            return 0
        folders = {target.parent for _, target, _ in changed}
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        staged: list[Path] = []
        try:
            with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
                futures = [
                    (rel, pool.submit(_stage, target, data, staged))
                    for rel, target, data in changed
                ]
                for rel, future in futures:
                    stamp = future.result()
                    if stamps is not None:
                        stamps[rel] = stamp
            for _, target, _ in changed:
                os.replace(_tmp_path(target), target)
        except BaseException:
            for tmp in staged:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            raise
        for folder in folders:
            _fsync_path(folder)
        return len(changed)

    def _held(self, relpath: str, data: bytes) -> str | None:
        """The file's stamp when it holds exactly `data`, else None."""
        target = self.root / relpath
        try:
            if target.stat().st_size != len(data):
                return None  # the usual case of a changed feed: nothing opened
            with target.open("rb") as handle:
                st = os.fstat(handle.fileno())
                if st.st_size != len(data) or handle.read() != data:
                    return None
        except FileNotFoundError:
            return None
        return _stamp(st)

    def write(self, relpath: str, data: bytes) -> bool:
        """Replace the file with `data` unless it already holds exactly that; True if written."""
        target = self.root / relpath
        try:
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                return False
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_path(target)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)
        return True


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tmp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}{_TMP_MARK}{os.getpid()}")


def _stamp(st: os.stat_result) -> str:
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


def _stage(target: Path, data: bytes, staged: list[Path]) -> str:
    """Write `data` to the target's temporary file and flush it to disk;
    return the file's stamp (the rename keeps inode and mtime)."""
    tmp = _tmp_path(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    staged.append(tmp)  # list.append is atomic; the caller removes it on failure
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        return _stamp(os.fstat(fd))
    finally:
        os.close(fd)
