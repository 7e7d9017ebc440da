"""Scale-out: webhook delivery throughput of 1, 2, 3 daemons on PostgreSQL, 1 on SQLite.

All four side by side in one run (issue 8).

Usage, from the repository root::

    .venv/bin/python bench/scaleout.py                       # 500 records x 20 endpoints
    .venv/bin/python bench/run.py --only scaleout           # the same, inside the suite

For each configuration a fresh database (a new database in one throwaway
PostgreSQL cluster, `tests.postgres.running_cluster`, or a new SQLite file)
and N real ``syndicator run`` subprocesses on free ports, all with the same
config: K ``[[webhooks]]`` pointing at the suite's local receiver
(``bench/webhooks.py receive``, aiohttp answering 204 on 127.0.0.1), a short
poll interval. Once every daemon answers ``/healthz``, one JSONL file of M
records is dropped into the shared source folder; the builder commits M events
and M x K delivery rows, and every daemon's worker claims from the queue.

Figures per configuration:

- ``rate``: deliveries per second from the first to the last arrival at the
  receiver (its own timestamps);
- ``end_to_end_seconds``: from the file drop to the last arrival (adds the
  poll that commits the events);
- ``duplicates``: arrivals beyond one per delivery. Every delivery row has its
  own ``webhook-id``; when all M x K rows are ``delivered`` (each therefore
  reached the receiver at least once) and the receiver counted exactly M x K
  requests, no ``webhook-id`` arrived twice. Rows attempted more than once are
  listed by ``webhook-id`` (``resent``);
- ``per_process``: deliveries each daemon sent (its ``/metrics``);
- ``cpu_seconds``: CPU used during the delivery phase by the daemons, the
  receiver and PostgreSQL (``/proc``), beside ``cpu_budget`` (cores x seconds).

Every configuration is bounded (``--max-seconds``); every daemon is killed at
its end, and the receiver and the cluster at the end of the run, even on error.
Prints a table and writes ``bench/out/scaleout.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.http_bench import _free_port, _stop, _wait_listening  # noqa: E402
from bench.product import write_config  # noqa: E402
from bench.webhooks import hooks_config  # noqa: E402

__all__ = ["Setup", "main", "run", "section", "table", "write"]

BENCH = ROOT / "bench"
DEFAULT_OUT = BENCH / "out" / "scaleout.json"
#: `backend:processes` measured by default, in table order.
DEFAULT_SETUPS = ("postgresql:1", "postgresql:2", "postgresql:3", "sqlite:1")
READY_SECONDS = 30.0
#: How long to wait, after the last arrival, for every outcome to be committed.
RECORD_WAIT_SECONDS = 10.0
#: Never a proxy: every request of this benchmark goes to 127.0.0.1.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_TICKS = os.sysconf("SC_CLK_TCK")


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@dataclass(frozen=True, slots=True)
class Setup:
    """One measured configuration: a backend and a number of daemons."""

    backend: str  # "postgresql" or "sqlite"
    processes: int

    @property
    def label(self) -> str:
        """How the table names it, e.g. ``postgresql x2``."""
        return f"{self.backend} x{self.processes}"

    @classmethod
    def parse(cls, text: str) -> Setup:
        """``postgresql:3`` → Setup("postgresql", 3)."""
        backend, _, count = text.partition(":")
        if backend not in ("postgresql", "sqlite") or not count.isdigit() or int(count) < 1:
            raise ValueError(f"expected postgresql:N or sqlite:N, got {text!r}")
        if backend == "sqlite" and int(count) != 1:
            raise ValueError("one SQLite file belongs to one process (docs/deploy.md)")
        return cls(backend, int(count))


# -- small helpers -------------------------------------------------------------------


def _get(url: str, timeout: float = 5.0) -> bytes:
    with _LOCAL.open(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def _post(url: str) -> None:
    _LOCAL.open(urllib.request.Request(url, data=b"", method="POST"), timeout=5.0).close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _children(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent:
            pids.append(int(stat.parent.name))
    return pids


def _postmaster_pid(cluster_root: Path) -> int | None:
    try:
        return int((cluster_root / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _records(count: int, tag: str) -> bytes:
    """`count` valid, distinct article records as JSONL (small bodies: the webhook
    payload carries no body, so body size does not change what is measured)."""
    start = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    lines = []
    for n in range(count):
        stamp = (start + timedelta(seconds=n)).isoformat()
        slug = f"{tag}-{n:06d}"
        lines.append(
            orjson.dumps(
                {
                    "slug": slug,
                    "title": f"Scale-out article {n}",
                    "summary": f"Record {n} of the scale-out benchmark.",
                    "body_md": f"Body of **{slug}**.",
                    "url": f"https://news.example.org/{slug}",
                    "published_at": stamp,
                    "updated_at": stamp,
                    "lang": "en",
                    "topics": [("energy", "health", "markets", "sport")[n % 4]],
                }
            )
        )
    return b"\n".join(lines) + b"\n"


def _delivered_metric(port: int) -> float | None:
    """``syndicator_deliveries_total{outcome="delivered"}`` of one daemon."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = _get(f"http://127.0.0.1:{port}/metrics").decode()
    except (OSError, urllib.error.URLError):
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "syndicator_deliveries_total"
                and sample.labels.get("outcome") == "delivered"
            ):
                return float(sample.value)
    return 0.0


# -- the daemons --------------------------------------------------------------------


@dataclass
class Daemon:
    """One ``syndicator run`` subprocess."""

    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.tail()}")
        try:
            _get(f"http://127.0.0.1:{self.port}/healthz", timeout=1.0)
        except (OSError, urllib.error.URLError):
            return False
        return True

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@contextmanager
def _daemons(config: Path, count: int, env: dict[str, str], work: Path) -> Iterator[list[Daemon]]:
    """Start `count` daemons on one config; kill every one of them on the way out."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    started: list[Daemon] = []
    try:
        for index in range(count):
            port = _free_port()
            log = work / f"daemon-{index}.log"
            child_env = {
                **base,
                **env,
                "SYNDICATOR_SERVER__HOST": "127.0.0.1",
                "SYNDICATOR_SERVER__PORT": str(port),
                "SYNDICATOR_FEEDS__OUTPUT_DIR": str(work / f"public-{index}"),
            }
            with log.open("wb") as sink:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "syndicator", "--config", str(config), "run"],
                    cwd=work,
                    env=child_env,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=sink,
                )
            started.append(Daemon(port, log, proc))
        deadline = time.monotonic() + READY_SECONDS
        for daemon in started:
            while not daemon.ready():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"daemon not healthy in {READY_SECONDS} s:\n{daemon.tail()}")
                time.sleep(0.05)
        yield started
    finally:
        for daemon in started:
            if daemon.proc.poll() is None:
                daemon.proc.send_signal(signal.SIGKILL)
        for daemon in started:
            daemon.proc.wait(timeout=10)


# -- one configuration ------------------------------------------------------------------


@dataclass
class Context:
    """What every configuration of one run shares."""

    receiver: str  # base URL
    receiver_pid: int
    records: int
    endpoints: int
    interval: float
    max_seconds: float
    work: Path
    database_url: Any = None  # () -> str, a fresh PostgreSQL database
    postmaster: int | None = None
    notes: list[str] = field(default_factory=list)


def _queue_report(url: str, expected: int) -> dict[str, Any]:
    """Delivery rows by status, and those attempted more than once (by webhook-id)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            grouped = conn.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status"))
            statuses: dict[str, int] = {str(k): int(v) for k, v in grouped}
            resent = [
                str(row[0])
                for row in conn.execute(
                    text("SELECT webhook_id FROM deliveries WHERE attempts > 1 ORDER BY id")
                )
            ]
            attempts = int(conn.execute(text("SELECT count(*) FROM attempts")).scalar_one())
    finally:
        engine.dispose()
    return {
        "rows": sum(statuses.values()),
        "expected_rows": expected,
        "by_status": statuses,
        "attempt_rows": attempts,
        "resent": resent,
    }


def _log_errors(logs: Sequence[Path]) -> dict[str, int]:
    """The daemons' ERROR lines, counted by their message up to the first colon
    and the PostgreSQL error class, e.g. ``cannot record 128 delivery outcomes
    (DeadlockDetected)`` → ``cannot record delivery outcomes: DeadlockDetected``."""
    kinds: dict[str, int] = {}
    for log in logs:
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            if " ERROR " not in line:
                continue
            message = line.split(" ERROR ", 1)[1].split(": ", 1)[-1]
            head = " ".join(w for w in message.split(":", 1)[0].split() if not w.isdigit())
            cause = re.search(r"psycopg\.errors\.(\w+)", message)
            kind = f"{head}: {cause.group(1)}" if cause else head
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _wait_recorded(url: str, expected: int, deadline: float) -> float | None:
    """Seconds until all `expected` rows are ``delivered`` (None: not by `deadline`)."""
    from sqlalchemy import create_engine, text

    started = time.monotonic()
    engine = create_engine(url)
    query = text("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
    try:
        while True:
            with engine.connect() as conn:
                if int(conn.execute(query).scalar_one()) >= expected:
                    return time.monotonic() - started
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
    finally:
        engine.dispose()


def measure(setup: Setup, ctx: Context) -> dict[str, Any]:
    """Run one configuration; return its figures."""
    work = ctx.work / f"{setup.backend}-{setup.processes}"
    shutil.rmtree(work, ignore_errors=True)
    source = work / "source"
    source.mkdir(parents=True)
    port = int(ctx.receiver.rsplit(":", 1)[1])
    config = write_config(work, source, hooks_config(port, ctx.endpoints))
    env = {"SYNDICATOR_POLL__INTERVAL_SECONDS": str(ctx.interval)}
    if setup.backend == "postgresql":
        url = ctx.database_url()
        env["SYNDICATOR_DATABASE__URL"] = url
    else:
        url = f"sqlite:///{work / 'syndicator.db'}"
    expected = ctx.records * ctx.endpoints
    started = time.monotonic()
    with _daemons(config, setup.processes, env, work) as daemons:
        _post(f"{ctx.receiver}/reset?record=1")
        watched = [d.proc.pid for d in daemons]
        pg = _children(ctx.postmaster) if ctx.postmaster and setup.backend == "postgresql" else []
        before = {pid: _cpu_seconds(pid) for pid in [*watched, ctx.receiver_pid, *pg]}
        # Drop the file atomically: a poll never sees half of it.
        partial = source / ".records.partial"
        partial.write_bytes(_records(ctx.records, "scale"))
        dropped = time.time()
        os.replace(partial, source / "records.jsonl")
        deadline = started + ctx.max_seconds
        received = 0
        while time.monotonic() < deadline:
            received = int(_get(f"{ctx.receiver}/count"))
            if received >= expected:
                break
            time.sleep(0.05)
        finished = time.time()
        after = {pid: _cpu_seconds(pid) for pid in before}
        # Outcomes are committed in batches after the 204s: wait (bounded) until
        # every row is recorded; a late duplicate, if any, arrives meanwhile.
        recorded_after = _wait_recorded(url, expected, time.monotonic() + RECORD_WAIT_SECONDS)
        stats = orjson.loads(_get(f"{ctx.receiver}/stats", timeout=30.0))
        per_process = [_delivered_metric(d.port) for d in daemons]
        timed_out = received < expected
        if timed_out:
            ctx.notes.append(f"{setup.label}: {received}/{expected} after {ctx.max_seconds} s")
    queue = _queue_report(url, expected)
    errors = _log_errors([d.log for d in daemons])
    stamps = sorted(t for _, t in stats["arrivals"])
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    count = int(stats["count"])
    unrecorded = expected - queue["by_status"].get("delivered", 0)

    def cpu(pids: Sequence[int]) -> float:
        return round(sum(after[p] - before[p] for p in pids), 2)

    wall = (stamps[-1] if stamps else finished) - dropped
    return {
        "backend": setup.backend,
        "processes": setup.processes,
        "expected": expected,
        "received": count,
        "timed_out": timed_out,
        "rate": (len(stamps) - 1) / span if span > 0 else 0.0,
        "delivery_seconds": span,
        "first_arrival_after_drop_seconds": stamps[0] - dropped if stamps else None,
        "end_to_end_seconds": wall,
        # Each row has its own webhook-id; all rows delivered and exactly
        # `expected` arrivals means every webhook-id arrived exactly once.
        "duplicates": max(0, count - expected),
        "each_webhook_id_once": count == expected and unrecorded == 0,
        "unrecorded": unrecorded,
        "daemon_errors": errors,
        "recorded_after_seconds": recorded_after,
        "resent": queue["resent"][:50],
        "resent_count": len(queue["resent"]),
        "queue": queue,
        "per_process": per_process,
        "cpu_seconds": {
            "daemons": cpu(watched),
            "receiver": cpu([ctx.receiver_pid]),
            "postgresql": cpu(pg),
        },
        "cpu_budget": round((os.cpu_count() or 1) * (finished - dropped), 2),
        "config_seconds": time.monotonic() - started,
    }


# -- the run --------------------------------------------------------------------------


def run(
    setups: Sequence[Setup],
    *,
    records: int = 500,
    endpoints: int = 20,
    interval: float = 0.2,
    max_seconds: float = 50.0,
    work_dir: Path | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """Measure every setup in order, in one run; return the figures."""
    started = time.perf_counter()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count()},
        "records": records,
        "endpoints": endpoints,
        "deliveries": records * endpoints,
        "poll_interval_seconds": interval,
        "max_seconds": max_seconds,
    }
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="scaleout-", dir=work_dir))
        if not keep:
            stack.callback(shutil.rmtree, work, True)
        port = _free_port()
        receiver = subprocess.Popen(
            [sys.executable, str(BENCH / "webhooks.py"), "receive", "--port", str(port),
             "--max-seconds", str(len(setups) * (max_seconds + 60) + 120)],
            cwd=ROOT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        stack.callback(_stop, receiver)
        _wait_listening(port, receiver)
        ctx = Context(
            receiver=f"http://127.0.0.1:{port}",
            receiver_pid=receiver.pid,
            records=records,
            endpoints=endpoints,
            interval=interval,
            max_seconds=max_seconds,
            work=work,
        )
        if any(s.backend == "postgresql" for s in setups):
            from tests.postgres import running_cluster

            cluster = stack.enter_context(running_cluster())
            ctx.database_url = cluster.database
            ctx.postmaster = _postmaster_pid(cluster.root)
            results["postgresql"] = _server_version(cluster.database())
        measured = []
        for setup in setups:
            _say(f"scaleout: {setup.label}, {records} records x {endpoints} endpoints ...")
            measured.append(measure(setup, ctx))
        results["results"] = measured
        results["notes"] = ctx.notes
    _ratios(measured)
    results["seconds"] = time.perf_counter() - started
    return results


def _server_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()


def _ratios(measured: list[dict[str, Any]]) -> None:
    pg1 = next((m for m in measured if m["backend"] == "postgresql" and m["processes"] == 1), None)
    lite = next((m for m in measured if m["backend"] == "sqlite"), None)
    for m in measured:
        m["ratio_to_postgresql_1"] = m["rate"] / pg1["rate"] if pg1 and pg1["rate"] else None
        m["ratio_to_sqlite"] = m["rate"] / lite["rate"] if lite and lite["rate"] else None


def table(results: dict[str, Any]) -> list[str]:
    """The side-by-side table of one run."""
    head = (
        f"{'scale-out':16} {'deliveries/s':>12} {'vs pg x1':>9} {'vs sqlite':>9} "
        f"{'deliv. s':>8} {'drop→last s':>11} {'dups':>5} {'unrec.':>6} {'per process':>17}  "
        f"{'CPU s daemons/pg/recv of budget':>31}"
    )
    rows = [head, "-" * len(head)]

    def ratio(value: float | None) -> str:
        return f"{value:.2f}x" if value is not None else "-"

    for m in results["results"]:
        cpu = m["cpu_seconds"]
        share = "/".join(f"{v:.0f}" if v is not None else "?" for v in m["per_process"])
        rows.append(
            f"{m['backend'] + ' x' + str(m['processes']):16} {m['rate']:>12,.0f} "
            f"{ratio(m['ratio_to_postgresql_1']):>9} {ratio(m['ratio_to_sqlite']):>9} "
            f"{m['delivery_seconds']:>8.2f} {m['end_to_end_seconds']:>11.2f} "
            f"{m['duplicates']:>5} {m['unrecorded']:>6} {share:>17}  "
            f"{cpu['daemons']:>7.1f}/{cpu['postgresql']:.1f}/{cpu['receiver']:.1f} of "
            f"{m['cpu_budget']:.1f}" + ("  TIMED OUT" if m["timed_out"] else "")
        )
    return rows


def write(results: dict[str, Any], out: Path) -> None:
    """Add the table to `results` and write them as JSON to `out`."""
    results["table"] = table(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


def section(work_dir: Path, out: Path) -> dict[str, Any]:
    """The default run, as ``bench/run.py --only scaleout`` does it; also written to `out`."""
    results = run([Setup.parse(s) for s in DEFAULT_SETUPS], work_dir=work_dir)
    write(results, out)
    return results


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the table and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=500, help="records dropped (M)")
    parser.add_argument("--endpoints", type=int, default=20, help="webhook endpoints (K)")
    parser.add_argument(
        "--setups",
        default=",".join(DEFAULT_SETUPS),
        help="comma-separated backend:processes, e.g. postgresql:1,sqlite:1",
    )
    parser.add_argument("--interval", type=float, default=0.2, help="poll interval (s)")
    parser.add_argument(
        "--max-seconds", type=float, default=50.0, help="per configuration, start to last arrival"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", action="store_true", help="keep the daemons' folders and logs")
    args = parser.parse_args(argv)
    try:
        setups = [Setup.parse(s.strip()) for s in args.setups.split(",") if s.strip()]
    except ValueError as exc:
        parser.error(str(exc))
    results = run(
        setups,
        records=args.records,
        endpoints=args.endpoints,
        interval=args.interval,
        max_seconds=args.max_seconds,
        work_dir=args.out.parent if args.out.parent.is_dir() else None,
        keep=args.keep,
    )
    results["command"] = " ".join([Path(sys.executable).name, *sys.argv])
    write(results, args.out)
    _say()
    _say(
        f"{results['records']} records x {results['endpoints']} endpoints = "
        f"{results['deliveries']:,} deliveries per configuration, {os.cpu_count()} CPUs"
    )
    for line in results["table"]:
        _say(line)
    for m in results["results"]:
        if m["daemon_errors"]:
            found = ", ".join(f"{k} x{v}" for k, v in sorted(m["daemon_errors"].items()))
            _say(f"{m['backend']} x{m['processes']}: daemon errors: {found}")
    for note in results["notes"]:
        _say(f"note: {note}")
    _say(f"\nwritten to {args.out} in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
