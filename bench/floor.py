"""The CPU floor of a cold import: the per-record work no design of this stack skips.

Usage, from the repository root (not run in CI)::

    .venv/bin/python bench/floor.py [--size 100000] [--topics 500] [--files 10]
    .venv/bin/python bench/floor.py --size 20000 --topics 200 --files 1

On the benchmark corpus (``bench/corpus.py``: `size` records over `topics`)
each step below runs alone, in this process, timed in CPU seconds:

1. reading the JSONL files and parsing every line (orjson);
2. validating every record as a poll does (pydantic and the record checks);
3. inserting one copy of every record into SQLite, then each feed membership
   row, both in key order into empty tables (the bare inserts, no events);
4. rendering and sanitising the Markdown of the entries the feeds hold (the
   newest 50 of each topic and of ``all``);
5. rendering those feeds in RSS, Atom and JSON Feed, each entry once per
   format (one render cache for the run, as a build has).

What a cold import does besides (events, files written, commits, process
start-up) is left out, so the sum is a lower bound. Divided by the CPU count
it is the shortest wall time a perfectly parallel import could take, and
``size`` over that the most records per second this stack can reach on this
machine. Figures go to ``bench/out/floor.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.corpus import DEFAULT_SEED, FILES, TOPICS, ensure_corpus  # noqa: E402
from syndicator.core.records import may_hold_xml_illegal, parse_record  # noqa: E402
from syndicator.models import Article, RenderedArticle  # noqa: E402
from syndicator.render.cache import RenderCache  # noqa: E402
from syndicator.render.common import FeedInfo  # noqa: E402
from syndicator.render.feeds import render_feed  # noqa: E402
from syndicator.render.html import render_markdown  # noqa: E402
from syndicator.store.postings import key_order  # noqa: E402

OUT = ROOT / "bench" / "out" / "floor.json"
ENTRIES = 50  # per feed, as `feeds.max_entries` by default
T = TypeVar("T")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _step(steps: dict[str, float], name: str, work: Callable[[], T]) -> T:
    start = _cpu()
    result = work()
    steps[name] = _cpu() - start
    return result


def _lines(files: list[Path]) -> list[bytes]:
    lines: list[bytes] = []
    for path in files:
        with path.open("rb") as handle:
            lines += handle
    return lines


def _insert(db: Path, ddl: list[str], sql: str, rows: Sequence[tuple[str, str, str]]) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        # As the store opens SQLite (`syndicator/store/database.py`).
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-65536")
        for statement in ddl:
            conn.execute(statement)
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _feeds(articles: list[Article]) -> dict[str, list[Article]]:
    """Each topic's feed and `all`: the newest `ENTRIES` articles, newest first."""
    by_topic: dict[str, list[Article]] = {"all": articles}
    for article in articles:
        for topic in article.topics:
            by_topic.setdefault(topic, []).append(article)
    return {
        topic: sorted(members, key=lambda a: (a.updated_at, a.slug), reverse=True)[:ENTRIES]
        for topic, members in by_topic.items()
    }


def _render(fmt: str, feeds: dict[str, list[Article]], html: dict[str, str | None]) -> None:
    # One cache for the run, as a build has: an entry in several feeds is
    # rendered once per format.
    caches = RenderCache(1 << 30)
    updated = datetime(2026, 1, 1, tzinfo=UTC)
    for topic, entries in feeds.items():
        info = FeedInfo("Floor", "http://127.0.0.1:8080", topic, updated)
        items = [RenderedArticle(a, html[a.slug], a.updated_at.isoformat()) for a in entries]
        render_feed(fmt, info, items, caches)


def measure(
    size: int,
    seed: int = DEFAULT_SEED,
    *,
    topics: int = TOPICS,
    files: int = FILES,
    corpora: Path | None = None,
) -> dict[str, Any]:
    base = corpora or ROOT / "bench" / "out"
    corpus, _ = ensure_corpus(base, size, seed, files=files, topics=topics)
    steps: dict[str, float] = {}
    lines = _step(steps, "read", lambda: _lines(corpus.files))
    records = _step(steps, "parse (orjson)", lambda: [orjson.loads(line) for line in lines])
    articles = _step(
        steps,
        "validate (pydantic, record checks)",
        lambda: [
            parse_record(record, clean=not may_hold_xml_illegal(line))
            for record, line in zip(records, lines, strict=True)
        ],
    )
    stored = sorted(
        (str(r["slug"]), str(r["updated_at"]), line.decode())
        for r, line in zip(records, lines, strict=True)
    )
    members = key_order(
        (topic, a.slug, a.updated_at.isoformat()) for a in articles for topic in a.topics
    )
    with tempfile.TemporaryDirectory(prefix="syndicator-floor-") as tmp:
        _step(
            steps,
            "SQLite: one copy of each record",
            lambda: _insert(
                Path(tmp) / "a.db",
                ["CREATE TABLE articles (slug TEXT PRIMARY KEY, updated_at TEXT, record TEXT)"],
                "INSERT INTO articles VALUES (?, ?, ?)",
                stored,
            ),
        )
        _step(
            steps,
            f"SQLite: {len(members):,} membership rows",
            lambda: _insert(
                Path(tmp) / "m.db",
                [
                    "CREATE TABLE article_topics (topic TEXT, updated_at TEXT, slug TEXT,"
                    " PRIMARY KEY (topic, updated_at DESC, slug)) WITHOUT ROWID",
                ],
                "INSERT INTO article_topics (topic, slug, updated_at) VALUES (?, ?, ?)",
                members,
            ),
        )
    feeds = _feeds(articles)
    chosen = {a.slug: a for entries in feeds.values() for a in entries}
    html = _step(
        steps,
        f"Markdown + sanitising, {len(chosen):,} entries",
        lambda: {s: render_markdown(a.body_md) if a.body_md else None for s, a in chosen.items()},
    )
    for fmt in ("rss", "atom", "json"):
        name = f"{fmt} feeds, {len(feeds)} x {ENTRIES} entries"
        _step(steps, name, functools.partial(_render, fmt, feeds, html))
    cpus = os.cpu_count() or 1
    total = sum(steps.values())
    return {
        "records": len(articles),
        "cpus": cpus,
        "steps": steps,
        "cpu_seconds": total,
        "parallel_seconds": total / cpus,
        "max_records_per_s": len(articles) / (total / cpus) if total else 0.0,
    }


def table(results: dict[str, Any]) -> list[str]:
    lines = [f"{seconds:8.2f} s  {name}" for name, seconds in results["steps"].items()]
    lines.append(f"{results['cpu_seconds']:8.2f} s  CPU in all, {results['records']:,} records")
    lines.append(
        f"{results['parallel_seconds']:8.2f} s  on {results['cpus']} CPUs, perfectly parallel:"
        f" at most {results['max_records_per_s']:,.0f} records/s"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--topics", type=int, default=TOPICS)
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    results = measure(args.size, args.seed, topics=args.topics, files=args.files)
    for line in table(results):
        sys.stdout.write(line + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
