"""Topic URLs: which URLs are feeds of this site, and the ``Link`` headers that name them.

A WebSub topic is a feed's public URL, ``{base_url}/feeds/<topic>.<rss|atom|json>``.
The hub only accepts topics this site serves right now, so the check goes through a
``served`` callback (the daemon's document set) rather than a pattern alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = ["TopicMap", "link_value"]

# Topic names are safe slugs (SPEC §4), so a strict pattern refuses nothing we
# serve; facet feeds (SPEC §4b) sit one folder deeper.
_FEED_PATH = re.compile(
    r"/feeds/(?:(?:entities|lang|custom)/)?[A-Za-z0-9][A-Za-z0-9_.-]*\.(?:rss|atom|json)"
)


def link_value(hubs: Sequence[str], self_url: str) -> str:
    """An HTTP ``Link`` value: one ``rel="hub"`` per hub, then ``rel="self"``."""
    parts = [f'<{hub}>; rel="hub"' for hub in hubs]
    parts.append(f'<{self_url}>; rel="self"')
    return ", ".join(parts)


class TopicMap:
    """Maps feed paths and topic URLs to each other for one site."""

    def __init__(self, base_url: str, hubs: Sequence[str], served: Callable[[str], bool]) -> None:
        self.base_url = base_url.rstrip("/")
        self.hubs = tuple(hubs)
        self._served = served

    @staticmethod
    def is_feed_path(path: str) -> bool:
        """Whether ``path`` (``/feeds/ai.rss``) has the shape of a feed path."""
        return _FEED_PATH.fullmatch(path) is not None

    def url(self, path: str) -> str:
        """The topic URL of a feed path; a leading slash is optional."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def path_of(self, topic: str) -> str | None:
        """The served feed path that ``topic`` names exactly, or ``None`` if it is not ours."""
        if not topic.startswith(self.base_url + "/"):
            return None
        path = topic[len(self.base_url) :]
        if not self.is_feed_path(path) or not self._served(path):
            return None
        return path

    def link_header(self, path: str) -> str | None:
        """The ``Link`` header for a served path: hubs and self for feeds, nothing otherwise."""
        if not self.is_feed_path(path):
            return None
        return link_value(self.hubs, self.url(path))
