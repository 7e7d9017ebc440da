"""Fixtures for the render tests."""

from __future__ import annotations

import pytest

from syndicator.models import Article, RenderedArticle
from syndicator.render.feeds import FeedInfo
from tests.render.articles import BASE_URL, load_seed, make_article, rendered, when


@pytest.fixture(scope="session")
def seed_article() -> Article:
    return load_seed()


@pytest.fixture
def info() -> FeedInfo:
    return FeedInfo(site_title="Syndicator Test", base_url=BASE_URL, topic="ai", updated=when(4))


@pytest.fixture
def two_entries() -> list[RenderedArticle]:
    """Newest first, as the caller passes them: one full article, one sparse."""
    newer = make_article("second-post", published_at=when(3), updated_at=when(4))
    older = make_article("first-post", topics=("ai",), lang=None, canonical_source=None)
    return [rendered(newer), rendered(older)]


@pytest.fixture(scope="session")
def seed_article_body(seed_article: Article) -> str:
    assert seed_article.body_md is not None
    return seed_article.body_md
