"""Feed aggregators in a `User-Agent`: who fetched, for which of its feeds, for how many.

Hosted readers fetch a feed once for all their users and say how many those
are ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers; )").
`aggregator` recognises the known fetchers by a token, and any other agent that
announces "N subscribers" or "N readers" by its product name. A fetch by an
aggregator is never a direct reader, even when it gives no figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["KNOWN_FETCHERS", "MAX_SUBSCRIBERS", "Aggregator", "aggregator"]

#: A figure above this in one agent string is not believed (no reader has
#: ten million subscribers to one feed URL); the fetch still counts as an
#: aggregator's.
MAX_SUBSCRIBERS = 10_000_000

#: (source name, lower-cased token of its agent string), checked in order: Feedly
#: says "like FeedFetcher-Google", so it comes before Google's own fetcher.
KNOWN_FETCHERS: tuple[tuple[str, str], ...] = (
    ("feedly", "feedly"),
    ("inoreader", "inoreader"),
    ("feedbin", "feedbin"),
    ("newsblur", "newsblur"),
    ("theoldreader", "theoldreader"),
    ("bazqux", "bazqux"),
    ("feedspot", "feedspot"),
    ("feeder", "feeder.co"),
    ("feedwrangler", "feed wrangler"),
    ("feedpress", "feedpress"),
    ("google", "feedfetcher-google"),
)

# "12 subscribers", "1 subscriber", "3 readers": the count must stand alone
# (not "-5", "1.5" or "x12"), and an absurd number of digits is garbage.
_COUNT = re.compile(r"(?<![\w.+-])(\d{1,12})\s*(?:subscribers?|readers?)\b", re.IGNORECASE)
# "feed-id=abc", "feed-id:1234", "feedid=7"; NewsBlur names its feed in a URL.
_FEED_ID = re.compile(r"feed-?id\s*[=:]\s*([A-Za-z0-9_.-]{1,64})", re.IGNORECASE)
_NEWSBLUR_SITE = re.compile(r"/site/(\d{1,20})")
# The product of an unknown agent: its first token, or the first name in a
# "Mozilla/5.0 (compatible; Name; ...)" comment.
_COMPATIBLE = re.compile(r"\(compatible;\s*([^;/)\s]+)", re.IGNORECASE)
_PRODUCT = re.compile(r"^\s*([^/;()\s]+)")
_NAME_CHARS = re.compile(r"[^a-z0-9._-]+")
_NAME_MAX = 32


@dataclass(frozen=True, slots=True)
class Aggregator:
    """One aggregator fetch: the service, its id of the feed ("" when it gives none),
    and the subscriber figure it announced (None when it gave no sane one)."""

    source: str
    feed_id: str
    subscribers: int | None


def aggregator(agent: str) -> Aggregator | None:
    """The aggregator behind a `User-Agent` value, or None for a direct reader."""
    lowered = agent.lower()
    source = next((name for name, token in KNOWN_FETCHERS if token in lowered), None)
    match = _COUNT.search(agent)
    if source is None:
        if match is None:
            return None
        source = _product(agent)
        if source is None:
            return None
    return Aggregator(source, _feed_id(agent, source), _count(match))


def _count(match: re.Match[str] | None) -> int | None:
    if match is None:
        return None
    value = int(match.group(1))
    return value if value <= MAX_SUBSCRIBERS else None


def _feed_id(agent: str, source: str) -> str:
    found = _FEED_ID.search(agent)
    if found is not None:
        return found.group(1)
    if source == "newsblur":
        site = _NEWSBLUR_SITE.search(agent)
        if site is not None:
            return site.group(1)
    return ""


def _product(agent: str) -> str | None:
    """A short, label-safe name for an unknown aggregator."""
    found = _COMPATIBLE.search(agent) or _PRODUCT.search(agent)
    if found is None:
        return None
    name = _NAME_CHARS.sub("-", found.group(1).lower()).strip("-.")[:_NAME_MAX]
    # A name starts with a letter: "(compatible; 3 subscribers)" names nobody.
    if not name or not name[0].isalpha() or name == "mozilla":
        return None
    return name
