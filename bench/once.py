"""`syndicator once` as a user runs it: one JSONL file, start-up included (not run in CI).

Usage, from the repository root::

    .venv/bin/python bench/once.py [--size 20000] [--topics 200] [--runs 3]

The corpus (``bench/corpus.py``: one file of `size` records over `topics`
topics, and 100 edits) is read by a `dir` source. Each figure is a fresh
``python -m syndicator once`` process timed from launch to exit:

1. the cold import (empty database and output folder) in records/s;
2. a `once` with nothing to do: what every command pays before its work (the
   interpreter, imports, settings, the store opened);
3. the 100 edits dropped beside the file, one `once`;
4. the naive pipeline's poll of the same folder (``bench/naive.py``, which
   re-reads and re-renders everything), the baseline of 3.

Runs alternate and medians are reported (the machine is shared and noisy).
Peak resident memory is the largest of the process and its workers (the
validation and render workers are processes). Figures go to ``bench/out/once.json``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.corpus import DEFAULT_SEED, ensure_corpus  # noqa: E402
from bench.facets_procs import user_env  # noqa: E402
from bench.product import DROPPED_NAME, write_config  # noqa: E402

OUT = ROOT / "bench" / "out" / "once.json"
STEP_TIMEOUT = 1800


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _once(config: Path) -> dict[str, float]:
    """One `syndicator once`, launch to exit: wall seconds and peak RSS (MB, the
    largest of the process and its children, from /usr/bin/time when present)."""
    command = [sys.executable, "-m", "syndicator", "--config", str(config), "once"]
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    report = config.parent / "time.out"
    if timer:
        command = [timer, "-f", "%M", "-o", str(report), *command]
    started = time.perf_counter()
    subprocess.run(
        command,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=user_env(),
        timeout=STEP_TIMEOUT,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    peak = int(report.read_text().split()[-1]) / 1024 if timer else float("nan")
    return {"seconds": seconds, "peak_rss_mb": peak}


def _naive(source: Path, out: Path) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "naive.py"), str(source), str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def measure(
    size: int, topics: int, runs: int, work: Path, corpora: Path = ROOT / "bench" / "out"
) -> dict[str, Any]:
    """The figures of one corpus shape (cached under `corpora`), each the median of `runs`."""
    # The package's bytecode, as an install has it (and `make` compiles): where
    # PYTHONDONTWRITEBYTECODE is set, each start would compile every module.
    compileall.compile_dir(str(ROOT / "syndicator"), quiet=1)
    corpus, made = ensure_corpus(corpora, size, DEFAULT_SEED, files=1, topics=topics)
    _say(f"corpus: {size:,} records, {topics} topics in one file ({'made' if made else 'cached'})")
    cold: list[dict[str, float]] = []
    noop: list[dict[str, float]] = []
    edits: list[dict[str, float]] = []
    naive: list[float] = []
    for run in range(runs):
        _say(f"run {run + 1}/{runs}: cold, no-op, 100 edits, naive ...")
        shutil.rmtree(work, ignore_errors=True)
        source = work / "source"
        source.mkdir(parents=True)
        for path in corpus.files:
            os.symlink(path, source / path.name)
        config = write_config(work, source)
        cold.append(_once(config))
        noop.append(_once(config))
        shutil.copyfile(corpus.incremental, source / DROPPED_NAME)
        edits.append(_once(config))
        naive.append(_naive(source, work / "naive")["seconds"])

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    cold_s, noop_s, edit_s = (median(r, "seconds") for r in (cold, noop, edits))
    naive_s = statistics.median(naive)
    return {
        "size": size,
        "topics": topics,
        "runs": runs,
        "cold": {"seconds": cold_s, "records_per_s": size / cold_s, "runs": cold},
        "cold_peak_rss_mb": max(row["peak_rss_mb"] for row in cold),
        "noop": {"seconds": noop_s, "runs": noop},
        "edits": {"seconds": edit_s, "runs": edits},
        "naive_poll": {"seconds": naive_s, "runs": naive},
        "edits_ratio": naive_s / edit_s,
    }


def table(r: dict[str, Any]) -> list[str]:
    """The figures beside their targets."""
    rows = [
        f"{r['size']:,} records, {r['topics']} topics, one JSONL file; medians of {r['runs']}",
        f"cold `once`, start-up included   {r['cold']['seconds']:8.2f} s  "
        f"{r['cold']['records_per_s']:8,.0f} records/s  (target >= 4,000/s)",
        f"  peak RSS, largest process       {r['cold_peak_rss_mb']:8.0f} MB",
        f"no-op `once` (start-up)           {r['noop']['seconds']:8.2f} s",
        f"100-edit `once`                   {r['edits']['seconds']:8.2f} s",
        f"naive pipeline's poll             {r['naive_poll']['seconds']:8.2f} s  "
        f"ratio {r['edits_ratio']:.1f}x  (target >= 15x)",
    ]
    return rows


def main() -> int:
    """Run the scenario, print the table, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    work = ROOT / "bench" / "out" / f"work-once-{args.size}"
    try:
        results = measure(args.size, args.topics, args.runs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    _say()
    for line in table(results):
        _say(line)
    _say(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
