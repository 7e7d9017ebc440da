"""Smoke test of the scale-out benchmark (``bench/scaleout.py``) at a tiny size.

Every configuration of the real run (1, 2 and 3 daemons over a throwaway
PostgreSQL cluster, 1 over SQLite) starts, delivers every event, is torn
down, and lands in the table and the JSON file. It measures nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run as bench_run
from bench import scaleout

RECORDS, ENDPOINTS = 6, 3


@pytest.mark.timeout(90)
def test_scaleout_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "scaleout.json"
    argv = ["--records", str(RECORDS), "--endpoints", str(ENDPOINTS), "--out", str(out)]
    assert scaleout.main([*argv, "--interval", "0.1", "--max-seconds", "20"]) == 0
    results = json.loads(out.read_text())
    measured = results["results"]
    assert [(m["backend"], m["processes"]) for m in measured] == [
        ("postgresql", 1),
        ("postgresql", 2),
        ("postgresql", 3),
        ("sqlite", 1),
    ]
    for m in measured:
        assert not m["timed_out"], m
        assert m["received"] == m["expected"] == RECORDS * ENDPOINTS
        assert m["duplicates"] == 0
        assert m["rate"] > 0
        assert len(m["per_process"]) == m["processes"]
    # One process: nothing competes for the queue, every outcome is recorded.
    assert measured[0]["each_webhook_id_once"] and measured[-1]["each_webhook_id_once"]
    assert measured[0]["ratio_to_postgresql_1"] == pytest.approx(1.0)
    assert measured[-1]["ratio_to_sqlite"] == pytest.approx(1.0)
    assert len(results["table"]) == 2 + len(measured)
    assert "scaleout" in bench_run.SECTIONS
