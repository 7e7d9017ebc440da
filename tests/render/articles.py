"""Builders for render tests: fixed instants and small valid articles."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syndicator.core.records import parse_record
from syndicator.models import Article, RenderedArticle
from syndicator.render.html import render_markdown

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_e0a2023c70849939.json"
BASE_URL = "http://127.0.0.1:8080"


def when(day: int, hour: int = 12) -> datetime:
    """A fixed UTC instant in June 2026."""
    return datetime(2026, 6, day, hour, 0, 0, tzinfo=UTC)


def make_article(slug: str = "first-post", **changes: Any) -> Article:
    """A small valid article; keyword arguments override fields."""
    article = Article(
        slug=slug,
        title=f"Title of {slug}",
        url=f"https://example.com/{slug}",
        published_at=when(1),
        updated_at=when(2),
        summary=f"Summary of {slug}.",
        body_md=f"Body of **{slug}**.",
        canonical_source=f"https://source.example/{slug}",
        lang="en",
        topics=("ai", "chips"),
    )
    return replace(article, **changes)


def rendered(article: Article) -> RenderedArticle:
    """`article` with its body rendered the way the daemon does it."""
    body = article.body_md
    return RenderedArticle(article, None if body is None else render_markdown(body))


def load_seed() -> Article:
    """The real seed record, through the real validator."""
    with SEED.open(encoding="utf-8") as handle:
        return parse_record(json.load(handle))
