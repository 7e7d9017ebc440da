"""Smoke test of the benchmark suite (``bench/``) at a tiny size, so it cannot rot.

It checks that the corpus generator is deterministic and shaped as promised,
and that every benchmark runs end to end on 300 records and reports its
figures. It measures nothing: the figures of a run this small mean nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench import corpus as corpus_mod
from bench import floor as bench_floor
from bench import once as bench_once
from bench import run as bench_run

SIZE = 200


def test_corpus_is_deterministic_and_shaped_like_the_seed(tmp_path: Path) -> None:
    first = corpus_mod.generate(tmp_path / "a", SIZE, seed=7, files=3)
    second = corpus_mod.generate(tmp_path / "b", SIZE, seed=7, files=3)
    assert [p.read_bytes() for p in first.files] == [p.read_bytes() for p in second.files]
    assert first.incremental.read_bytes() == second.incremental.read_bytes()

    records = [orjson.loads(line) for p in first.files for line in p.read_bytes().splitlines()]
    assert len(records) == SIZE == first.manifest()["size"]
    assert len({r["slug"] for r in records}) == SIZE
    for record in records:
        assert 1 <= len(record["topics"]) <= 4
        # 4-7 KB targets; the last paragraph may overshoot a little.
        assert 4096 <= len(record["body_md"]) <= 8192
        assert "## " in record["body_md"] or "](https://" in record["body_md"]
    edits = [orjson.loads(line) for line in first.incremental.read_bytes().splitlines()]
    by_slug = {r["slug"]: r for r in records}
    assert len(edits) == corpus_mod.EDITS
    for edit in edits:
        old = by_slug[edit["slug"]]
        assert edit["title"] != old["title"] and edit["body_md"] != old["body_md"]
        assert edit["updated_at"] > max(r["updated_at"] for r in records)
    assert any(set(e["topics"]) != set(by_slug[e["slug"]]["topics"]) for e in edits)


def _main(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "results.json"
    argv = ["--size", str(SIZE), "--work-dir", str(tmp_path / "out"), "--out", str(out), *args]
    assert bench_run.main(argv) == 0
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def test_pipeline_benchmarks_run(tmp_path: Path) -> None:
    results = _main(tmp_path, "--only", "cold,incremental,rebuild")
    cold, inc = results["cold"], results["incremental"]
    assert cold["syndicator"]["created"] == SIZE
    assert cold["naive"]["records"] == SIZE
    assert inc["syndicator"]["updated"] == corpus_mod.EDITS
    assert 0 < inc["syndicator"]["feeds_rendered"] <= cold["syndicator"]["feeds_rendered"]
    # Edits may move articles into topics the first import had not seen.
    rebuilt = results["rebuild"]["syndicator"]["feeds_rendered"]
    assert rebuilt >= cold["syndicator"]["feeds_rendered"]
    # A new title renders every feed around the entries its file holds; a new
    # site URL, which entries hold too, renders every entry again.
    assert results["rebuild"]["syndicator"]["entries_reused"] > 0
    assert results["rebuild"]["every_entry"]["entries_reused"] == 0
    assert results["rebuild"]["every_entry"]["feeds_rendered"] == rebuilt
    assert any(line.startswith("2 incremental poll") for line in results["table"])


def test_webhook_benchmark_runs(tmp_path: Path) -> None:
    results = _main(
        tmp_path,
        *("--only", "webhooks", "--webhook-events", "3", "--endpoints", "4"),
        *("--latency-samples", "2"),
    )
    hooks = results["webhooks"]
    assert hooks["durable"]["delivered"] == hooks["durable"]["deliveries_queued"] == 12
    assert hooks["aiohttp"]["ok"] == 12
    # Three interleaved rounds by default; the figures are the median ones.
    assert len(hooks["rounds"]["durable"]) == len(hooks["rounds"]["aiohttp"]) == 3
    assert hooks["durable"]["rate"] == sorted(hooks["rounds"]["durable"])[1]
    assert all(lat["deliveries"] == lat["expected"] for lat in hooks["latency"].values())


def test_once_benchmark_runs(tmp_path: Path) -> None:
    results = bench_once.measure(SIZE, 10, 1, tmp_path / "work", corpora=tmp_path / "corpora")
    manifest = json.loads(next((tmp_path / "corpora").glob("*/manifest.json")).read_text())
    assert (manifest["size"], manifest["topics"], manifest["files"]) == (SIZE, 10, 1)
    assert results["cold"]["records_per_s"] > 0 and results["edits_ratio"] > 0
    assert results["naive_poll"]["seconds"] > 0
    assert any("100-edit `once`" in line for line in bench_once.table(results))


def test_floor_benchmark_times_every_step(tmp_path: Path) -> None:
    results = bench_floor.measure(SIZE, corpora=tmp_path / "corpora")
    assert results["records"] == SIZE
    steps = results["steps"]
    assert len(steps) == 9 and all(seconds >= 0 for seconds in steps.values())
    assert results["cpu_seconds"] == pytest.approx(sum(steps.values()))
    assert results["max_records_per_s"] == pytest.approx(
        SIZE / (results["cpu_seconds"] / results["cpus"])
    )
    assert any("perfectly parallel" in line for line in bench_floor.table(results))
