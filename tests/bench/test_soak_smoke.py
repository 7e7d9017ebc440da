"""Smoke test of `bench/soak.py` at a tiny size, so it cannot rot.

Three simulated days of 20 articles with a one-day retention window: the
figures mean nothing, but the checks the soak makes must hold even here.
"""

from __future__ import annotations

from pathlib import Path

from bench.soak import ENDPOINTS, run_soak


def test_three_days_deliver_everything_and_prune_the_first(tmp_path: Path) -> None:
    # 100 a day: one tombstone a day from the second day (1 %), on by default.
    summary = run_soak(tmp_path / "soak", days=3, per_day=100, retention_days=1, month_days=1)
    assert summary["articles_deleted"] >= 1
    assert [month["day"] for month in summary["months"]] == [1, 2, 3]
    # Nothing lost: every event reached every endpoint (the flaky one after retries).
    answered = summary["receiver"]["ok"]
    assert len(answered) == ENDPOINTS
    assert all(count >= summary["events_created"] for count in answered.values())
    assert summary["open_deliveries_left"] == 0
    # Day 1's deliveries were pruned by day 3 (last attempted over a day before).
    last = summary["months"][-1]["rows"]
    assert last["articles"] == 300
    assert last["deliveries"] < summary["events_created"] * ENDPOINTS
    assert summary["months"][-1]["db_mb"] > 0 and summary["months"][-1]["rss_mb"] > 0
    memory = summary["months"][-1]["memory"]
    assert memory["python_kblocks"] > 0 and memory.get("sqlite_heap_mb", 1) > 0
