"""The entity directory's store queries, on both backends: live entities by the first
character of their slug (a range of the primary key), and counts per character."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.cycle import Cycle
from tests.deployment import Deployment

Make = Callable[..., dict[str, Any]]
Run = Callable[[], Cycle]


def test_entities_by_initial_and_counts_per_initial(
    deployment: Deployment, run_pipeline: Run, make_record: Make
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("one", entities=["Arm", "Apple", "Banco", "3M", "Zeta"]),
            make_record("two", entities=["apple", "Airbus", "北京"]),
        ],
    )
    pipeline = run_pipeline()
    pipeline.poll()
    facets = pipeline.store.facets
    starting_a = facets.starting("entities", "a")
    assert [(r.name, r.articles) for r in starting_a] == [
        ("entities/apple", 2),  # the most articles first, then by name
        ("entities/airbus", 1),
        ("entities/arm", 1),
    ]
    assert [r.name for r in facets.starting("entities", "z")] == ["entities/zeta"]
    assert facets.starting("entities", "q") == []
    hashed = facets.starting("entities", "x")
    assert [r.label for r in hashed] == ["北京"]
    assert facets.initials("entities") == {"a": 3, "b": 1, "3": 1, "z": 1, "x": 1}
    # An entity whose last article leaves it leaves the directory.
    deployment.write_jsonl(
        "b.jsonl",
        [make_record("one", entities=["Arm"], updated_at="2026-06-02T10:00:00+00:00")],
    )
    pipeline.poll()
    assert [r.name for r in facets.starting("entities", "b")] == []
    assert facets.initials("entities") == {"a": 3, "x": 1}
    # Languages are another kind: never in the entities' ranges.
    assert "l" not in facets.initials("entities")
