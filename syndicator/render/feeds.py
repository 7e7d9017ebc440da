"""RSS 2.0 and Atom 1.0 through feedgen, plus the public rendering API.

This is the only module that imports feedgen. feedgen defaults to the clock
(`updated`, `lastBuildDate`) and prepends entries, so every field is set here
explicitly: the same input gives the same bytes. What each entry holds, and
the extensions that write what feedgen cannot, are in `entries`; JSON Feed,
OPML and the index page live in sibling modules and are re-exported here.

A document is composed from parts that feedgen renders and `cache` keeps: the
shell (the whole document with no entries) and one fragment per entry, each
serialized exactly as it would be inside the document. Splicing the fragments
in before the shell's closing tags gives the bytes of the whole-document
render, `reference_render`, which the tests compare it with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from syndicator.core.times import format_time
from syndicator.errors import RenderError
from syndicator.models import RenderedArticle
from syndicator.render.cache import (
    NO_CACHE,
    FragmentsUnusable,
    RenderCache,
    cached,
    entry_fragments,
)
from syndicator.render.common import (
    ALTERNATE_TYPES,
    CONTENT_TYPES,
    FORMATS,
    INDEX_PATH,
    OPML_PATH,
    RENDER_FORMAT,
    FeedInfo,
    TopicSummary,
    entry_id,
    feed_description,
    feed_path,
    feed_title,
    feed_url,
    is_feed_name,
    site_name,
    utc,
    xml_text,
)
from syndicator.render.entries import (
    ATOM_NS,
    CONTENT_NS,
    EXT,
    EntryExtension,
    FeedExtension,
    atom_alternates,
    fill_entry,
)
from syndicator.render.index import render_index
from syndicator.render.jsonfeed import compose_json, render_json, split_json
from syndicator.render.opml import Outline, render_opml, render_topic_opml
from syndicator.render.xsl import stylesheet_pi

__all__ = [
    "CONTENT_TYPES",
    "FORMATS",
    "INDEX_PATH",
    "OPML_PATH",
    "RENDER_FORMAT",
    "FeedInfo",
    "ALTERNATE_TYPES",
    "Outline",
    "TopicSummary",
    "atom_alternates",
    "compose_feed",
    "entry_id",
    "feed_path",
    "feed_url",
    "is_feed_name",
    "render_atom",
    "render_feed",
    "render_index",
    "render_json",
    "render_opml",
    "render_rss",
    "render_topic_opml",
    "reference_render",
    "split_feed",
]

_GENERATOR = "Syndicator"
_RSS_DOCS = "https://www.rssboard.org/rss-specification"


def _generator(info: FeedInfo, fmt: str) -> Any:
    fg = FeedGenerator()
    fg.register_extension(EXT, FeedExtension, EntryExtension)
    site_title = site_name(info.site_title)
    self_url = xml_text(feed_url(info.base_url, info.topic, fmt))
    home_url = xml_text(f"{info.base_url.rstrip('/')}/")
    fg.id(self_url)
    fg.title(xml_text(feed_title(site_title, info.topic, info.label)))
    fg.description(xml_text(feed_description(site_title, info.topic, info.label)))
    # Without a version, so an upgrade alone does not change every feed's bytes.
    fg.generator(_GENERATOR)
    updated = utc(info.updated)
    fg.updated(updated)  # atom:updated and rss lastBuildDate
    if info.language:
        fg.language(xml_text(info.language))
    media_type = CONTENT_TYPES[fmt].split(";")[0]
    # For RSS the channel <link> is the last link given, so "alternate" goes last.
    fg.link(href=self_url, rel="self", type=media_type)
    fg.link(href=home_url, rel="alternate", type="text/html")
    ext = getattr(fg, EXT)
    ext.hubs = tuple(xml_text(h) for h in info.hub_urls)
    if fmt == "atom":
        ext.deleted = tuple((entry_id(slug), format_time(when)) for slug, when in info.deleted)
    if fmt == "rss":
        fg.pubDate(updated)
        fg.docs(_RSS_DOCS)
        if info.ttl_minutes:
            fg.ttl(info.ttl_minutes)
    else:
        # Entries carry no author; the feed-level one satisfies RFC 4287.
        fg.author(name=site_title)
    return fg


def _serialize(fg: Any, fmt: str, base_url: str) -> bytes:
    if fmt == "rss":
        data: bytes = fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    else:
        data = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    # The stylesheet instruction goes right after the declaration, in the
    # shell as in the whole-document render, so composition keeps its bytes.
    declaration, newline, rest = data.partition(b"\n")
    if not (newline and declaration.startswith(b"<?xml ")):
        raise RenderError(f"unexpected {fmt} serialization: no XML declaration line")
    return b"".join((declaration, newline, stylesheet_pi(base_url), rest))


def _failure(fmt: str, info: FeedInfo, exc: ValueError) -> RenderError:
    # feedgen reports missing fields, lxml illegal characters: both ValueError.
    return RenderError(f"cannot render {fmt} feed for topic {info.topic!r}: {exc}")


def reference_render(fmt: str, info: FeedInfo, entries: Sequence[RenderedArticle]) -> bytes:
    """RSS or Atom rendered whole by feedgen, entries and all, caching nothing.

    The definition of the bytes: the composed render must equal it (the tests
    check), and it is the fallback should a shell ever not have the shape the
    composition expects.
    """
    try:
        fg = _generator(info, fmt)
        for item in entries:
            # Callers pass newest first; feedgen would prepend by default.
            fill_entry(fg.add_entry(order="append"), item, fmt, info.base_url)
        return _serialize(fg, fmt, info.base_url)
    except ValueError as exc:
        raise _failure(fmt, info, exc) from exc


def _skeleton(fmt: str) -> tuple[Any, Any]:
    """A bare root as feedgen builds it (namespaces included) and the entries' parent."""
    if fmt == "rss":
        # Same prefixes in scope as feedgen's <rss>, so content:encoded and
        # atom:link serialize with the same prefixes and no extra declarations.
        root = etree.Element("rss", version="2.0", nsmap={"atom": ATOM_NS, "content": CONTENT_NS})
        return root, etree.SubElement(root, "channel")
    # feedgen sets the Atom namespace as a plain `xmlns` attribute, so its
    # elements have no namespace at all; the skeleton does the same.
    root = etree.Element("feed", xmlns=ATOM_NS)
    return root, root


def _skeleton_edges(fmt: str) -> tuple[bytes, bytes, bytes]:
    """The skeleton's bytes before its children, how a child's line starts, and after."""
    root, parent = _skeleton(fmt)
    etree.SubElement(parent, "x")
    data: bytes = etree.tostring(root, pretty_print=True, encoding="UTF-8", xml_declaration=False)
    before, tail = data.split(b"<x/>\n")
    line_start = before.rindex(b"\n") + 1
    tag = b"<item" if fmt == "rss" else b"<entry"
    return before[:line_start], before[line_start:] + tag, tail


# Where entries sit in a pretty-printed document: after a root's opening lines,
# each on lines of its own, before the closing lines. The root and <channel>
# only ever hold elements, so libxml2 indents each entry by its depth and
# serializes it by its content alone, whatever its siblings.
_EDGES = {fmt: _skeleton_edges(fmt) for fmt in ("rss", "atom")}


class _UnexpectedShape(Exception):
    """The serializer's output is not laid out as the composition assumes."""


def _fragments(fmt: str, items: Sequence[RenderedArticle], base_url: str) -> list[bytes]:
    """Each entry's bytes exactly as feedgen places them in a document of `fmt`
    for the site at `base_url`."""
    if not items:
        return []
    # What feedgen's document render does for each entry: build it detached,
    # extensions applied, then append it under the feed's root. All of them go
    # into one skeleton, serialized once: one call per entry costs ~10 % more.
    root, parent = _skeleton(fmt)
    for item in items:
        fe = FeedEntry()
        fe.register_extension(EXT, EntryExtension)
        fill_entry(fe, item, fmt, base_url)
        parent.append(fe.rss_entry() if fmt == "rss" else fe.atom_entry())
    data: bytes = etree.tostring(root, pretty_print=True, encoding="UTF-8", xml_declaration=False)
    head, opener, tail = _EDGES[fmt]
    if not (data.startswith(head + opener) and data.endswith(tail)):
        raise _UnexpectedShape(fmt)
    body = data[len(head) : len(data) - len(tail)]
    # Each entry starts a line with `opener`, and nothing else can: text and
    # attribute values always escape "<", and the entries' own children are
    # indented deeper.
    marker = b"\n" + opener
    starts = [0]
    found = body.find(marker)
    while found != -1:
        starts.append(found + 1)
        found = body.find(marker, found + 1)
    if len(starts) != len(items):
        raise _UnexpectedShape(fmt)
    return [body[start:end] for start, end in zip(starts, [*starts[1:], len(body)], strict=True)]


def _shell(fmt: str, info: FeedInfo) -> bytes:
    try:
        return _serialize(_generator(info, fmt), fmt, info.base_url)
    except ValueError as exc:
        raise _failure(fmt, info, exc) from exc


def _compose(
    fmt: str, info: FeedInfo, entries: Sequence[RenderedArticle | bytes], caches: RenderCache
) -> bytes:
    shell = cached(caches.shells, (fmt, info), lambda: _shell(fmt, info))
    if not entries:
        return shell
    closing = _EDGES[fmt][2]  # the shell ends as the skeleton does
    if not shell.endswith(closing):
        raise _UnexpectedShape(fmt)
    try:
        base_url = info.base_url.rstrip("/")
        parts = entry_fragments(
            fmt, entries, lambda items: _fragments(fmt, items, base_url), caches, base_url
        )
    except ValueError as exc:
        raise _failure(fmt, info, exc) from exc
    cut = len(shell) - len(closing)
    return b"".join((shell[:cut], *parts, closing))


def _render(
    fmt: str, info: FeedInfo, entries: Sequence[RenderedArticle], caches: RenderCache
) -> bytes:
    try:
        return _compose(fmt, info, entries, caches)
    except _UnexpectedShape:
        return reference_render(fmt, info, entries)


def _split(fmt: str, document: bytes) -> list[bytes] | None:
    _, opener, closing = _EDGES[fmt]
    if not document.endswith(closing):
        return None
    # As in `_fragments`: each entry, and nothing else, starts a line with
    # `opener`. The shell's own lines never do; were one ever to, the caller
    # sees one fragment too many and renders everything.
    marker = b"\n" + opener
    starts = []
    found = document.find(marker)
    while found != -1:
        starts.append(found + 1)
        found = document.find(marker, found + 1)
    if not starts:
        return []
    ends = [*starts[1:], len(document) - len(closing)]
    return [document[start:end] for start, end in zip(starts, ends, strict=True)]


def render_rss(
    info: FeedInfo, entries: Sequence[RenderedArticle], caches: RenderCache = NO_CACHE
) -> bytes:
    """RSS 2.0 document for one topic; `entries` newest first, already limited."""
    return _render("rss", info, entries, caches)


def render_atom(
    info: FeedInfo, entries: Sequence[RenderedArticle], caches: RenderCache = NO_CACHE
) -> bytes:
    """Atom 1.0 document for one topic; `entries` newest first, already limited."""
    return _render("atom", info, entries, caches)


_RENDERERS: dict[str, Callable[[FeedInfo, Sequence[RenderedArticle], RenderCache], bytes]] = {
    "rss": render_rss,
    "atom": render_atom,
    "json": render_json,
}


def render_feed(
    fmt: str,
    info: FeedInfo,
    entries: Sequence[RenderedArticle],
    caches: RenderCache = NO_CACHE,
) -> bytes:
    """Render `fmt` (one of `FORMATS`) for one topic, reusing what `caches` hold."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise RenderError(
            f"unknown feed format {fmt!r}; expected one of {', '.join(FORMATS)}"
        ) from None
    return renderer(info, entries, caches)


def compose_feed(
    fmt: str,
    info: FeedInfo,
    entries: Sequence[RenderedArticle | bytes],
    caches: RenderCache = NO_CACHE,
) -> bytes:
    """`render_feed`, where an entry may instead be given as its fragment, the
    bytes `split_feed` took from an earlier document of the same format.

    Same bytes as rendering every entry, since a fragment depends on its entry
    alone. Raises `FragmentsUnusable` when the shell is not laid out as the
    composition expects; the caller then renders every entry.
    """
    if all(isinstance(entry, RenderedArticle) for entry in entries):
        items = [e for e in entries if isinstance(e, RenderedArticle)]
        return render_feed(fmt, info, items, caches)
    if fmt == "json":
        return compose_json(info, entries, caches)
    if fmt not in _EDGES:
        raise RenderError(f"unknown feed format {fmt!r}; expected one of {', '.join(FORMATS)}")
    try:
        return _compose(fmt, info, entries, caches)
    except _UnexpectedShape as exc:
        raise FragmentsUnusable(fmt) from exc


def split_feed(fmt: str, document: bytes) -> list[bytes] | None:
    """The entry fragments of a document this module composed, in order, each
    byte for byte as `compose_feed` takes it; None when `document` is not laid
    out that way."""
    if fmt == "json":
        return split_json(document)
    if fmt not in _EDGES:
        raise RenderError(f"unknown feed format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return _split(fmt, document)
