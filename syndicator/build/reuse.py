"""Reusing the entries of the feed files a build replaces.

After a feed file is written, its manifest (the entry keys it was composed
from, its size and SHA-256, the render fingerprint) is stored. The next build
of that feed splits the file back into entry fragments, if the file is still
exactly what the manifest describes, and renders only the entries it lacks:
a fragment depends on its entry alone, so the bytes are the same either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from syndicator.build.output import OutputDir
from syndicator.core.urls import FEED_FORMATS, feed_path
from syndicator.render.feeds import split_feed
from syndicator.store import FeedKey, FeedManifest

__all__ = ["Manifests", "Reusable", "missing_slugs", "reusable", "sha256"]

#: Per format, the entry fragments a feed's previous file holds, by key.
Reusable = dict[str, dict[FeedKey, bytes]]
#: Stored manifests by (topic, format).
Manifests = Mapping[tuple[str, str], FeedManifest]


def sha256(data: bytes) -> str:
    """Hex SHA-256 of a file's bytes, as manifests hold it."""
    return hashlib.sha256(data).hexdigest()


def reusable(output: OutputDir, topic: str, manifests: Manifests, fingerprint: str) -> Reusable:
    """Per format, the entry fragments of the topic's current file, by key.

    Only a file whose bytes are exactly those its manifest describes is
    split (the file it wrote, by its stamp, or one with the same SHA-256);
    anything else (no manifest, another renderer, a file changed, replaced or
    deleted since) gives nothing to reuse.
    """
    found: Reusable = {}
    for fmt in FEED_FORMATS:
        found[fmt] = {}
        manifest = manifests.get((topic, fmt))
        if manifest is None or manifest.fingerprint != fingerprint:
            continue
        held = output.read_stamped(feed_path(topic, fmt))
        if held is None or len(held[0]) != manifest.size:
            continue
        data, stamp = held
        # The same file as written (its stamp) needs no hashing to be trusted.
        if stamp != manifest.stamp and sha256(data) != manifest.sha256:
            continue
        parts = split_feed(fmt, data)
        if parts is not None and len(parts) == len(manifest.entries):
            found[fmt] = dict(zip(manifest.entries, parts, strict=True))
    return found


def missing_slugs(
    topics: Sequence[str],
    keys: Mapping[str, list[FeedKey]],
    manifests: Manifests,
    fingerprint: str,
) -> list[str]:
    """The articles the topics' previous files lack, going by their manifests.

    One query for a window of topics instead of one each; a file that then
    turns out not to match its manifest is rendered from the store anyway.
    """
    slugs: set[str] = set()
    for topic in topics:
        held = [
            set(m.entries) if m is not None and m.fingerprint == fingerprint else set()
            for m in (manifests.get((topic, fmt)) for fmt in FEED_FORMATS)
        ]
        if not any(held):
            continue  # nothing to reuse: the topic is read whole
        slugs.update(k[0] for k in keys.get(topic, ()) if any(k not in h for h in held))
    return sorted(slugs)
