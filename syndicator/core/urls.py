"""Public URLs and paths of feeds, derived from the site's base URL.

A feed's NAME is its path below `feeds/` without the extension: a topic slug,
"all", or a facet `<kind>/<slug>` (`entities/nvidia`, `lang/pt-br`,
`custom/chips-en`; SPEC §4b).
"""

from __future__ import annotations

import functools

__all__ = [
    "ENTITY_KIND",
    "FACET_KINDS",
    "FEED_FORMATS",
    "LANG_KIND",
    "CUSTOM_KIND",
    "entity_feed_url",
    "entity_scheme",
    "facet_name",
    "feed_path",
    "feed_url",
    "split_feed_name",
    "topic_feed_urls",
]

FEED_FORMATS = ("rss", "atom", "json")

ENTITY_KIND = "entities"
LANG_KIND = "lang"
CUSTOM_KIND = "custom"
#: The facet feeds' folders below `feeds/`, in the order listings show them.
FACET_KINDS = (ENTITY_KIND, LANG_KIND, CUSTOM_KIND)


def facet_name(kind: str, slug: str) -> str:
    """The name of a facet feed, e.g. ``entities/nvidia``; ValueError for an unknown kind.

    The slug is not checked here: the renderer refuses an unsafe name before
    it becomes a path (`syndicator.render.common.is_feed_name`).
    """
    if kind not in FACET_KINDS:
        raise ValueError(f"unknown facet kind {kind!r}; expected one of {', '.join(FACET_KINDS)}")
    return f"{kind}/{slug}"


def split_feed_name(name: str) -> tuple[str | None, str]:
    """``entities/nvidia`` → ``("entities", "nvidia")``; a topic name → ``(None, name)``.

    Anything with a slash whose first part is not a facet kind comes back as
    ``(None, name)``, which no topic check accepts.
    """
    kind, slash, slug = name.partition("/")
    if slash and kind in FACET_KINDS:
        return kind, slug
    return None, name


def feed_path(topic: str, fmt: str) -> str:
    """The feed's path below the site root and the output folder, e.g. ``feeds/ai.rss``."""
    return f"feeds/{topic}.{fmt}"


def feed_url(base_url: str, topic: str, fmt: str) -> str:
    """The feed's absolute public URL."""
    return f"{base_url.rstrip('/')}/{feed_path(topic, fmt)}"


def entity_scheme(base_url: str) -> str:
    """The category scheme (Atom) and domain (RSS) of entity categories: the
    folder of the entity feeds, ``<base_url>/feeds/entities/``."""
    return f"{base_url.rstrip('/')}/feeds/{ENTITY_KIND}/"


def entity_feed_url(base_url: str, slug: str, fmt: str) -> str:
    """The URL of one entity's feed in `fmt`."""
    return feed_url(base_url, facet_name(ENTITY_KIND, slug), fmt)


# Shared between webhook payloads, which are serialized at once and never changed.
@functools.lru_cache(maxsize=4096)
def topic_feed_urls(base_url: str, topic: str) -> dict[str, str]:
    """The topic's feed URL in each format, keyed by format."""
    return {fmt: feed_url(base_url, topic, fmt) for fmt in FEED_FORMATS}
