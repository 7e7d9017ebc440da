"""Bounded in-process caches of rendered bytes: entry fragments and feed shells.

A feed is a shell (the channel or feed header, which depends only on its
`FeedInfo`) around a list of entries, and each entry's bytes depend only on the
entry. A poll that changes 100 articles re-renders every feed those articles
are in, but almost every entry of those feeds is unchanged, and one article is
in several topic feeds: rendering each entry once per content version and
joining cached bytes replaces most of the per-entry work (feedgen ≈ 127 µs an
entry for RSS + Atom, joining ≈ 7 µs).

Entries are keyed, per format, by what makes their bytes: slug, content digest (set
by the builder; it covers every field but `updated_at`), `updated_at`, the
hash of the HTML body the caller passes (the body is rendered outside the
digest), the entity (slug, label) pairs (assigned from the store's slug map,
so not covered by the digest: an entity slug may change while the article
does not) and the base URL (entity categories link the entity feeds).
Entries without a digest are rendered every time and never cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from syndicator.models import RenderedArticle

__all__ = [
    "DEFAULT_FRAGMENT_BYTES",
    "NO_CACHE",
    "ByteCache",
    "CacheStats",
    "EntryKey",
    "FragmentsUnusable",
    "RenderCache",
    "cached",
    "entry_fragments",
    "entry_key",
]

#: (slug, digest, updated_at, hash of content_html or None, entity pairs,
#: base URL), per format.
EntryKey = tuple[str, str, datetime, int | None, tuple[tuple[str, str], ...], str]

# What one cached item costs besides its bytes: the key tuple and its strings,
# the OrderedDict node and the bytes object header; an estimate, so the byte
# budget stays close to the memory actually held.
_ITEM_OVERHEAD = 320


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of one cache's counters, for tests and benchmarks."""

    items: int
    bytes: int
    hits: int
    misses: int
    evictions: int


class ByteCache:
    """A thread-safe LRU of bytes, bounded by item count and by total bytes.

    The daemon renders on one job thread, but the render functions are public
    and the web app may call them too, so every access takes the lock. Values
    are rendered outside the lock: two threads missing the same key both
    render it, and both get the same bytes.
    """

    def __init__(self, *, max_items: int, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    def get(self, key: Hashable) -> bytes | None:
        """The cached value, now most recently used; None on a miss."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self._misses += 1
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return value

    def put(self, key: Hashable, value: bytes) -> None:
        """Store `value`, evicting least recently used items beyond the bounds."""
        cost = len(value) + _ITEM_OVERHEAD
        with self._lock:
            if self._max_items <= 0 or cost > self._max_bytes:
                return  # disabled, or too large to be worth evicting everything for
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old) + _ITEM_OVERHEAD
            self._items[key] = value
            self._bytes += cost
            self._shrink()

    def configure(self, *, max_items: int, max_bytes: int) -> None:
        """Change the bounds (0 items disables caching); evicts down to them."""
        with self._lock:
            self._max_items = max_items
            self._max_bytes = max_bytes
            self._shrink()

    def clear(self) -> None:
        """Drop every item and reset the counters."""
        with self._lock:
            self._items.clear()
            self._bytes = self._hits = self._misses = self._evictions = 0

    def stats(self) -> CacheStats:
        """Current size and counters."""
        with self._lock:
            return CacheStats(
                len(self._items), self._bytes, self._hits, self._misses, self._evictions
            )

    def _shrink(self) -> None:
        # Caller holds the lock.
        while self._items and (len(self._items) > self._max_items or self._bytes > self._max_bytes):
            _, value = self._items.popitem(last=False)
            self._bytes -= len(value) + _ITEM_OVERHEAD
            self._evictions += 1


# Sizing, at 100k articles and 500 topics: about 20k articles are inside some
# feed's window, and their fragments average ~7.5 KB (mostly the escaped HTML
# body) in each of three formats, ~450 MB in all, more than a small VM should
# hold for a cache. Since a build reuses the unchanged entries of the files it
# replaces, the cache mostly spares re-rendering an article shared by several
# dirty topics of one build; the default keeps the busiest of those.
DEFAULT_FRAGMENT_BYTES = 64 * 1024 * 1024
# A cached RSS or Atom entry saves ~60 µs of feedgen work, a JSON one ~14 µs,
# for about the same bytes: the XML formats get most of the budget.
_SHARES = {"rss": 0.4, "atom": 0.4, "json": 0.2}
_MAX_ITEMS = 60_000  # per format: 3x the ~20k articles inside the feeds of a 100k corpus

_SHELL_ITEMS = 4096
_SHELL_BYTES = 16 * 1024 * 1024


class RenderCache:
    """Entry fragments per format and feed shells, bounded by bytes.

    Owned by whoever renders (a builder keeps one across builds); output bytes
    never depend on it. Shells are ~1 KB and there are three per feed; a shell
    changes whenever its feed's `updated` does, so they mostly save work on
    full rebuilds.
    """

    def __init__(self, fragment_bytes: int = DEFAULT_FRAGMENT_BYTES) -> None:
        self.fragments: Mapping[str, ByteCache] = MappingProxyType(
            {fmt: ByteCache(max_items=0, max_bytes=0) for fmt in _SHARES}
        )
        on = fragment_bytes > 0
        self.shells = ByteCache(
            max_items=_SHELL_ITEMS if on else 0, max_bytes=_SHELL_BYTES if on else 0
        )
        self.resize(fragment_bytes)

    def resize(self, fragment_bytes: int) -> None:
        """Bound all entry fragments to about `fragment_bytes`; 0 turns them off."""
        for fmt, share in _SHARES.items():
            limit = int(fragment_bytes * share)
            self.fragments[fmt].configure(max_items=_MAX_ITEMS if limit > 0 else 0, max_bytes=limit)

    def clear(self) -> None:
        """Drop every cached fragment and shell (and reset the counters)."""
        for fragments in self.fragments.values():
            fragments.clear()
        self.shells.clear()


#: For one-off renders: caches nothing.
NO_CACHE = RenderCache(0)


def entry_key(item: RenderedArticle, base_url: str) -> EntryKey | None:
    """The cache key of one entry in a feed of the site at `base_url`, or None
    when it has no digest."""
    if item.digest is None:
        return None
    html = item.content_html
    # str caches its hash, and a build hands the same body object to all
    # three formats, so the body is hashed once per build, not once per format.
    body = None if html is None else hash(html)
    return (item.article.slug, item.digest, item.article.updated_at, body, item.entities, base_url)


class FragmentsUnusable(Exception):
    """Fragments reused from an earlier document cannot go into this one: the
    shell is not laid out as the composition expects (the caller renders every
    entry instead)."""


def entry_fragments(
    fmt: str,
    entries: Sequence[RenderedArticle | bytes],
    render: Callable[[Sequence[RenderedArticle]], list[bytes]],
    caches: RenderCache,
    base_url: str,
) -> list[bytes]:
    """Each entry's bytes in `fmt` for a feed of the site at `base_url`: from
    the cache when it holds them, the rest from one `render` call (one bytes
    value per entry it is given, in order).

    An entry given as bytes already is its fragment, reused from an earlier
    document of the same format, and is passed through as it is.
    """
    cache = caches.fragments[fmt]
    found: list[bytes | None] = []
    missing: list[tuple[int, EntryKey | None, RenderedArticle]] = []
    for item in entries:
        if isinstance(item, bytes):
            found.append(item)
            continue
        key = entry_key(item, base_url)
        data = None if key is None else cache.get(key)
        if data is None:
            missing.append((len(found), key, item))
        found.append(data)
    if missing:
        fresh = render([item for _, _, item in missing])
        for (i, key, _), data in zip(missing, fresh, strict=True):
            found[i] = data
            if key is not None:
                cache.put(key, data)
    return [data for data in found if data is not None]


def cached(cache: ByteCache, key: Hashable, render: Callable[[], bytes]) -> bytes:
    """`cache[key]`, rendering and storing it on a miss."""
    data = cache.get(key)
    if data is None:
        data = render()
        cache.put(key, data)
    return data
