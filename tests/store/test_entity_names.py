"""The store's cache of entity feed names: only committed names, never a rolled-back one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from syndicator.store.facets import EntityNames, assign_entities
from tests.cycle import Cycle
from tests.deployment import Deployment

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_a_rolled_back_name_is_not_remembered(
    deployment: Deployment, run_pipeline: Callable[[], Cycle]
) -> None:
    store = run_pipeline().store
    with pytest.raises(RuntimeError), store.transaction(NOW) as tx:
        names = assign_entities(tx.conn, ["Nvidia"], tx.deltas.entity_cache, tx.deltas.given)
        assert names == {"nvidia": "entities/nvidia"}
        raise RuntimeError("the poll failed")
    assert store.entity_names.split(["nvidia"]) == ({}, ["nvidia"])
    assert store.facets.entity_feeds(["nvidia"]) == {}
    # Given again, and this time committed: remembered.
    with store.transaction(NOW) as tx:
        assign_entities(tx.conn, ["NVIDIA"], tx.deltas.entity_cache, tx.deltas.given)
    assert store.entity_names.split(["nvidia"]) == ({"nvidia": "entities/nvidia"}, [])


def test_names_read_by_a_poll_are_the_stored_ones(
    deployment: Deployment,
    run_pipeline: Callable[[], Cycle],
    make_record: Callable[..., dict[str, Any]],
) -> None:
    deployment.write_jsonl("a.jsonl", [make_record("a", entities=["Société Générale"])])
    cycle = run_pipeline()
    cycle.poll()
    key = "société générale"
    assert cycle.store.entity_names.split([key])[0] == {key: "entities/societe-generale"}
    # Another store on the same database (another process) reads it back.
    other = cycle.store.__class__(cycle.store.url)
    try:
        assert other.facets.entity_feeds([key]) == {key: "entities/societe-generale"}
        assert other.entity_names.split([key])[0] == {key: "entities/societe-generale"}
    finally:
        other.close()


def test_the_cache_is_bounded() -> None:
    names = EntityNames(limit=3)
    names.remember({"a": "entities/a", "b": "entities/b"})
    names.remember({"c": "entities/c", "d": "entities/d"})
    found, missing = names.split(["a", "c", "d"])
    assert found == {"c": "entities/c", "d": "entities/d"}
    assert missing == ["a"]
