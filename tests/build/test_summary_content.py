"""`[feeds] content = "summary"`: topic, entity and language feeds carry the
summary alone, and switching the setting renders every entry again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import feedparser

from syndicator.build.ondemand import FacetDocuments
from syndicator.wiring import utc_now
from tests.cycle import Cycle
from tests.deployment import Deployment
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Cycle]


def _set_content(deployment: Deployment, content: str) -> None:
    text = deployment.config.read_text()
    text = text.replace('\ncontent = "summary"', "").replace('\ncontent = "full"', "")
    deployment.config.write_text(
        text.replace("max_entries = 50", f'max_entries = 50\ncontent = "{content}"')
    )


def _feeds(deployment: Deployment, name: str) -> tuple[bytes, bytes, bytes]:
    folder = deployment.output / "feeds"
    atom, rss, json_feed = (
        (folder / f"{name}.{fmt}").read_bytes() for fmt in ("atom", "rss", "json")
    )
    return atom, rss, json_feed


def _assert_summaries(atom: bytes, rss: bytes, json_feed: bytes) -> None:
    assert_valid_atom(atom)
    for data in (atom, rss):
        parsed = feedparser.parse(data)
        assert parsed.entries and not parsed.bozo
        for entry in parsed.entries:
            assert "content" not in entry
            assert entry.summary.startswith("Summary of")
    feed = assert_valid_json_feed(json_feed)
    assert feed["items"]
    assert all("content_html" not in item and item["summary"] for item in feed["items"])


def test_summary_feeds_carry_no_body_and_switching_renders_every_entry(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    records = [
        make_record(f"a{i}", topics=["energy"], entities=["Arm"], body_md=f"Body **{i}**.")
        for i in range(3)
    ]
    for i, record in enumerate(records):
        record["updated_at"] = f"2026-06-01T0{i}:00:00Z"
    deployment.write_jsonl("a.jsonl", records)
    pipeline = run_pipeline()
    pipeline.poll()
    pipeline.build()
    full = _feeds(deployment, "energy")
    assert b"Body &lt;strong&gt;0&lt;/strong&gt;." in full[0]  # Atom content, type="html"

    _set_content(deployment, "summary")
    summary = run_pipeline()
    result = summary.build()
    # The entries' own fingerprint changed: nothing of the full files is reused.
    assert result.reused_entries == 0 and "energy" in result.topics
    short = _feeds(deployment, "energy")
    _assert_summaries(*short)
    _assert_summaries(*_feeds(deployment, "all"))
    assert all(len(s) < len(f) for s, f in zip(short, full, strict=True))

    # Entity and language feeds, rendered on demand, follow the setting.
    docs = FacetDocuments(summary.settings, summary.store, utc_now, fingerprint="f")
    try:
        loaded = [docs.load(f"/feeds/entities/arm.{fmt}") for fmt in ("atom", "rss", "json")]
        assert all(doc is not None for doc in loaded)
        _assert_summaries(*(doc.body for doc in loaded if doc is not None))
    finally:
        docs.close()

    _set_content(deployment, "full")
    back = run_pipeline()
    result = back.build()
    assert result.reused_entries == 0
    assert _feeds(deployment, "energy") == full
