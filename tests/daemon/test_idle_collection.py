"""The daemon collects garbage between jobs, once its feeds are out."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from syndicator.config import load_settings
from syndicator.coordination import for_store
from syndicator.daemon import Daemon
from syndicator.wiring import make_builder, make_poller, open_store, utc_now
from tests.deployment import CONFIG

Make = Callable[..., dict[str, Any]]


def test_a_job_ends_with_a_full_collection_after_its_feeds_are_written(
    tmp_path: Path, make_record: Make
) -> None:
    source, output = tmp_path / "articles", tmp_path / "public"
    source.mkdir()
    records = [make_record(f"g{i}") for i in range(3)]
    (source / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    config = tmp_path / "syndicator.toml"
    database = f"sqlite:///{tmp_path / 'state.db'}"
    config.write_text(
        CONFIG.format(source=source, output=output, database_url=database, max_entries=50)
    )
    settings = load_settings(config, environ={})
    store = open_store(settings)
    builder = make_builder(settings, store)
    coordination = for_store(store, "test", clock=utc_now, load_published=builder.load_published)
    daemon = Daemon(settings, store, make_poller(settings, store), builder, coordination)
    feed = output / "feeds" / "all.atom"
    # For each full collection: whether the job's feeds were written by then.
    # Automatic collections are off meanwhile: each one seen was asked for.
    seen: list[bool] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(feed.exists())

    enabled = gc.isenabled()
    gc.disable()
    gc.callbacks.append(count)
    try:
        daemon.poll_and_build()
    finally:
        gc.callbacks.remove(count)
        if enabled:
            gc.enable()
        daemon.facets.close()
        store.close()
    assert feed.exists()
    assert seen and seen[-1], seen
