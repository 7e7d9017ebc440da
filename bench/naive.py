"""The naive baseline: the feed pipeline people write by hand.

``json`` + markdown-it-py + feedgen, no state between polls: every poll reads
every file, keeps the newest version of each slug, and renders every feed of
every topic (RSS, Atom and JSON Feed, newest 50 entries each) from scratch.
It is kept honest and simple on purpose: each entry's Markdown is rendered once
per feed it appears in and shared by the three formats, files are written with
a plain ``write_bytes``, and nothing is sanitised.

Usage, from the repository root::

    .venv/bin/python bench/naive.py SOURCE_DIR OUTPUT_DIR

It prints one JSON object: records read, feeds written, seconds spent reading
and rendering, and the peak RSS of the process.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from feedgen.feed import FeedGenerator
from markdown_it import MarkdownIt

__all__ = ["read_all", "render_all", "run"]

BASE_URL = "http://127.0.0.1:8080"
TITLE = "Newsroom"


def read_all(source: Path) -> dict[str, dict[str, Any]]:
    """Every record of every file, newest version of each slug."""
    records: dict[str, dict[str, Any]] = {}
    for path in sorted(source.iterdir()):
        if path.suffix == ".jsonl":
            items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
            items = data if isinstance(data, list) else [data]
        else:
            continue
        for item in items:
            old = records.get(item["slug"])
            if old is None or _time(item["updated_at"]) > _time(old["updated_at"]):
                records[item["slug"]] = item
    return records


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def render_all(records: dict[str, dict[str, Any]], out: Path, max_entries: int = 50) -> int:
    """Render RSS, Atom and JSON Feed for every topic and ``all``; return files written."""
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records.values():
        by_topic["all"].append(record)
        for topic in record.get("topics", []):
            by_topic[topic].append(record)
    md = MarkdownIt()
    feeds = out / "feeds"
    feeds.mkdir(parents=True, exist_ok=True)
    written = 0
    for topic, items in sorted(by_topic.items()):
        items.sort(key=lambda r: _time(r["updated_at"]), reverse=True)
        newest = items[:max_entries]
        fg = FeedGenerator()
        fg.id(f"{BASE_URL}/feeds/{topic}")
        fg.title(f"{TITLE}: {topic}")
        fg.description(f"Articles on {topic}")
        fg.author(name=TITLE)
        fg.link(href=f"{BASE_URL}/", rel="alternate")
        fg.updated(_time(newest[0]["updated_at"]))
        json_items = []
        for record in newest:
            html = md.render(record.get("body_md") or "")
            fe = fg.add_entry(order="append")
            fe.id(record["slug"])
            fe.title(record["title"])
            fe.link(href=record["url"])
            fe.published(_time(record["published_at"]))
            fe.updated(_time(record["updated_at"]))
            fe.summary(record.get("summary") or "")
            fe.content(html, type="html")
            for name in record.get("topics", []):
                fe.category(term=name)
            json_items.append(
                {
                    "id": record["slug"],
                    "url": record["url"],
                    "title": record["title"],
                    "content_html": html,
                    "summary": record.get("summary"),
                    "date_published": record["published_at"],
                    "date_modified": record["updated_at"],
                    "tags": record.get("topics", []),
                }
            )
        fg.rss_file(str(feeds / f"{topic}.rss"), pretty=True)
        fg.atom_file(str(feeds / f"{topic}.atom"), pretty=True)
        doc = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": f"{TITLE}: {topic}",
            "feed_url": f"{BASE_URL}/feeds/{topic}.json",
            "items": json_items,
        }
        (feeds / f"{topic}.json").write_text(json.dumps(doc, indent=2))
        written += 3
    return written


def run(source: Path, out: Path, max_entries: int = 50) -> dict[str, Any]:
    """One naive poll: read everything, render everything; return the figures."""
    started = time.perf_counter()
    records = read_all(source)
    read_done = time.perf_counter()
    written = render_all(records, out, max_entries)
    finished = time.perf_counter()
    return {
        "records": len(records),
        "feeds_written": written,
        "read_seconds": read_done - started,
        "render_seconds": finished - read_done,
        "seconds": finished - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    """Run one naive poll from the command line and print its figures as JSON."""
    if len(sys.argv) != 3:
        sys.stderr.write("usage: naive.py SOURCE_DIR OUTPUT_DIR\n")
        return 2
    figures = run(Path(sys.argv[1]), Path(sys.argv[2]))
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
