"""Membership rows are written in the table's key order."""

from __future__ import annotations

import random

from syndicator.store.postings import key_order


def test_key_order_is_the_order_of_topic_then_slug() -> None:
    rng = random.Random(7)
    # Topics that prefix one another, facet names, a few large groups and
    # non-ASCII slugs: the grouping must give exactly what sorting the tuples does.
    topics = ["ai", "ai-chips", "all", "entities/nvidia", "entities/nvidia-2", "lang/de", "lang/en"]
    slugs = [f"{word}-{n}" for word in ("alpha", "Zeta", "émile", "日本", "a") for n in range(60)]
    rows = [
        (topic, slug, f"2026-01-{rng.randint(1, 28):02d}T00:00:00+00:00")
        for topic in topics
        for slug in rng.sample(slugs, rng.randint(1, len(slugs)))
    ]
    rng.shuffle(rows)
    assert key_order(rows) == sorted(rows)
    assert key_order(iter(rows)) == sorted(rows)
    assert key_order([]) == []
