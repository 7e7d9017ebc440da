"""Syndicator's own pipeline, one measured step per fresh process.

Each step runs as ``python bench/product.py STEP WORKDIR`` in its own process
(so peak RSS is that step's alone) and prints one JSON object. ``WORKDIR``
holds ``syndicator.toml``, written by `write_config`, with the source folder,
the SQLite file and ``feeds.output_dir`` inside it.

Steps:

- ``cold``: the first poll of the whole source, then the build that writes
  every feed (``Poller.poll`` + ``Builder.build``, as ``syndicator once`` does).
- ``incremental``: a no-change poll and build first (what a daemon did before
  the edit; this also settles the start-up output check), then
  ``--drop FILE`` is copied into the source folder and one poll and build are
  timed, from poll start to feeds written.
- ``rebuild``: the site's title changed (as a user changes it), so the build
  renders every feed: new shells around the entries of the current files.
- ``rerender``: the site's URL changed, which every entry holds: every feed
  and every entry rendered from the store (what a new renderer also costs).

``--profile OUT`` wraps the timed part in cProfile and writes the stats there.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import json
import os
import resource
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from syndicator.build import Builder, BuildResult  # noqa: E402
from syndicator.config import Settings, load_settings  # noqa: E402
from syndicator.core.entities import language_label  # noqa: E402
from syndicator.core.urls import FEED_FORMATS  # noqa: E402
from syndicator.ingest import Poller  # noqa: E402
from syndicator.processes import collect_idle  # noqa: E402
from syndicator.wiring import make_builder, make_poller, make_workers, open_store  # noqa: E402

__all__ = ["DROPPED_NAME", "process_tree", "rss_kb", "write_config"]

CONFIG_NAME = "syndicator.toml"
#: The change file's name in the source folder; sorts after the corpus files.
DROPPED_NAME = "zz-incremental.jsonl"


def write_config(
    workdir: Path,
    source: Path,
    webhooks: list[dict[str, Any]] | None = None,
    content: str = "full",
) -> Path:
    """Write a config for a benchmark run in `workdir` (entries with `content`,
    `full` or `summary`); return its path."""
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "[site]",
        'title = "Newsroom"',
        'base_url = "http://127.0.0.1:8080"',
        "[source]",
        'kind = "dir"',
        f"path = {json.dumps(str(source))}",
        "[feeds]",
        f"output_dir = {json.dumps(str(workdir / 'public'))}",
        "max_entries = 50",
        f"content = {json.dumps(content)}",
        "[database]",
        f"url = {json.dumps('sqlite:///' + str(workdir / 'syndicator.db'))}",
        "[log]",
        'level = "WARNING"',
        "[delivery]",
        "allow_private_network = true",
    ]
    for hook in webhooks or []:
        lines.append("[[webhooks]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in hook.items()]
    path = workdir / CONFIG_NAME
    path.write_text("\n".join(lines) + "\n")
    return path


def _timed(profile: Path | None, step: Callable[[], Any]) -> tuple[Any, float]:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = step()
    if profiler is not None:
        profiler.disable()
    elapsed = time.perf_counter() - started
    if profiler is not None and profile is not None:
        profiler.dump_stats(str(profile))
    return result, elapsed


class _TreeRss:
    """Samples the RSS of this process and all its children every 50 ms
    (validation and render workers run beside the main process)."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_kb = max(self.peak_kb, sum(rss_kb(pid) for pid in process_tree(os.getpid())))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = task.read_text().split()
        except OSError:
            continue
        for child in children:
            found += process_tree(int(child))
    return found


def rss_kb(pid: int) -> int:
    """Resident memory of one process, in KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _hwm_mb() -> float:
    """Peak RSS so far (VmHWM), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build_figures(result: BuildResult) -> dict[str, Any]:
    return {
        "topics_rendered": len(result.topics),
        "feeds_rendered": len(result.topics) * len(FEED_FORMATS),
        "files_written": result.written,
        "entries_reused": result.reused_entries,
    }


def _build(builder: Builder, *, full: bool = False) -> BuildResult:
    # As `syndicator once` builds: files written, documents not kept in memory.
    return builder.build(full=full, keep_documents=False)


def _cold(poller: Poller, builder: Builder, profile: Path | None) -> dict[str, Any]:
    peaks: list[float] = []

    def step() -> tuple[Any, float, BuildResult]:
        changes = poller.poll()
        polled = time.perf_counter()
        peaks.append(_hwm_mb())
        return changes, polled, _build(builder)

    started = time.perf_counter()
    (changes, polled, built), seconds = _timed(profile, step)
    return {
        **changes.as_dict(),
        **_build_figures(built),
        "peak_rss_after_poll_mb": peaks[0],
        "seconds": seconds,
        "poll_seconds": polled - started,
        "build_seconds": seconds - (polled - started),
    }


def _incremental(
    poller: Poller, builder: Builder, drop: Path, profile: Path | None
) -> dict[str, Any]:
    tick = time.perf_counter()
    noop = poller.poll()
    _build(builder)
    noop_seconds = time.perf_counter() - tick
    _warm(builder)
    shutil.copyfile(drop, poller.settings.source.path / DROPPED_NAME)

    def step() -> tuple[Any, float, BuildResult]:
        changes = poller.poll()
        polled = time.perf_counter()
        return changes, polled, _build(builder)

    started = time.perf_counter()
    (changes, polled, built), seconds = _timed(profile, step)
    return {
        **changes.as_dict(),
        **_build_figures(built),
        "touched_topics": len(changes.touched_topics),
        "seconds": seconds,
        "poll_seconds": polled - started,
        "build_seconds": seconds - (polled - started),
        "noop_poll_seconds": noop_seconds,
        "noop_changed": noop.changed,
    }


def _warm(builder: Builder) -> None:
    """Load what a running daemon has loaded before an edit arrives: the modules
    a build renders with, the compiled page templates and the language names
    the listings use, which a process that has rendered nothing yet loads on
    its first rendering (a `once` pays them as start-up: `bench/once.py`
    measures that), its worker processes, loaded within a second of its
    start, and the collection it makes after every job."""
    importlib.import_module("syndicator.build.run")
    importlib.import_module("syndicator.render.opml")
    builder.templates.load()
    language_label("en")
    deadline = time.monotonic() + 60
    while not builder.workers.warm and builder.workers.count and time.monotonic() < deadline:
        time.sleep(0.01)
    collect_idle()


def _rebuild(builder: Builder, profile: Path | None) -> dict[str, Any]:
    # The changed setting makes the build full by itself (its fingerprint).
    built, seconds = _timed(profile, lambda: _build(builder))
    return {**_build_figures(built), "seconds": seconds}


def _changed_site(settings: Settings, step: str) -> Settings:
    """The settings a user changed before a `rebuild` (title) or `rerender` (URL)."""
    site = settings.site
    if step == "rebuild":
        site = site.model_copy(update={"title": f"{site.title} (renamed)"})
    elif step == "rerender":
        site = site.model_copy(update={"base_url": f"{site.base_url}/moved"})
    return settings.model_copy(update={"site": site})


def run_step(step: str, workdir: Path, drop: Path | None, profile: Path | None) -> dict[str, Any]:
    """Run one step in this process and return its figures."""
    started = time.perf_counter()
    sampler = _TreeRss()
    settings = _changed_site(load_settings(workdir / CONFIG_NAME, environ={}), step)
    store = open_store(settings)
    # As the daemon does: its worker processes start with it, load the
    # rendering modules, and serve every poll and build after.
    workers = make_workers(settings, keep_warm=True)
    workers.preload()
    try:
        poller = make_poller(settings, store, workers=workers)
        builder = make_builder(settings, store, workers)
        if step == "cold":
            figures = _cold(poller, builder, profile)
        elif step == "incremental":
            if drop is None:
                raise SystemExit("incremental needs --drop FILE")
            figures = _incremental(poller, builder, drop, profile)
        elif step in ("rebuild", "rerender"):
            figures = _rebuild(builder, profile)
        else:
            raise SystemExit(f"unknown step {step!r}")
    finally:
        workers.close()
        closing = time.perf_counter()
        store.close()  # waits for a WAL checkpoint still running in the background
    figures["close_seconds"] = time.perf_counter() - closing
    figures["process_seconds"] = time.perf_counter() - started
    figures["peak_rss_mb"] = _hwm_mb()
    # Validation and render workers (poll.processes): the largest one's peak.
    figures["peak_rss_worker_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # All processes together, sampled: the figure the memory target is about.
    figures["peak_rss_tree_mb"] = sampler.stop()
    return figures


def main() -> int:
    """Command-line entry point of the subprocess."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("step", choices=("cold", "incremental", "rebuild", "rerender"))
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--drop", type=Path)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    figures = run_step(args.step, args.workdir, args.drop, args.profile)
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
