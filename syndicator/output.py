"""Static output: feeds written under `feeds.output_dir` by atomic replace."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["OutputDir"]

_TMP_MARK = ".tmp-"


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

    def write(self, relpath: str, data: bytes) -> bool:
        """Replace the file with `data` unless it already holds exactly that; True if written."""
        target = self.root / relpath
        try:
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                return False
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}{_TMP_MARK}{os.getpid()}")
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
