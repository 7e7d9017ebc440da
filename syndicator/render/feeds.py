"""RSS 2.0 and Atom 1.0 through feedgen, plus the public rendering API.

This is the only module that imports feedgen. feedgen defaults to the clock
(`updated`, `lastBuildDate`) and prepends entries, so every field is set here
explicitly: the same input gives the same bytes. JSON Feed, OPML and the
index page live in sibling modules and are re-exported here.

A document is composed from parts that feedgen renders and `cache` keeps: the
shell (the whole document with no entries) and one fragment per entry, each
serialized exactly as it would be inside the document. Splicing the fragments
in before the shell's closing tags gives the bytes of the whole-document
render, `reference_render`, which the tests compare it with.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from syndicator.core.times import format_time
from syndicator.core.urls import entity_scheme
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
    entry_title,
    feed_description,
    feed_path,
    feed_title,
    feed_url,
    is_feed_name,
    site_name,
    unique_entities,
    utc,
    xml_text,
)
from syndicator.render.index import render_index
from syndicator.render.jsonfeed import compose_json, render_json, split_json
from syndicator.render.opml import Outline, render_opml, render_topic_opml

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

_ATOM_NS = "http://www.w3.org/2005/Atom"
_TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
_DELETED_ENTRY = f"{{{_TOMBSTONES_NS}}}deleted-entry"
_CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
_CONTENT_ENCODED = f"{{{_CONTENT_NS}}}encoded"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_GENERATOR = "Syndicator"
_RSS_DOCS = "https://www.rssboard.org/rss-specification"
# Name under which our feedgen extension hangs off generators and entries.
_EXT = "syndicator"


class _FeedExtension:
    """feedgen feed extension (protocol of feedgen/ext/base.py): WebSub hub
    links, and Atom's RFC 6721 deleted entries.

    feedgen's RSS writer emits only the first `atom:link` of the channel, so
    hubs are added here, for Atom as well to keep one code path.
    """

    def __init__(self) -> None:
        self.hubs: tuple[str, ...] = ()
        self.deleted: tuple[tuple[str, str], ...] = ()  # (entry id, RFC 3339 time)

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_rss(self, rss: Any) -> Any:
        channel = rss.find("channel")
        for hub in self.hubs:
            channel.append(channel.makeelement(f"{{{_ATOM_NS}}}link", {"href": hub, "rel": "hub"}))
        return rss

    def extend_atom(self, feed: Any) -> Any:
        # feedgen builds Atom elements without a namespace and declares the
        # default namespace on the root, so plain "link" is atom:link.
        for hub in self.hubs:
            feed.append(feed.makeelement("link", {"href": hub, "rel": "hub"}))
        # feedgen runs extensions before it appends the entries, so these sit
        # in the shell, ahead of every entry: the composition splices entries
        # after them and `_split` never takes one for (or into) an entry. The
        # namespace is declared on each element rather than the root, so a
        # feed with nothing deleted keeps its bytes.
        for ref, when in self.deleted:
            etree.SubElement(
                feed, _DELETED_ENTRY, {"ref": ref, "when": when}, nsmap={"at": _TOMBSTONES_NS}
            )
        return feed


class _EntryExtension:
    """feedgen entry extension: RSS `content:encoded`; Atom `xml:lang` and links."""

    def __init__(self) -> None:
        self.lang: str | None = None
        self.related: str | None = None
        self.main_type: str | None = None  # of the article link
        self.alternates: tuple[tuple[str, str], ...] = ()  # (media type, href)
        self.rss_content: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_rss(self, item: Any) -> Any:
        # feedgen writes content:encoded only beside a description and otherwise
        # moves the HTML into <description>; the body always goes here instead.
        if self.rss_content:
            encoded = item.makeelement(_CONTENT_ENCODED, {})
            encoded.text = self.rss_content
            item.append(encoded)
        return item

    def extend_atom(self, entry: Any) -> Any:
        if self.lang:
            entry.set(_XML_LANG, self.lang)
        # feedgen 1.0 drops `rel` from entry links (its loop variable shadows
        # the link dict), so every entry link would read as "alternate". The
        # only link it gets is the alternate one (whose type it drops as well);
        # the others are added here.
        for link in entry.iterfind("link"):
            if link.get("rel") is None:
                link.set("rel", "alternate")
                if self.main_type:
                    link.set("type", self.main_type)
        # Added here, not through feedgen: its RSS writer would take the last
        # alternate link for the item's <link>.
        for media_type, href in self.alternates:
            entry.append(
                entry.makeelement("link", {"href": href, "rel": "alternate", "type": media_type})
            )
        if self.related:
            entry.append(entry.makeelement("link", {"href": self.related, "rel": "related"}))
        return entry


def _generator(info: FeedInfo, fmt: str) -> Any:
    fg = FeedGenerator()
    fg.register_extension(_EXT, _FeedExtension, _EntryExtension)
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
    ext = getattr(fg, _EXT)
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


def atom_alternates(item: RenderedArticle) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The media type of the entry's main link, and its other alternate links
    as (media type, href) in `ALTERNATE_TYPES` order.

    The main link is the article URL, untyped unless the record's html
    alternate is that same URL (then it says text/html). An html alternate
    elsewhere is left out: RFC 4287 §4.1.1 forbids two alternates of one
    type and hreflang, readers take an untyped one for text/html, and they
    would open it instead of the article. JSON Feed carries it.
    """
    alternates = item.article.alternates
    main = xml_text(item.article.url)
    main_type = None
    links: list[tuple[str, str]] = []
    for name, media_type in ALTERNATE_TYPES:
        href = alternates.get(name)
        if href is None:
            continue
        if name == "html":
            main_type = media_type if xml_text(href) == main else None
            continue
        links.append((media_type, xml_text(href)))
    return main_type, tuple(links)


def _categories(item: RenderedArticle, base_url: str) -> list[dict[str, str]]:
    """Topics (term only), then entities (slug, label, the entity feeds' scheme)."""
    cats = [{"term": xml_text(topic)} for topic in item.article.topics]
    if item.entities:
        scheme = xml_text(entity_scheme(base_url))
        # RSS writes the label as the category's text and the scheme as its domain.
        cats += [
            {"term": slug, "label": label, "scheme": scheme}
            for slug, label in unique_entities(item.entities)
        ]
    return cats


def _fill_entry(fe: Any, item: RenderedArticle, fmt: str, base_url: str) -> None:
    article = item.article
    fe.id(entry_id(article.slug))  # also the RSS guid, isPermaLink="false"
    fe.title(entry_title(article))
    fe.link(href=xml_text(article.url), rel="alternate")
    ext = getattr(fe, _EXT)
    if fmt == "atom":
        ext.main_type, ext.alternates = atom_alternates(item)
    if article.canonical_source:
        ext.related = xml_text(article.canonical_source)
    fe.published(utc(article.published_at))  # RSS pubDate, Atom published
    fe.updated(utc(article.updated_at))
    if article.summary:
        summary = xml_text(article.summary)
        if fmt == "rss":
            # RSS readers treat <description> as HTML; escaping once more keeps
            # the plain-text summary from ever being read as markup.
            fe.summary(html.escape(summary, quote=False))
        else:
            fe.summary(summary, type="text")
    if item.content_html:
        if fmt == "rss":
            ext.rss_content = xml_text(item.content_html)
        else:
            fe.content(xml_text(item.content_html), type="html")
    categories = _categories(item, base_url)
    if categories:
        fe.category(categories)
    if article.lang:
        ext.lang = xml_text(article.lang)


def _serialize(fg: Any, fmt: str) -> bytes:
    if fmt == "rss":
        data: bytes = fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    else:
        data = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data


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
            _fill_entry(fg.add_entry(order="append"), item, fmt, info.base_url)
        return _serialize(fg, fmt)
    except ValueError as exc:
        raise _failure(fmt, info, exc) from exc


def _skeleton(fmt: str) -> tuple[Any, Any]:
    """A bare root as feedgen builds it (namespaces included) and the entries' parent."""
    if fmt == "rss":
        # Same prefixes in scope as feedgen's <rss>, so content:encoded and
        # atom:link serialize with the same prefixes and no extra declarations.
        root = etree.Element("rss", version="2.0", nsmap={"atom": _ATOM_NS, "content": _CONTENT_NS})
        return root, etree.SubElement(root, "channel")
    # feedgen sets the Atom namespace as a plain `xmlns` attribute, so its
    # elements have no namespace at all; the skeleton does the same.
    root = etree.Element("feed", xmlns=_ATOM_NS)
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
        fe.register_extension(_EXT, _EntryExtension)
        _fill_entry(fe, item, fmt, base_url)
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
        return _serialize(_generator(info, fmt), fmt)
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
