"""The facets benchmark: entity and language feeds beside the same corpus without them.

Usage, from the repository root (or ``bench/run.py --only facets``)::

    .venv/bin/python bench/facets.py --size 100000
    .venv/bin/python bench/facets.py --size 5000 --entity-feeds 200

The corpus (``bench/facets_corpus.py``) comes in two variants, the same
records with 8 entities and a language each ("with facets") and with
``entities: []`` and no ``lang`` ("without"). Every step runs the product as
its user does, in fresh processes (``bench/facets_procs.py``):

1. cold import: ``syndicator once`` on a fresh database, both variants;
2. the 100-edit poll: ``once`` after dropping the edits (which move entities),
   both variants, after a no-change ``once`` of each;
3. ``syndicator run`` on each database: process start to the first 200 of
   ``/feeds/all.atom`` and (with facets) of an entity feed;
4. every topic feed and ``--entity-feeds`` random entity feeds, 3 formats,
   requested once each: first-request latency, then the daemon's resident
   memory, all processes (the baseline daemon serves the topic feeds alone);
5. full rebuild: ``site.title`` changed, the daemon restarted (its first build
   renders every feed); the same set served again, resident memory after;
6. freshness: a one-record edit of an article of an entity whose feed is
   cached, written into the watched folder; the entity feed is polled until it
   shows the edit: from the write, and from the poll's ``poll ok`` log line;
7. requests/s of 200 and 304 for one entity feed, against nginx serving the
   same bytes (wrk; skipped with a message when nginx or wrk is missing);
8. disk used by ``feeds.output_dir``, with facets and without.

Prints a table and writes ``bench/out/facets.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import facets_http  # noqa: E402
from bench.corpus import DEFAULT_SEED  # noqa: E402
from bench.facets_corpus import FacetCorpus, ensure_facet_corpus  # noqa: E402
from bench.facets_procs import (  # noqa: E402
    DaemonProc,
    RssSampler,
    disk_usage,
    log_time,
    run_once,
    summary,
    tree_rss_mb,
    write_config,
)
from bench.facets_table import table  # noqa: E402
from bench.http_bench import _free_port  # noqa: E402
from syndicator.core.entities import entity_key  # noqa: E402

__all__ = ["main", "section", "table", "write"]

OUT = ROOT / "bench" / "out" / "facets.json"
FORMATS = ("rss", "atom", "json")
EDIT_FILE = "zz-edits.jsonl"
#: Seconds a freshness sample may take before the run fails.
FRESH_DEADLINE = 30.0


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class _Variant:
    """One variant's work folder: its source (the corpus linked in), config and database."""

    def __init__(self, corpus: FacetCorpus, work: Path, name: str) -> None:
        self.name = name
        self.corpus = corpus
        self.dir = work / f"facets-{name}"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.source = self.dir / "source"
        self.source.mkdir(parents=True)
        for path in sorted(corpus.records(name).glob("*.jsonl")):
            try:
                os.link(path, self.source / path.name)
            except OSError:
                shutil.copyfile(path, self.source / path.name)
        self.port = _free_port()
        self.config = write_config(self.dir, self.source, port=self.port)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.dir / 'syndicator.db'}?mode=ro", uri=True)

    def feed_names(self, kind: str | None) -> list[str]:
        """Topic feeds (with ``all``) when `kind` is None, else that facet kind's."""
        with self.db() as conn:
            if kind is None:
                query = "SELECT name FROM topics WHERE name NOT LIKE '%/%'"
            else:
                query = f"SELECT name FROM topics WHERE name LIKE '{kind}/%' AND articles > 0"
            names = sorted(row[0] for row in conn.execute(query))
        if kind is None and "all" not in names:
            names.insert(0, "all")
        return names


# -- 1-2: once ----------------------------------------------------------------------------


def _imports(with_: _Variant, without: _Variant) -> dict[str, Any]:
    out: dict[str, Any] = {}
    size = with_.corpus.size
    for variant in (without, with_):
        _say(f"facets 1: cold import, {variant.name} facets ...")
        cold = run_once(variant.config)
        cold["records_per_s"] = round(size / cold["seconds"], 1)
        out.setdefault("cold", {})[variant.name] = cold
    cold = out["cold"]
    cold["ratio"] = round(cold["with"]["seconds"] / cold["without"]["seconds"], 3)
    cold["poll_ratio"] = round(cold["with"]["poll_seconds"] / cold["without"]["poll_seconds"], 3)
    for variant in (without, with_):
        _say(f"facets 2: 100-edit poll, {variant.name} facets ...")
        noop = run_once(variant.config)
        shutil.copyfile(variant.corpus.edits(variant.name), variant.source / EDIT_FILE)
        inc = run_once(variant.config)
        inc["noop_once_seconds"] = noop["seconds"]
        out.setdefault("incremental", {})[variant.name] = inc
    inc = out["incremental"]
    inc["ratio"] = round(inc["with"]["seconds"] / inc["without"]["seconds"], 3)
    inc["poll_ratio"] = round(inc["with"]["poll_seconds"] / inc["without"]["poll_seconds"], 3)
    return out


# -- 3-5: the daemon ------------------------------------------------------------------------


def _serve(daemon: DaemonProc, paths: list[str]) -> dict[str, Any]:
    """GET each path once; latencies; fails on anything but 200."""
    lat: list[float] = []
    for path in paths:
        status, _, seconds = daemon.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}, expected 200")
        lat.append(seconds)
    return summary(lat)


def _paths(names: list[str]) -> list[str]:
    return [f"/feeds/{name}.{fmt}" for name in names for fmt in FORMATS]


def _serve_set(daemon: DaemonProc, topics: list[str], entities: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"topics": _serve(daemon, _paths(topics))}
    if entities:
        out["entities"] = _serve(daemon, _paths(entities))
    out["rss_mb"] = round(tree_rss_mb(daemon.pid), 1)
    return out


def _baseline_daemon(without: _Variant) -> dict[str, Any]:
    _say("facets 3-4: daemon without facets: start, every topic feed ...")
    daemon = DaemonProc(without.config, without.port)
    daemon.start()
    try:
        start = {"all_atom_s": round(daemon.first_200("/feeds/all.atom"), 3)}
        served = _serve_set(daemon, without.feed_names(None), [])
    finally:
        daemon.stop()
    return {"start": start, "served": served}


def _facet_daemon(
    with_: _Variant, sample: int, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    topics = with_.feed_names(None)
    entities = with_.feed_names("entities")
    langs = with_.feed_names("lang")
    chosen = sorted(random.Random(seed).sample(entities, min(sample, len(entities))))
    out: dict[str, Any] = {
        "topic_feeds": len(topics),
        "entity_feeds": len(entities),
        "lang_feeds": len(langs),
        "entity_feeds_requested": len(chosen),
    }
    _say(f"facets 3: daemon with facets ({len(entities):,} entity feeds): start ...")
    daemon = DaemonProc(with_.config, with_.port)
    daemon.start()
    try:
        out["start"] = {
            "all_atom_s": round(daemon.first_200("/feeds/all.atom"), 3),
            "entity_s": round(daemon.first_200(f"/feeds/{chosen[0]}.atom"), 3),
            "entity": chosen[0],
        }
        # The start-up poll (nothing changed) ends before the figures; its build
        # has nothing to do and logs nothing, so a second covers it.
        daemon.wait_log(lambda r: str(r.get("message", "")).startswith("poll ok"), 0)
        time.sleep(1.0)
        _say("facets 4: every topic feed and the entity sample, 3 formats ...")
        # The entity measured at start-up is requested once more; the rest never were.
        out["served"] = _serve_set(daemon, topics, chosen[1:])
        out["served"]["lang"] = _serve(daemon, _paths(langs))
        # SPEC §4b: the list of every entity feed.
        out["entities_opml_status"] = daemon.get("/feeds/entities.opml")[0]
    finally:
        daemon.stop()
    _say("facets 5: full rebuild (site.title changed, daemon restarted) ...")
    write_config(with_.dir, with_.source, port=with_.port, title="Newsroom, rebuilt")
    daemon = DaemonProc(with_.config, with_.port)
    daemon.start()
    try:
        sampler = RssSampler(daemon.pid)
        built = daemon.wait_log(lambda r: str(r.get("message", "")).startswith("build:"), 0)
        peak = sampler.stop()
        out["rebuild"] = {
            "how": "site.title changed, daemon restarted: its first build renders every feed",
            "seconds_from_start": round(log_time(built) - daemon.started_wall, 3),
            "build": built["message"],
            "peak_rss_mb": peak,
        }
        _say("facets 5: the same set served again ...")
        out["served_after_rebuild"] = _serve_set(daemon, topics, chosen)
        _say("facets 6: freshness of a cached entity feed ...")
        out["fresh"] = _freshness(daemon, with_, args.fresh_samples)
        _say("facets 7: one entity feed under wrk, against nginx ...")
        out["http"] = facets_http.compare(daemon, _popular(with_), args.http_seconds)
    finally:
        daemon.stop()
    return out


def _popular(variant: _Variant) -> str:
    with variant.db() as conn:
        row = conn.execute(
            "SELECT name FROM topics WHERE name LIKE 'entities/%' ORDER BY articles DESC LIMIT 1"
        ).fetchone()
    return f"/feeds/{row[0]}.rss"


# -- 6: freshness ---------------------------------------------------------------------------


def _fresh_records(variant: _Variant, count: int) -> list[dict[str, Any]]:
    """The newest records of the corpus that the edits did not touch."""
    edited = {
        json.loads(line)["slug"]
        for line in variant.corpus.edits(variant.name).read_text().splitlines()
    }
    last = sorted(variant.corpus.records(variant.name).glob("*.jsonl"))[-1]
    lines = last.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in reversed(lines)]
    return [r for r in records if r["slug"] not in edited][:count]


def _freshness(daemon: DaemonProc, variant: _Variant, samples: int) -> dict[str, Any]:
    from_write: list[float] = []
    from_commit: list[float] = []
    rows = []
    for n, record in enumerate(_fresh_records(variant, samples)):
        spelling = record["entities"][n % len(record["entities"])]
        with variant.db() as conn:
            row = conn.execute(
                "SELECT name FROM entities WHERE key = ?", (entity_key(spelling),)
            ).fetchone()
        path = f"/feeds/{row[0]}.atom"
        status, _, _ = daemon.get(path)  # cached now
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        marker = f"Freshness sample {n} {time.time_ns()}"
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        edit = {**record, "title": marker, "updated_at": now}
        partial = variant.source / f".fresh-{n}.json"
        partial.write_text(json.dumps(edit), encoding="utf-8")
        written_wall = time.time()
        written = time.perf_counter()
        os.replace(partial, variant.source / f"zz-fresh-{n}.json")
        while marker.encode() not in daemon.get(path)[1]:
            if time.perf_counter() - written > FRESH_DEADLINE:
                raise RuntimeError(f"{path} did not show the edit within {FRESH_DEADLINE} s")
            time.sleep(0.005)
        seen = time.perf_counter()
        seen_wall = written_wall + (seen - written)
        polled = daemon.wait_log(
            lambda r: (
                str(r.get("message", "")).startswith("poll ok")
                and int(r.get("counts", {}).get("updated", 0)) >= 1
            ),
            written_wall,
            10,
        )
        from_write.append(seen - written)
        from_commit.append(seen_wall - log_time(polled))
        rows.append({"feed": path, "from_write_ms": round((seen - written) * 1000, 1)})
        time.sleep(0.3)  # the next sample starts with the daemon idle
    return {
        "from_write": summary(from_write),
        "from_poll_log_line": summary(from_commit),
        "samples": rows,
    }


# -- the section ----------------------------------------------------------------------------


def section(
    work: Path, cache: Path, size: int, seed: int = DEFAULT_SEED, **options: Any
) -> dict[str, Any]:
    """Run every step on a corpus of `size` records; return the figures."""
    args = argparse.Namespace(
        entity_feeds=options.get("entity_feeds", 1000),
        fresh_samples=options.get("fresh_samples", 5),
        http_seconds=options.get("http_seconds", 5),
    )
    tick = time.perf_counter()
    corpus, made = ensure_facet_corpus(cache, size, seed)
    results: dict[str, Any] = {
        "corpus": {**corpus.manifest(), "path": str(corpus.root), "generated": made},
        "corpus_seconds": round(time.perf_counter() - tick, 1),
    }
    _say(f"facets corpus: {size:,} records in {corpus.root} ({'generated' if made else 'cached'})")
    with_, without = _Variant(corpus, work, "with"), _Variant(corpus, work, "without")
    results.update(_imports(with_, without))
    results["disk_after_import"] = {v.name: disk_usage(v.dir / "public") for v in (with_, without)}
    results["baseline_daemon"] = _baseline_daemon(without)
    results["daemon"] = _facet_daemon(with_, args.entity_feeds, seed, args)
    results["disk"] = {v.name: disk_usage(v.dir / "public") for v in (with_, without)}
    return results


def write(results: dict[str, Any], path: Path) -> None:
    """Write the results, with their table, as JSON."""
    results["table"] = table(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--entity-feeds", type=int, default=1000, help="entity feeds to request")
    parser.add_argument("--fresh-samples", type=int, default=5, help="freshness edits")
    parser.add_argument("--http-seconds", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--keep", action="store_true", help="keep the work folders afterwards")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    work = args.work_dir / f"work-facets-{args.size}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        results = section(
            work,
            args.work_dir,
            args.size,
            args.seed,
            entity_feeds=args.entity_feeds,
            fresh_samples=args.fresh_samples,
            http_seconds=args.http_seconds,
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    results["command"] = " ".join([Path(sys.executable).name, *sys.argv])
    results["seconds"] = round(time.perf_counter() - started, 1)
    write(results, args.out)
    _say()
    for line in results["table"]:
        _say(line)
    _say(f"\nwritten to {args.out} in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
