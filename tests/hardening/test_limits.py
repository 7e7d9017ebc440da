"""Limits on hostile records, through the real pipeline (folder source → poll → store).

Each limit has a default in `[source.limits]` / `[poll]`; a record beyond one is
quarantined with a reason naming the limit, its file:line and slug are kept,
the other records of the same poll go in, and the record is retried once its
file changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syndicator.config import load_settings
from syndicator.core.records import RecordLimits
from syndicator.store.store import Store
from syndicator.wiring import open_store
from tests.cycle import make_cycle
from tests.daemon.conftest import syndicator_command
from tests.hardening.harness import make_site

CONFIG = """\
[source]
kind = "dir"
path = "{source}"

[feeds]
output_dir = "{output}"

[database]
url = "sqlite:///{database}"
{extra}"""

Poll = Callable[..., tuple[dict[str, int], Store]]


def record(slug: str, **fields: Any) -> dict[str, Any]:
    """A valid record; keyword arguments override fields."""
    data: dict[str, Any] = {
        "slug": slug,
        "title": f"Title of {slug}",
        "summary": f"Summary of {slug}",
        "body_md": f"Body of *{slug}*.",
        "url": f"https://news.example.org/{slug}",
        "published_at": "2026-01-01T10:00:00+00:00",
        "updated_at": "2026-01-01T10:00:00+00:00",
        "topics": ["energy"],
    }
    data.update(fields)
    return data


def write(folder: Path, name: str, records: list[dict[str, Any]]) -> Path:
    path = folder / name
    # Raw UTF-8, as most writers produce: `\u00e9` escapes would triple the size.
    lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "articles"
    path.mkdir()
    return path


@pytest.fixture
def poll(tmp_path: Path, folder: Path) -> Iterator[Poll]:
    """`poll(extra_config="")`: one real poll, as a fresh process would run it."""
    stores: list[Store] = []

    def run(extra: str = "") -> tuple[dict[str, int], Store]:
        config = tmp_path / "syndicator.toml"
        config.write_text(
            CONFIG.format(
                source=folder, output=tmp_path / "public", database=tmp_path / "db", extra=extra
            ),
            encoding="utf-8",
        )
        settings = load_settings(config, environ={})
        store = open_store(settings)
        stores.append(store)
        changes = make_cycle(settings, store).poll()
        return changes.as_dict(), store

    yield run
    for store in stores:
        store.close()


def slugs(store: Store) -> set[str]:
    return {article.slug for article, _html, _digest in store.articles.feed_entries("all", 10_000)}


def only_quarantined(store: Store) -> dict[str, Any]:
    [item] = store.polls.quarantined()
    return item


def test_defaults_exist_in_the_config() -> None:
    limits = RecordLimits()
    assert limits.max_record_bytes == 2_000_000
    assert limits.max_body_bytes == 1_000_000
    assert limits.max_topics == 50
    assert limits.max_field_chars == 10_000
    assert limits.max_records_per_file == 1_000_000
    from syndicator.config import PollSettings

    assert PollSettings().future_tolerance_seconds == 86_400


def test_body_md_over_the_default_is_quarantined_by_bytes_not_characters(
    folder: Path, poll: Poll
) -> None:
    # 500,001 two-byte characters: under the limit in characters, over it in bytes.
    big = "é" * 500_001
    write(folder, "a.jsonl", [record("ok"), record("big", body_md=big), record("ok2")])
    counts, store = poll()
    assert counts["created"] == 2 and counts["quarantined"] == 1
    item = only_quarantined(store)
    assert item["slug"] == "big"
    assert item["source"].endswith("a.jsonl:2")
    assert "body_md: larger than the limit of 1000000 bytes" in item["reason"]
    assert slugs(store) == {"ok", "ok2"}


def test_body_md_limit_from_config_and_retry_after_fix(folder: Path, poll: Poll) -> None:
    write(folder, "a.jsonl", [record("a", body_md="x" * 101)])
    _, store = poll("[source.limits]\nmax_body_bytes = 100\n")
    assert "limit of 100 bytes" in only_quarantined(store)["reason"]
    # The file changes: the record is read again and the quarantine entry goes.
    write(folder, "a.jsonl", [record("a", body_md="x" * 100)])
    counts, store = poll("[source.limits]\nmax_body_bytes = 100\n")
    assert counts["created"] == 1
    assert store.polls.quarantined() == []


def test_too_many_topics(folder: Path, poll: Poll) -> None:
    many = [f"t{i}" for i in range(51)]
    write(folder, "a.jsonl", [record("many", topics=many), record("fifty", topics=many[:50])])
    counts, store = poll()
    assert counts == {"created": 1, "updated": 0, "deleted": 0, "ignored": 0, "quarantined": 1}
    assert "topics: more than the limit of 50" in only_quarantined(store)["reason"]
    write(folder, "b.jsonl", [record("four", topics=["a", "b", "c", "d"])])
    _, store = poll("[source.limits]\nmax_topics = 3\n")
    reasons = [q["reason"] for q in store.polls.quarantined() if q["slug"] == "four"]
    assert reasons == ["topics: more than the limit of 3"]


@pytest.mark.parametrize("field", ["title", "summary", "slug", "url", "canonical_source"])
def test_field_length(folder: Path, poll: Poll, field: str) -> None:
    long = {
        "title": "t" * 10_001,
        "summary": "s" * 10_001,
        "slug": "s" * 10_001,
        "url": "https://news.example.org/" + "p" * 10_000,
        "canonical_source": "https://news.example.org/" + "c" * 10_000,
    }[field]
    bad = record("a")
    bad[field] = long
    write(folder, "a.jsonl", [bad, record("b")])
    counts, store = poll()
    assert counts["created"] == 1 and counts["quarantined"] == 1
    assert (
        f"{field}: longer than the limit of 10000 characters" in only_quarantined(store)["reason"]
    )


def test_field_length_from_config(folder: Path, poll: Poll) -> None:
    write(folder, "a.jsonl", [record("a", title="t" * 41), record("b", title="t" * 40)])
    _, store = poll("[source.limits]\nmax_field_chars = 40\n")
    assert slugs(store) == {"b"}


def test_far_future_updated_at_does_not_freeze_the_watermark(folder: Path, poll: Poll) -> None:
    now = datetime.now(UTC)
    future = (now + timedelta(days=365)).isoformat()
    write(folder, "a.jsonl", [record("future", updated_at=future), record("today")])
    counts, store = poll()
    assert counts["created"] == 1 and counts["quarantined"] == 1
    item = only_quarantined(store)
    assert item["slug"] == "future" and "poll.future_tolerance_seconds" in item["reason"]
    watermark, _ = store.polls.source_state("dir")
    assert watermark is not None and watermark < now
    # A record written later, dated now, still gets in: the watermark did not jump a year.
    stamp = (now - timedelta(seconds=1)).isoformat()
    write(folder, "b.jsonl", [record("later", updated_at=stamp)])
    counts, store = poll()
    assert counts["created"] == 1
    assert slugs(store) == {"today", "later"}


def test_future_tolerance_from_config(folder: Path, poll: Poll) -> None:
    now = datetime.now(UTC)
    write(
        folder,
        "a.jsonl",
        [
            record("near", updated_at=(now + timedelta(seconds=30)).isoformat()),
            record("far", updated_at=(now + timedelta(seconds=600)).isoformat()),
        ],
    )
    _, store = poll("[poll]\nfuture_tolerance_seconds = 120\n")
    assert slugs(store) == {"near"}
    assert only_quarantined(store)["slug"] == "far"


def test_record_size(folder: Path, poll: Poll) -> None:
    # Over the default 2 MB in unknown fields alone: no per-field limit catches it.
    padding = {"x-padding": "p" * 2_000_001}
    write(folder, "a.jsonl", [record("a"), record("huge", **padding), record("c")])
    counts, store = poll()
    assert counts["created"] == 2 and counts["quarantined"] == 1
    item = only_quarantined(store)
    assert item["source"].endswith("a.jsonl:2")
    assert "record larger than the limit of 2000000 bytes" in item["reason"]
    # From the config, in a .json array file too.
    (folder / "b.json").write_text(json.dumps([record("small"), record("big", title="x" * 600)]))
    _, store = poll("[source.limits]\nmax_record_bytes = 500\n")
    reasons = {q["source"].rsplit("/", 1)[-1]: q["reason"] for q in store.polls.quarantined()}
    assert "record larger than the limit of 500 bytes" in reasons["b.json:1"]
    assert "small" in slugs(store) and "big" not in slugs(store)


def test_records_per_file(folder: Path, poll: Poll) -> None:
    write(folder, "a.jsonl", [record(f"r{i}") for i in range(5)])
    counts, store = poll("[source.limits]\nmax_records_per_file = 3\n")
    assert counts["created"] == 3 and counts["quarantined"] == 1
    item = only_quarantined(store)
    assert "more records in this file than the limit of 3" in item["reason"]
    assert slugs(store) == {"r0", "r1", "r2"}


def test_once_reports_limits_in_status_and_exits_0(tmp_path: Path) -> None:
    import subprocess

    site = make_site(tmp_path / "site")
    site.write_records(
        "a.jsonl", [record("ok"), record("big", topics=[f"t{i}" for i in range(60)])]
    )
    done = subprocess.run(
        syndicator_command(site, "once"), cwd=site.root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    quarantine = site.status()["quarantine"]
    assert [(q["slug"], q["reason"]) for q in quarantine] == [
        ("big", "topics: more than the limit of 50")
    ]
