"""OPML 2.0 subscription lists (http://opml.org/spec2.opml).

Made to import cleanly into feed readers and to pass the W3C Feed Validation
Service: each feed is listed once, in one format (RSS 2.0, which every reader
takes), as `<outline type="rss" text title xmlUrl htmlUrl/>`; an outline that
only groups others (readers make it a folder) carries `text` alone; the head
holds only elements OPML 2.0 defines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.etree import ElementTree as etree

from syndicator.errors import RenderError
from syndicator.render.common import (
    TopicSummary,
    feed_title,
    feed_url,
    ordered_topics,
    site_name,
    utc,
    xml_text,
)

__all__ = ["OPML_FORMAT", "Outline", "render_opml", "render_topic_opml"]

#: The one format a subscription list points readers at.
OPML_FORMAT = "rss"


@dataclass(frozen=True, slots=True)
class Outline:
    """One OPML outline: a feed (`xml_url` set) or a group of outlines (`children`)."""

    text: str  # what readers show: the feed's title, or the group's (folder's) name
    xml_url: str | None = None
    html_url: str | None = None  # the page the feed belongs to
    children: tuple[Outline, ...] = ()


def _add(parent: etree.Element, outline: Outline) -> None:
    text = xml_text(outline.text)
    if outline.xml_url is None:
        group = etree.SubElement(parent, "outline", text=text)
        for child in outline.children:
            _add(group, child)
        return
    if outline.children:
        raise RenderError(f"OPML outline {text[:80]!r} is a feed and cannot hold other outlines")
    # OPML's type for any feed; a type="rss" outline needs `title` as well.
    attrs = {"type": "rss", "text": text, "title": text, "xmlUrl": xml_text(outline.xml_url)}
    if outline.html_url is not None:
        attrs["htmlUrl"] = xml_text(outline.html_url)
    etree.SubElement(parent, "outline", attrs)


def render_opml(title: str, outlines: Sequence[Outline], updated: datetime | None = None) -> bytes:
    """An OPML 2.0 document of `outlines`, in the order given; deterministic.

    `updated` (tz-aware) becomes `dateModified`: pass a date from the data,
    never the clock, so unchanged lists keep their bytes.
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = xml_text(title)
    if updated is not None:
        etree.SubElement(head, "dateModified").text = format_datetime(utc(updated), usegmt=True)
    body = etree.SubElement(root, "body")
    for outline in outlines:
        _add(body, outline)
    etree.indent(root)
    # The stdlib writer does not reject XML-illegal characters; xml_text has
    # removed them from every string.
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return data + b"\n"


def render_topic_opml(
    site_title: str,
    base_url: str,
    topics: Sequence[TopicSummary],
    languages: Sequence[tuple[str, str | None]] = (),
    custom: Sequence[tuple[str, str | None]] = (),
) -> bytes:
    """`/feeds.opml`: every topic feed once, "all" first, then by name, in one
    group named after the site (the folder a reader files them in); then the
    language feeds and the custom feeds ((feed name, label) each, in the
    order given), each kind in a group of its own when there are any.
    Entity feeds, which may be tens of thousands, have their own list."""
    site = site_name(site_title)
    home_url = f"{base_url.rstrip('/')}/"
    rows = ordered_topics(topics)

    def outline(name: str, label: str | None = None) -> Outline:
        return Outline(
            text=feed_title(site, name, label),
            xml_url=feed_url(base_url, name, OPML_FORMAT),
            html_url=home_url,
        )

    groups = [Outline(text=site, children=tuple(outline(topic.name) for topic in rows))]
    for heading, facets in (("languages", languages), ("custom feeds", custom)):
        if facets:
            children = tuple(outline(name, label) for name, label in facets)
            groups.append(Outline(text=f"{site}: {heading}", children=children))
    dates = [utc(t.updated) for t in rows if t.updated is not None]
    updated = max(dates) if dates else None
    return render_opml(f"{site} feeds", groups, updated)
