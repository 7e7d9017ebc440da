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

    def read(self, relpath: str) -> bytes | None:
        """The file's bytes; None when it cannot be read."""
        try:
            return (self.root / relpath).read_bytes()
        except OSError:
            return None

    def modified(self, relpath: str) -> datetime | None:
        """When the file was last replaced; None when it is missing."""
        try:
            return datetime.fromtimestamp((self.root / relpath).stat().st_mtime, UTC)
        except OSError:
            return None

    def write_many(self, files: Sequence[tuple[str, bytes]]) -> int:
        """Replace several files, each atomically; return how many changed.

        Temporary files are written and flushed to disk on several threads
        (writes and fsyncs release the GIL, and parallel fsyncs share the file
        system's journal commits), then renamed into place, and each folder is
        synced once at the end.
        """
        latest = dict(files)  # one writer per file: the last version given wins
        changed = [
            (self.root / rel, data) for rel, data in latest.items() if not self._holds(rel, data)
        ]
        if not changed:
            return 0
        folders = {target.parent for target, _ in changed}
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        staged: list[Path] = []
        try:
            with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
                futures = [pool.submit(_stage, target, data, staged) for target, data in changed]
                for future in futures:
                    future.result()
            for target, _ in changed:
                os.replace(_tmp_path(target), target)
        except BaseException:
            for tmp in staged:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            raise
        for folder in folders:
            _fsync_path(folder)
        return len(changed)

    def _holds(self, relpath: str, data: bytes) -> bool:
        target = self.root / relpath
        try:
            return target.stat().st_size == len(data) and target.read_bytes() == data
        except FileNotFoundError:
            return False

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


def _stage(target: Path, data: bytes, staged: list[Path]) -> None:
    """Write `data` to the target's temporary file and flush it to disk."""
    tmp = _tmp_path(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    staged.append(tmp)  # list.append is atomic; the caller removes it on failure
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
