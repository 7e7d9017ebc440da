"""SQLite checkpoints run on the Store's own thread, not in committing transactions."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from syndicator.store.store import Store

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


def test_commit_leaves_the_checkpoint_to_the_background_thread(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(f"sqlite:///{db}")
    try:
        store.migrate()
        with store.db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        size_before = db.stat().st_size  # the schema is still only in the WAL
        with store.transaction(NOW) as tx:
            tx.set_source("s", NOW, {"x": "y" * 100_000})
        deadline = time.monotonic() + 10
        while db.stat().st_size <= size_before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert db.stat().st_size > size_before, "nothing was checkpointed"
        assert store.polls.source_state("s")[0] == NOW
    finally:
        store.close()
    assert not Path(f"{db}-wal").exists()  # the last connection folded the WAL in


def test_a_store_that_never_writes_starts_no_thread(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.migrate()
    store.polls.source_state("s")
    assert store.db._checkpointer is not None and store.db._checkpointer._thread is None
    store.close()
