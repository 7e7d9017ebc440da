"""What an entry carries besides feedgen's own fields, and the feedgen
extensions that write what feedgen cannot.

feedgen calls these extensions (the protocol of feedgen/ext/base.py) while
it serializes; they need no feedgen import, so `feeds` stays its only
importer. Entity categories and typed alternate links are decided here
(SPEC §4b), for RSS and Atom alike.
"""

from __future__ import annotations

import html
from typing import Any

from lxml import etree

from syndicator.core.urls import entity_scheme
from syndicator.models import RenderedArticle
from syndicator.render.common import (
    ALTERNATE_TYPES,
    entry_id,
    entry_title,
    unique_entities,
    utc,
    xml_text,
)

__all__ = [
    "ATOM_NS",
    "CONTENT_NS",
    "EXT",
    "EntryExtension",
    "FeedExtension",
    "atom_alternates",
    "fill_entry",
]

ATOM_NS = "http://www.w3.org/2005/Atom"
_TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
_DELETED_ENTRY = f"{{{_TOMBSTONES_NS}}}deleted-entry"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
_CONTENT_ENCODED = f"{{{CONTENT_NS}}}encoded"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
#: Name under which our feedgen extension hangs off generators and entries.
EXT = "syndicator"


class FeedExtension:
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
            channel.append(channel.makeelement(f"{{{ATOM_NS}}}link", {"href": hub, "rel": "hub"}))
        return rss

    def extend_atom(self, feed: Any) -> Any:
        # feedgen builds Atom elements without a namespace and declares the
        # default namespace on the root, so plain "link" is atom:link.
        for hub in self.hubs:
            feed.append(feed.makeelement("link", {"href": hub, "rel": "hub"}))
        # feedgen runs extensions before it appends the entries, so these sit
        # in the shell, ahead of every entry: the composition splices entries
        # after them and `feeds._split` never takes one for (or into) an entry. The
        # namespace is declared on each element rather than the root, so a
        # feed with nothing deleted keeps its bytes.
        for ref, when in self.deleted:
            etree.SubElement(
                feed, _DELETED_ENTRY, {"ref": ref, "when": when}, nsmap={"at": _TOMBSTONES_NS}
            )
        return feed


class EntryExtension:
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


def fill_entry(fe: Any, item: RenderedArticle, fmt: str, base_url: str) -> None:
    """Set every field of feedgen entry `fe` for `fmt` (with our extension registered)."""
    article = item.article
    fe.id(entry_id(article.slug))  # also the RSS guid, isPermaLink="false"
    fe.title(entry_title(article))
    fe.link(href=xml_text(article.url), rel="alternate")
    ext = getattr(fe, EXT)
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
