"""`FolderWatcher`: a poll soon after a file of the `dir` source changes.

A background thread watches the source folder with ``watchfiles`` (inotify on
Linux, FSEvents on macOS) and calls ``on_change`` once per debounced batch of
changes to ``*.json`` / ``*.jsonl`` files. Dotfiles and the temporary files
editors and atomic writers leave beside them (``*.tmp``, ``*~``) are ignored,
like the folder source ignores them. Only the top level is watched: the source
reads no sub-folder.

Watching is an accelerator, never a requirement. When notifications cannot be
set up (the folder is on a network filesystem, where writes made on another
machine raise no event; the inotify limits are reached; ``watchfiles`` raises
for any reason) the watcher logs one warning and its thread ends: the
scheduled poll still picks every change up. ``force_polling=True`` makes
``watchfiles`` poll the folder with ``stat`` instead, which also works on
network filesystems.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, watch

__all__ = ["NETWORK_FILESYSTEMS", "FolderWatcher", "filesystem_type", "is_record_file"]

log = logging.getLogger(__name__)

#: Filesystem types whose change notifications miss writes made on other machines.
NETWORK_FILESYSTEMS = frozenset(
    {
        "9p",
        "afs",
        "ceph",
        "cifs",
        "fuse.gcsfuse",
        "fuse.glusterfs",
        "fuse.rclone",
        "fuse.s3fs",
        "fuse.sshfs",
        "glusterfs",
        "lustre",
        "ncpfs",
        "nfs",
        "nfs4",
        "smb3",
        "smbfs",
    }
)
_MOUNTS = Path("/proc/self/mounts")
_OCTAL = re.compile(r"\\([0-7]{3})")
_RECORD_SUFFIXES = (".json", ".jsonl")
_TEMP_SUFFIXES = (".tmp", "~")
# How long the Rust side waits before giving the thread a turn with no event;
# the first such turn confirms that notifications are set up.
_READY_TIMEOUT_MS = 1000


def is_record_file(path: str) -> bool:
    """Whether a change to `path` can change what the folder source reads."""
    name = Path(path).name
    return (
        not name.startswith(".")
        and name.endswith(_RECORD_SUFFIXES)
        and not name.endswith(_TEMP_SUFFIXES)
    )


def _filter(_change: Change, path: str) -> bool:
    return is_record_file(path)


def filesystem_type(folder: Path, mounts: str) -> str | None:
    """The type of the filesystem holding `folder`, from a ``/proc/self/mounts`` text."""
    target = str(folder.resolve())
    best: tuple[int, str] | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # Spaces and tabs in mount points are written as octal escapes (\040).
        point = _OCTAL.sub(lambda match: chr(int(match.group(1), 8)), fields[1])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), fields[2])
    return None if best is None else best[1]


class FolderWatcher:
    """Calls `on_change` soon after a record file in `folder` is written, moved or removed."""

    def __init__(
        self,
        folder: Path,
        on_change: Callable[[], object],
        *,
        force_polling: bool = False,
        debounce_ms: int = 300,
        step_ms: int = 50,
        mounts_file: Path = _MOUNTS,
    ) -> None:
        self.folder = folder
        self._on_change = on_change
        self._force_polling = force_polling
        self._debounce_ms = debounce_ms
        self._step_ms = step_ms
        self._mounts_file = mounts_file
        self._stop = threading.Event()
        self._settled = threading.Event()  # watching confirmed, or given up
        self._watching = False
        self._thread: threading.Thread | None = None
        self.batches = 0

    @property
    def watching(self) -> bool:
        """Whether change notifications are set up and running."""
        return self._watching and not self._stop.is_set()

    def start(self) -> None:
        """Start watching on a background thread (a second call does nothing)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="folder-watch", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until watching is confirmed (True) or was given up (False)."""
        self._settled.wait(timeout)
        return self.watching

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Stop watching; wait up to `timeout` for the thread (False: still running)."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        try:
            problem = self._unsupported()
            if problem is not None:
                self._give_up(problem)
                return
            changes_seen = watch(
                self.folder,
                watch_filter=_filter,
                debounce=self._debounce_ms,
                step=self._step_ms,
                stop_event=self._stop,
                rust_timeout=_READY_TIMEOUT_MS,
                yield_on_timeout=True,
                raise_interrupt=False,
                # None keeps watchfiles' own detection (WATCHFILES_FORCE_POLLING, WSL).
                force_polling=True if self._force_polling else None,
                recursive=False,
            )
            for changes in changes_seen:
                if not self._watching:
                    self._watching = True
                    self._settled.set()
                    log.info("watching %s for new records", self.folder)
                if changes:
                    self._notify()
        except Exception as exc:
            self._give_up(f"{type(exc).__name__}: {exc}")
        finally:
            self._watching = False
            self._settled.set()

    def _unsupported(self) -> str | None:
        """Why notifications would not work for this folder, if we can tell up front."""
        if self._force_polling:
            return None
        try:
            mounts = self._mounts_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None  # not Linux, or no /proc: let watchfiles try
        kind = filesystem_type(self.folder, mounts)
        if kind in NETWORK_FILESYSTEMS:
            return f"it is on a {kind} filesystem, where writes from other machines raise no event"
        return None

    def _give_up(self, reason: str) -> None:
        log.warning(
            "not watching %s for changes (%s); the scheduled poll still picks them up",
            self.folder,
            reason,
        )

    def _notify(self) -> None:
        self.batches += 1
        try:
            self._on_change()
        except Exception:
            log.exception("folder change callback failed")
