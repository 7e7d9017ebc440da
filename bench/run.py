"""The benchmark suite of issue 7: every figure beside its baseline, in one run.

Usage, from the repository root (``make bench`` runs the first)::

    .venv/bin/python bench/run.py --size 100000
    .venv/bin/python bench/run.py --size 10000 --only cold,incremental --profile

Generates (or reuses) the deterministic corpus under ``bench/out/``, then
measures, each step in a fresh process:

1. cold import of N records through to every feed written, and peak RSS;
   baseline: the naive pipeline's full run (``bench/naive.py``);
2. an incremental poll of 100 changed records dropped beside the N;
   baseline: the naive pipeline's poll (it re-reads and re-renders everything);
3. a full rebuild of every feed after a new site title (entries reused from the
   files), and after a new site URL (every entry rendered); baseline: the naive render;
4. HTTP requests/s for 200 and 304 of a 50-entry feed (``bench/http_bench.py``,
   wrk), against nginx serving the same bytes;
5. webhook fan-out to 100 endpoints with durability on, against bare aiohttp and
   httpx loops (fan-out and aiohttp interleaved over ``--webhook-rounds``, medians
   compared), and event→delivery latency with no backlog (``bench/webhooks.py``);
6. only with ``--only scaleout`` (needs PostgreSQL's server binaries): delivery
   throughput of 1, 2 and 3 daemons over PostgreSQL beside 1 over SQLite
   (``bench/scaleout.py``, also written to ``bench/out/scaleout.json``);
7. only with ``--only facets``: entity and language feeds beside the same corpus
   without them: import, edits, daemon start, first-request latency, memory,
   freshness, HTTP against nginx, disk (``bench/facets.py``, also written to
   ``bench/out/facets.json``).

Prints a table and writes ``bench/results.json``. ``--profile`` also runs the
cold import and the incremental poll under cProfile and writes the top entries
to ``bench/out/profile-*.txt``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import facets, http_bench, scaleout  # noqa: E402
from bench.corpus import DEFAULT_SEED, Corpus, ensure_corpus  # noqa: E402
from bench.product import write_config  # noqa: E402
from bench.webhooks import ENDPOINTS, hooks_config  # noqa: E402

__all__ = ["main", "run"]

BENCH = ROOT / "bench"
SECTIONS = ("cold", "incremental", "rebuild", "http", "webhooks", "scaleout", "facets")
#: Sections run only when asked for by name (long, or needing extra binaries).
ON_REQUEST = {"scaleout", "facets"}
STEP_TIMEOUT = 1800.0


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _child(script: str, *args: str, timeout: float = STEP_TIMEOUT) -> dict[str, Any]:
    """Run a bench script in a fresh interpreter; return the JSON it prints last."""
    cmd = [sys.executable, str(BENCH / script), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def _link_tree(files: list[Path], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for path in files:
        try:
            os.link(path, dest / path.name)
        except OSError:
            shutil.copyfile(path, dest / path.name)


# -- 1-3: pipeline ------------------------------------------------------------------------


def _pipeline(
    corpus: Corpus, work: Path, only: set[str], profile: bool, out_dir: Path, content: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    product = work / "product"
    source = product / "source"
    _link_tree(corpus.files, source)
    write_config(product, source, content=content)
    _say("cold import: syndicator ...")
    cold = _child("product.py", "cold", str(product))
    out["cold"] = {"syndicator": cold, "records_per_s": corpus.size / cold["seconds"]}
    if "cold" in only:
        _say("cold import: naive ...")
        naive = _child("naive.py", str(corpus.records_dir), str(work / "naive-cold"))
        out["cold"]["naive"] = naive
        out["cold"]["naive_records_per_s"] = corpus.size / naive["seconds"]
        out["cold"]["ratio"] = naive["seconds"] / cold["seconds"]
    if only & {"incremental", "rebuild"}:
        _say("incremental poll: syndicator ...")
        inc = _child("product.py", "incremental", str(product), "--drop", str(corpus.incremental))
        _say("incremental poll: naive ...")
        naive = _child("naive.py", str(source), str(work / "naive-poll"))
        out["incremental"] = {
            "syndicator": inc,
            "naive": naive,
            "ratio": naive["seconds"] / inc["seconds"],
        }
        if "rebuild" in only:
            _say("full rebuild: syndicator ...")
            rebuild = _child("product.py", "rebuild", str(product))
            _say("full rebuild, every entry: syndicator ...")
            rerender = _child("product.py", "rerender", str(product))
            out["rebuild"] = {
                "syndicator": rebuild,
                "every_entry": rerender,
                "naive_render_seconds": naive["render_seconds"],
                "ratio": naive["render_seconds"] / rebuild["seconds"],
                "every_entry_ratio": naive["render_seconds"] / rerender["seconds"],
            }
    if profile:
        out["profiles"] = _profile(corpus, work, out_dir)
    return out


def _profile(corpus: Corpus, work: Path, out_dir: Path) -> dict[str, str]:
    """Profiled cold import and incremental poll, in their own work folder."""
    product = work / "profiled"
    source = product / "source"
    _link_tree(corpus.files, source)
    write_config(product, source)
    reports: dict[str, str] = {}
    steps = (("cold", []), ("incremental", ["--drop", str(corpus.incremental)]), ("rebuild", []))
    for step, extra in steps:
        _say(f"profile: {step} ...")
        stats_file = out_dir / f"profile-{step}-{corpus.size}.prof"
        _child("product.py", step, str(product), *extra, "--profile", str(stats_file))
        text_file = stats_file.with_suffix(".txt")
        with text_file.open("w") as handle:
            stats = pstats.Stats(str(stats_file), stream=handle)
            stats.strip_dirs()
            for order in ("tottime", "cumulative"):
                handle.write(f"\n=== sorted by {order} ===\n")
                stats.sort_stats(order).print_stats(35)
        reports[step] = str(text_file)
    return reports


# -- 4: HTTP -----------------------------------------------------------------------------


def _http(seconds: int, out_dir: Path) -> dict[str, Any]:
    _say("http: nginx and the daemon's web layer under wrk ...")
    out_file = out_dir / "http.json"
    args = argparse.Namespace(
        duration=seconds, threads=2, connections=32, entries=50, out=str(out_file)
    )
    code = http_bench.run(args)
    if code != 0:
        return {"skipped": "nginx or wrk missing (apt-get install -y nginx wrk)"}
    data: dict[str, Any] = json.loads(out_file.read_text())
    return data


# -- 5: webhooks ----------------------------------------------------------------------------


def _webhooks(
    corpus: Corpus, work: Path, events: int, samples: int, endpoints: int, rounds: int
) -> dict[str, Any]:
    if importlib.util.find_spec("aiohttp") is None:
        return {"skipped": "aiohttp missing: pip install -e '.[bench]'"}
    port = http_bench._free_port()
    receiver = subprocess.Popen(
        [sys.executable, str(BENCH / "webhooks.py"), "receive", "--port", str(port)],
        cwd=ROOT,
    )
    try:
        http_bench._wait_listening(port, receiver)
        return _webhook_steps(corpus, work, port, events, samples, endpoints, rounds)
    finally:
        http_bench._stop(receiver)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda run: float(run["rate"]))
    return ordered[(len(ordered) - 1) // 2]


def _first_records(corpus: Corpus, count: int) -> list[bytes]:
    lines: list[bytes] = []
    for path in corpus.files:
        with path.open("rb") as handle:
            for line in handle:
                lines.append(line)
                if len(lines) >= count:
                    return lines
    return lines


def _webhook_steps(
    corpus: Corpus,
    work: Path,
    port: int,
    events: int,
    samples: int,
    endpoints: int,
    rounds: int = 3,
) -> dict[str, Any]:
    records = b"".join(_first_records(corpus, events))
    durables: list[dict[str, Any]] = []
    aios: list[dict[str, Any]] = []
    # Interleaved rounds, medians compared: the bare loop's rate alone swings
    # by half between runs on a small shared machine.
    for n in range(rounds):
        fan = work / f"webhooks-fanout-{n}"
        (fan / "source").mkdir(parents=True)
        (fan / "source" / "events.jsonl").write_bytes(records)
        write_config(fan, fan / "source", hooks_config(port, endpoints))
        _say(f"webhooks: durable fan-out of {events} events x {endpoints} endpoints ...")
        durables.append(_child("webhooks.py", "fanout", "--workdir", str(fan)))
        common = ["--workdir", str(fan), "--port", str(port), "--endpoints", str(endpoints)]
        concurrency = str(durables[-1]["max_concurrency"])
        _say("webhooks: bare aiohttp loop ...")
        aios.append(
            _child(
                "webhooks.py",
                "bare",
                *common,
                "--client",
                "aiohttp",
                "--concurrency",
                concurrency,
            )  # fmt: skip
        )
    durable, aio = _median_run(durables), _median_run(aios)
    _say("webhooks: bare httpx loop ...")
    limit = str(min(3000, events * endpoints))
    hx = _child(
        "webhooks.py", "bare", *common, "--client", "httpx", "--concurrency", concurrency,
        "--limit", limit,
    )  # fmt: skip
    template = work / "latency-template.json"
    template.write_bytes(_first_records(corpus, 1)[0])
    latency: dict[str, Any] = {}
    for fan_out, count in ((1, samples), (endpoints, max(1, samples // 4))):
        lat = work / f"webhooks-latency-{fan_out}"
        (lat / "source").mkdir(parents=True)
        write_config(lat, lat / "source", hooks_config(port, fan_out))
        _say(f"webhooks: latency, {count} events one at a time, {fan_out} endpoint(s) ...")
        latency[str(fan_out)] = _child(
            "webhooks.py", "latency", "--workdir", str(lat), "--port", str(port),
            "--samples", str(count), "--template", str(template),
        )  # fmt: skip
    return {
        "durable": durable,
        "aiohttp": aio,
        "httpx": hx,
        "rounds": {"durable": [d["rate"] for d in durables], "aiohttp": [a["rate"] for a in aios]},
        "ratio_to_aiohttp": durable["rate"] / aio["rate"] if aio["rate"] else None,
        "ratio_to_httpx": durable["rate"] / hx["rate"] if hx["rate"] else None,
        "latency": latency,
    }


# -- report ---------------------------------------------------------------------------------


def _row(name: str, ours: str, base: str, ratio: str, target: str, ok: bool | None) -> str:
    verdict = {True: "ok", False: "MISS", None: ""}[ok]
    return f"{name:34} {ours:>16} {base:>16} {ratio:>9}  {target:18} {verdict}"


def _table(results: dict[str, Any]) -> list[str]:
    rows = [_row("figure", "syndicator", "baseline", "ratio", "target", None), "-" * 104]
    cold = results.get("cold")
    if cold:
        s = cold["syndicator"]
        naive = cold.get("naive")
        rows.append(
            _row(
                "1 cold import (records/s)",
                f"{cold['records_per_s']:,.0f}",
                f"{cold['naive_records_per_s']:,.0f}" if naive else "-",
                f"{cold['ratio']:.1f}x" if naive else "-",
                ">= 10,000/s",
                cold["records_per_s"] >= 10_000,
            )
        )
        tree = s.get("peak_rss_tree_mb", s["peak_rss_mb"])
        rows.append(
            _row(
                "  peak RSS, all processes (MB)",
                f"{tree:,.0f}",
                f"{naive['peak_rss_mb']:,.0f}" if naive else "-",
                "",
                "<= 500 MB",
                tree <= 500,
            )
        )
        if "peak_rss_worker_mb" in s:
            rows.append(
                _row(
                    "  main / largest worker (MB)",
                    f"{s['peak_rss_mb']:,.0f} / {s['peak_rss_worker_mb']:,.0f}",
                    "",
                    "",
                    "",
                    None,
                )
            )
        if "peak_rss_after_poll_mb" in s:
            rows.append(
                _row(
                    "  peak RSS after poll (MB)",
                    f"{s['peak_rss_after_poll_mb']:,.0f}",
                    "",
                    "",
                    "",
                    None,
                )
            )
        rows.append(
            _row(
                "  poll / build (s)",
                f"{s['poll_seconds']:.1f} / {s['build_seconds']:.1f}",
                f"{naive['read_seconds']:.1f} / {naive['render_seconds']:.1f}" if naive else "-",
                "",
                "",
                None,
            )
        )
    inc = results.get("incremental")
    if inc:
        s, n = inc["syndicator"], inc["naive"]
        rows.append(
            _row(
                "2 incremental poll, 100 edits (s)",
                f"{s['seconds']:.3f}",
                f"{n['seconds']:.2f}",
                f"{inc['ratio']:.1f}x",
                ">= 50x",
                inc["ratio"] >= 50,
            )
        )
        rows.append(
            _row(
                "  feeds re-rendered",
                f"{s['feeds_rendered']}",
                f"{n['feeds_written']}",
                "",
                "",
                None,
            )
        )
        rows.append(
            _row("  no-change poll (s)", f"{s['noop_poll_seconds']:.3f}", "-", "", "", None)
        )
    reb = results.get("rebuild")
    if reb:
        rows.append(
            _row(
                "3 full rebuild, new title (s)",
                f"{reb['syndicator']['seconds']:.2f}",
                f"{reb['naive_render_seconds']:.2f}",
                f"{reb['ratio']:.1f}x",
                ">= 15x",
                reb["ratio"] >= 15,
            )
        )
        if "every_entry" in reb:
            rows.append(
                _row(
                    "  every entry again, new URL (s)",
                    f"{reb['every_entry']['seconds']:.2f}",
                    f"{reb['naive_render_seconds']:.2f}",
                    f"{reb['every_entry_ratio']:.1f}x",
                    "",
                    None,
                )
            )
    http = results.get("http")
    if http and "results" in http:
        by = {(r["scenario"], r["server"]): r for r in http["results"]}
        for scenario in ("200", "200 gzip", "304"):
            nginx = by.get((scenario, "nginx"))
            for (scen, server), r in by.items():
                if scen != scenario or server == "nginx" or nginx is None:
                    continue
                ratio = r["ratio_to_nginx"] or 0.0
                # The target applies to the stack the daemon runs (httptools + uvloop).
                judged = scenario != "200 gzip" and "httptools" in server
                rows.append(
                    _row(
                        f"4 HTTP {scenario} {server.removeprefix('syndicator ')}",
                        f"{r['rps']:,.0f}/s",
                        f"{nginx['rps']:,.0f}/s",
                        f"{ratio:.0%}",
                        ">= 35% of nginx" if judged else "",
                        ratio >= 0.35 if judged else None,
                    )
                )
    elif http:
        rows.append(_row("4 HTTP", "skipped", "", "", http.get("skipped", ""), None))
    hooks = results.get("webhooks")
    if hooks and "skipped" in hooks:
        rows.append(_row("5 webhooks", "skipped", "", "", hooks["skipped"], None))
    elif hooks:
        d, a, h = hooks["durable"], hooks["aiohttp"], hooks["httpx"]
        rows.append(
            _row(
                f"5 webhooks x{d['deliveries_queued'] // max(1, d['events'])}, durable (/s)",
                f"{d['rate']:,.0f}",
                f"{a['rate']:,.0f} aiohttp",
                f"{hooks['ratio_to_aiohttp']:.0%}",
                ">= 20% of aiohttp",
                hooks["ratio_to_aiohttp"] >= 0.2,
            )
        )
        rows.append(
            _row(
                "  vs bare httpx loop",
                "",
                f"{h['rate']:,.0f} httpx",
                f"{hooks['ratio_to_httpx']:.0%}",
                "",
                None,
            )
        )
        for endpoints, lat in hooks["latency"].items():
            rows.append(
                _row(
                    f"  latency {endpoints} endpoint(s) p50/p99",
                    f"{lat['p50_ms']:.0f}/{lat['p99_ms']:.0f} ms",
                    "",
                    "",
                    "p99 < 250 ms",
                    lat["p99_ms"] < 250,
                )
            )
    if results.get("scaleout"):
        rows += ["", *scaleout.table(results["scaleout"])]
    if results.get("facets"):
        rows += ["", *facets.table(results["facets"])]
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected sections; return everything measured."""
    only = set(args.only.split(",")) if args.only else set(SECTIONS) - ON_REQUEST
    unknown = only - set(SECTIONS)
    if unknown:
        raise SystemExit(f"--only: unknown section(s) {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    out_dir: Path = args.work_dir
    tick = time.perf_counter()
    corpus, made = ensure_corpus(out_dir, args.size, args.seed)
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "corpus": {
            **corpus.manifest(),
            "path": str(corpus.root),
            "generated_seconds": time.perf_counter() - tick if made else None,
        },
    }
    _say(f"corpus: {corpus.size:,} records in {corpus.root} ({'generated' if made else 'cached'})")
    work = out_dir / f"work-{args.size}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if only & {"cold", "incremental", "rebuild"}:
        results["feeds_content"] = args.content
        results.update(_pipeline(corpus, work, only, args.profile, out_dir, args.content))
    if "http" in only:
        results["http"] = _http(args.http_seconds, out_dir)
    if "webhooks" in only:
        results["webhooks"] = _webhooks(
            corpus,
            work,
            args.webhook_events,
            args.latency_samples,
            args.endpoints,
            args.webhook_rounds,
        )
    if "scaleout" in only:
        results["scaleout"] = scaleout.section(work, out_dir / "scaleout.json")
    if "facets" in only:
        _say("facets: entity and language feeds, with and without ...")
        results["facets"] = facets.section(
            work,
            out_dir,
            args.size,
            args.seed,
            entity_feeds=args.entity_feeds,
            http_seconds=args.http_seconds,
        )
        facets.write(results["facets"], out_dir / "facets.json")
    results["seconds"] = time.perf_counter() - started
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the table and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    parser.add_argument("--profile", action="store_true", help="also profile cold + incremental")
    parser.add_argument("--http-seconds", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--webhook-events", type=int, default=100, help="events to fan out")
    parser.add_argument("--endpoints", type=int, default=ENDPOINTS, help="webhook endpoints")
    parser.add_argument(
        "--webhook-rounds", type=int, default=3, help="interleaved fan-out/aiohttp rounds"
    )
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument(
        "--entity-feeds", type=int, default=1000, help="facets: entity feeds to request"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=BENCH / "out", help="corpus cache and scratch space"
    )
    parser.add_argument("--keep", action="store_true", help="keep bench/out/work-N afterwards")
    parser.add_argument(
        "--content",
        choices=("full", "summary"),
        default="full",
        help="`[feeds] content` of the product's pipeline (the naive one renders bodies)",
    )
    args = parser.parse_args(argv)
    results = run(args)
    table = _table(results)
    results["table"] = table
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    _say()
    _say(f"$ {results['command']}")
    _say(f"{results['corpus']['size']:,} records, {results['machine']['cpus']} CPUs")
    for line in table:
        _say(line)
    for step, path in results.get("profiles", {}).items():
        _say(f"profile of {step}: {path}")
    _say(f"\nwritten to {args.out} in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
