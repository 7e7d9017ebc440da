"""FolderWatcher against a real temporary folder."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import syndicator.sources.watch as watch_module
from syndicator.sources.watch import FolderWatcher, filesystem_type, is_record_file

#: How long to watch for callbacks that should not happen.
SETTLE = 1.0


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Calls:
    """A thread-safe callback counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self) -> None:
        with self._lock:
            self.count += 1


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def watcher_for(calls: Calls) -> Iterator[Callable[..., FolderWatcher]]:
    started: list[FolderWatcher] = []

    def make(
        folder: Path, *, force_polling: bool = False, mounts_file: Path = watch_module._MOUNTS
    ) -> FolderWatcher:
        watcher = FolderWatcher(folder, calls, force_polling=force_polling, mounts_file=mounts_file)
        started.append(watcher)
        watcher.start()
        return watcher

    yield make
    for watcher in started:
        assert watcher.stop(timeout=10)


@pytest.mark.parametrize(
    ("name", "relevant"),
    [
        ("a.json", True),
        ("feed.jsonl", True),
        ("/abs/dir/b.json", True),
        (".a.json", False),
        (".hidden.jsonl", False),
        ("a.json.tmp", False),
        ("a.json~", False),
        ("a.tmp", False),
        ("notes.txt", False),
        ("a.json.swp", False),
    ],
)
def test_record_files(name: str, relevant: bool) -> None:
    assert is_record_file(name) is relevant


MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
proc /proc proc rw 0 0
server:/export /mnt/articles nfs4 rw,vers=4.2 0 0
//nas/share /mnt/my\\040share cifs rw 0 0
tmpfs /mnt/articles/cache tmpfs rw 0 0
"""


@pytest.mark.parametrize(
    ("folder", "kind"),
    [
        ("/srv/seeds", "ext4"),
        ("/mnt/articles", "nfs4"),
        ("/mnt/articles/today", "nfs4"),
        ("/mnt/articles/cache/x", "tmpfs"),
        ("/mnt/articlesX", "ext4"),
        ("/mnt/my share/in", "cifs"),
    ],
)
def test_filesystem_type_takes_the_longest_mount_point(folder: str, kind: str) -> None:
    assert filesystem_type(Path(folder), MOUNTS) == kind


def test_writing_a_record_file_calls_back(
    tmp_path: Path, calls: Calls, watcher_for: Callable[..., FolderWatcher]
) -> None:
    watcher = watcher_for(tmp_path)
    assert watcher.wait_ready(15)
    (tmp_path / "a.json").write_text("{}", encoding="utf-8")
    assert wait_for(lambda: calls.count >= 1)


def test_appending_to_a_jsonl_file_calls_back(
    tmp_path: Path, calls: Calls, watcher_for: Callable[..., FolderWatcher]
) -> None:
    log = tmp_path / "feed.jsonl"
    log.write_text("{}\n", encoding="utf-8")
    watcher = watcher_for(tmp_path)
    assert watcher.wait_ready(15)
    with log.open("a", encoding="utf-8") as handle:
        handle.write("{}\n")
    assert wait_for(lambda: calls.count >= 1)


def test_an_atomic_rename_into_place_calls_back(
    tmp_path: Path, calls: Calls, watcher_for: Callable[..., FolderWatcher]
) -> None:
    watcher = watcher_for(tmp_path)
    assert watcher.wait_ready(15)
    temp = tmp_path / ".b.json.tmp"
    temp.write_text("{}", encoding="utf-8")
    temp.rename(tmp_path / "b.json")
    assert wait_for(lambda: calls.count >= 1)


def test_other_files_are_ignored(
    tmp_path: Path, calls: Calls, watcher_for: Callable[..., FolderWatcher]
) -> None:
    watcher = watcher_for(tmp_path)
    assert watcher.wait_ready(15)
    for name in (".a.json", "a.json.tmp", "a.json~", "notes.txt"):
        (tmp_path / name).write_text("{}", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.json").write_text("{}", encoding="utf-8")
    time.sleep(SETTLE)
    assert calls.count == 0
    (tmp_path / "c.json").write_text("{}", encoding="utf-8")  # still watching
    assert wait_for(lambda: calls.count >= 1)


def test_a_burst_of_writes_gives_a_handful_of_callbacks(
    tmp_path: Path, calls: Calls, watcher_for: Callable[..., FolderWatcher]
) -> None:
    watcher = watcher_for(tmp_path)
    assert watcher.wait_ready(15)
    for index in range(1000):
        (tmp_path / f"{index:04}.json").write_text(f'{{"n": {index}}}', encoding="utf-8")
    assert wait_for(lambda: calls.count >= 1)
    time.sleep(SETTLE)
    assert 1 <= calls.count < 20
    assert watcher.batches == calls.count


def test_stop_ends_the_thread(tmp_path: Path, calls: Calls) -> None:
    watcher = FolderWatcher(tmp_path, calls)
    watcher.start()
    assert watcher.wait_ready(15)
    assert watcher.stop(timeout=5) is True
    assert not watcher.watching
    assert watcher._thread is not None and not watcher._thread.is_alive()
    (tmp_path / "late.json").write_text("{}", encoding="utf-8")
    time.sleep(SETTLE)
    assert calls.count == 0


def test_stop_before_start_and_twice_is_harmless(tmp_path: Path, calls: Calls) -> None:
    watcher = FolderWatcher(tmp_path, calls)
    assert watcher.stop() is True
    assert watcher.stop() is True


def test_force_polling_notices_writes(
    tmp_path: Path, calls: Calls, watcher_for: Callable[..., FolderWatcher]
) -> None:
    watcher = watcher_for(tmp_path, force_polling=True)
    assert watcher.wait_ready(15)
    (tmp_path / "a.json").write_text("{}", encoding="utf-8")
    assert wait_for(lambda: calls.count >= 1)


def test_a_missing_folder_falls_back_with_one_warning(
    tmp_path: Path,
    calls: Calls,
    watcher_for: Callable[..., FolderWatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    watcher = watcher_for(tmp_path / "absent")
    assert watcher.wait_ready(15) is False
    assert wait_for(lambda: watcher._thread is not None and not watcher._thread.is_alive())
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "scheduled poll" in warnings[0].getMessage()


def test_a_network_filesystem_falls_back_unless_polling_is_forced(
    tmp_path: Path,
    calls: Calls,
    watcher_for: Callable[..., FolderWatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(f"server:/x {tmp_path.resolve()} nfs rw 0 0\n", encoding="utf-8")
    watcher = watcher_for(tmp_path, mounts_file=mounts)
    assert watcher.wait_ready(15) is False
    assert "nfs filesystem" in caplog.text
    polling = watcher_for(tmp_path, mounts_file=mounts, force_polling=True)
    assert polling.wait_ready(15) is True


def test_a_watchfiles_error_falls_back(
    tmp_path: Path,
    calls: Calls,
    watcher_for: Callable[..., FolderWatcher],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def limit_reached(*_args: object, **_kwargs: object) -> Iterator[set[object]]:
        raise OSError("OS file watch limit reached")

    monkeypatch.setattr(watch_module, "watch", limit_reached)
    watcher = watcher_for(tmp_path)
    assert watcher.wait_ready(15) is False
    assert "OS file watch limit reached" in caplog.text
    assert "scheduled poll" in caplog.text


def test_a_failing_callback_does_not_end_the_watch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    def flaky() -> None:
        seen.append(1)
        if len(seen) == 1:
            raise RuntimeError("trigger gone")

    watcher = FolderWatcher(tmp_path, flaky)
    watcher.start()
    try:
        assert watcher.wait_ready(15)
        (tmp_path / "a.json").write_text("{}", encoding="utf-8")
        assert wait_for(lambda: len(seen) == 1)
        time.sleep(0.3)  # let the first batch close
        (tmp_path / "b.json").write_text("{}", encoding="utf-8")
        assert wait_for(lambda: len(seen) >= 2)
        assert watcher.watching
    finally:
        assert watcher.stop(timeout=10)
    assert "folder change callback failed" in caplog.text
