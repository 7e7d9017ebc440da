"""How builds use memory: freed blocks kept for reuse while they run, and handed
back after batches of entries rendered from the store and at the end."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from syndicator.build import run as run_module
from tests.cycle import Cycle
from tests.deployment import Deployment

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Cycle]

# In a fresh interpreter: how many blocks glibc serves by mmap (`hblks`) grows
# by one for a 1 MB block by default, and not once `keep_freed_memory` ran.
_MMAPPED_BLOCKS = textwrap.dedent(
    """
    import ctypes

    from syndicator.processes import keep_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost")]

    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = MallInfo2

    def mapped_for(size):
        before = mallinfo2().hblks
        block = bytearray(size)
        return mallinfo2().hblks - before

    print(mapped_for(1 << 20))
    keep_freed_memory()
    print(mapped_for(2 << 20))
    """
)


def test_kept_freed_memory_serves_blocks_of_a_feed_file_from_the_heap() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _MMAPPED_BLOCKS],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.split() == ["1", "0"]


def test_builds_hand_memory_back_after_entries_rendered_from_the_store(
    deployment: Deployment,
    run_pipeline: Run,
    make_record: Make,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trims: list[int] = []
    monkeypatch.setattr(run_module, "return_freed_memory", lambda: trims.append(1))
    monkeypatch.setattr(run_module, "_WRITE_BATCH", 6)  # two topics' feeds a batch
    monkeypatch.setattr(run_module, "_TRIM_AFTER_ENTRIES", 8)
    topics = [f"desk-{i}" for i in range(6)]
    records = [
        make_record(f"m{i:02d}", topics=[topics[i % 6]], updated_at=f"2026-06-01T02:{i:02d}:00Z")
        for i in range(30)
    ]
    deployment.write_jsonl("a.jsonl", records)
    cycle = run_pipeline()
    cycle.poll()
    # 7 feeds (all and six topics) rendered from the store: all's 30 entries,
    # then 5 each. A trim after the batches that reach 8 since the last, and one
    # at the end.
    first = cycle.build()
    assert first.reused_entries == 0
    assert len(trims) == 3 + 1

    # A new title: every feed again, with its entries reused from the files.
    # Nothing rendered from the store, so only the trim at the end.
    trims.clear()
    deployment.config.write_text(
        deployment.config.read_text().replace('title = "Test Desk"', 'title = "Other Desk"')
    )
    again = run_pipeline().build()
    assert again.reused_entries == 30 * 3 + 30 * 3
    assert len(trims) == 1
