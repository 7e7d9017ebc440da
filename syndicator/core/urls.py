"""Public URLs and paths of feeds, derived from the site's base URL."""

from __future__ import annotations

import functools

__all__ = [
    "FACET_KINDS",
    "FEED_FORMATS",
    "facet_name",
    "feed_path",
    "feed_url",
    "split_feed_name",
    "topic_feed_urls",
]

FEED_FORMATS = ("rss", "atom", "json")
#: Feeds besides topics (SPEC §4b), each served below ``/feeds/<kind>/``.
FACET_KINDS = ("entities", "lang", "custom")


def facet_name(kind: str, slug: str) -> str:
    """A facet feed's name, its path below ``feeds/`` without extension."""
    return f"{kind}/{slug}"


def split_feed_name(name: str) -> tuple[str | None, str]:
    """(facet kind, slug) of a feed name; (None, topic) for a topic or ``all``."""
    kind, sep, slug = name.partition("/")
    return (kind, slug) if sep else (None, name)


def feed_path(topic: str, fmt: str) -> str:
    """The feed's path below the site root and the output folder, e.g. ``feeds/ai.rss``."""
    return f"feeds/{topic}.{fmt}"


def feed_url(base_url: str, topic: str, fmt: str) -> str:
    """The feed's absolute public URL."""
    return f"{base_url.rstrip('/')}/{feed_path(topic, fmt)}"


# Shared between webhook payloads, which are serialized at once and never changed.
@functools.lru_cache(maxsize=4096)
def topic_feed_urls(base_url: str, topic: str) -> dict[str, str]:
    """The topic's feed URL in each format, keyed by format."""
    return {fmt: feed_url(base_url, topic, fmt) for fmt in FEED_FORMATS}
