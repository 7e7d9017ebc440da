"""Public URLs and paths of feeds, derived from the site's base URL."""

from __future__ import annotations

import functools

__all__ = ["FEED_FORMATS", "feed_path", "feed_url", "topic_feed_urls"]

FEED_FORMATS = ("rss", "atom", "json")


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
