"""Membership rows are written in the table's key order: (topic, updated_at DESC, slug)."""

from __future__ import annotations

import random

from syndicator.store.postings import key_order


def test_key_order_is_topic_then_newest_first_then_slug() -> None:
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
    # Few distinct times: many rows of a topic tie on time and go by slug.
    expected = sorted(rows, key=lambda r: (r[0], [-ord(ch) for ch in r[2]], r[1]))
    assert key_order(rows) == expected
    assert key_order(iter(rows)) == expected
    assert key_order([]) == []
