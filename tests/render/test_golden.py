"""Byte-for-byte golden files: any change to output bytes must be deliberate.

Regenerate with ``UPDATE_GOLDEN=1 pytest tests/render/test_golden.py`` and
review the diff: changed bytes mean a new ETag for every reader.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from syndicator.models import RenderedArticle
from syndicator.render.feeds import (
    FeedInfo,
    TopicSummary,
    render_atom,
    render_index,
    render_json,
    render_rss,
    render_topic_opml,
)
from tests.feedcheck import assert_valid_atom, assert_valid_json_feed, assert_valid_rss
from tests.render.articles import BASE_URL, make_article, rendered, when

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

INFO = FeedInfo(
    site_title="Golden Site",
    base_url=BASE_URL,
    topic="ai",
    updated=when(4),
    hub_urls=("https://hub.example/",),
    language="en",
    # RSS <ttl> from the default `server.cache_max_age_seconds` (300 s = 5 min).
    # Introducing it changed ai.rss deliberately: readers see one new ETag.
    ttl_minutes=5,
)
TOPICS = (TopicSummary("all", 2, when(4)), TopicSummary("ai", 2, when(4)))


#: A facet feed: an entity's, with its display name and one deleted entry.
ENTITY_INFO = replace(
    INFO, topic="entities/nvidia", label="Nvidia", deleted=(("gone-post", when(3, 8)),)
)
#: Entity categories and alternates first changed every entry that has them
#: (RENDER_FORMAT 2); entries with neither kept their bytes.
ENTITIES = (("nvidia", "Nvidia"), ("societe-generale", "Société Générale"))
ALTERNATES = {
    "html": "https://example.com/second-post",  # the article URL: types the entry's link
    "markdown": "https://example.com/second-post.md",
    "jsonld": "https://example.com/second-post.jsonld",
    "pdf": "https://example.com/second-post.pdf",  # no Atom form: JSON Feed only
}


def _entries() -> list[RenderedArticle]:
    newer = make_article(
        "second-post",
        published_at=when(3),
        updated_at=when(4),
        summary="Plain <text> & summary.",
        body_md="A *second* post with [a link](https://example.com/x) and `code`.",
        alternates=ALTERNATES,
    )
    older = make_article("first-post", topics=("ai",), lang=None, canonical_source=None)
    return [replace(rendered(newer), entities=ENTITIES), rendered(older)]


CASES: dict[str, tuple[Callable[[], bytes], Callable[[bytes], object]]] = {
    "ai.rss": (lambda: render_rss(INFO, _entries()), assert_valid_rss),
    "ai.atom": (lambda: render_atom(INFO, _entries()), assert_valid_atom),
    "ai.json": (lambda: render_json(INFO, _entries()), assert_valid_json_feed),
    "entity-nvidia.atom": (lambda: render_atom(ENTITY_INFO, _entries()), assert_valid_atom),
    "entity-nvidia.rss": (lambda: render_rss(ENTITY_INFO, _entries()), assert_valid_rss),
    "feeds.opml": (lambda: render_topic_opml("Golden Site", BASE_URL, TOPICS), lambda _: None),
    "index.html": (lambda: render_index("Golden Site", BASE_URL, TOPICS), lambda _: None),
}


def test_rss_golden_carries_the_ttl() -> None:
    # Why ai.rss changed when <ttl> was introduced: the golden file must hold it.
    assert b"<ttl>5</ttl>" in (GOLDEN / "ai.rss").read_bytes()
    assert b"<ttl>" not in render_rss(replace(INFO, ttl_minutes=None), _entries())


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_golden_file(name: str) -> None:
    render, validate = CASES[name]
    data = render()
    validate(data)
    path = GOLDEN / name
    if UPDATE:
        path.write_bytes(data)
    assert path.exists(), f"{path} missing; create it with UPDATE_GOLDEN=1"
    expected = path.read_bytes()
    assert data == expected, (
        f"{name} differs from {path}; if the change is intended, "
        "regenerate with UPDATE_GOLDEN=1 and review the diff"
    )
