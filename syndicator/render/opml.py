"""OPML 2.0 subscription list of every feed (http://opml.org/spec2.opml)."""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import format_datetime
from xml.etree import ElementTree as etree

from syndicator.render.common import (
    TopicSummary,
    feed_title,
    feed_url,
    ordered_topics,
    site_name,
    utc,
    xml_text,
)

__all__ = ["FORMAT_GROUPS", "render_opml"]

#: One OPML group per format, in this order, named as readers show them.
FORMAT_GROUPS = (("rss", "RSS 2.0"), ("atom", "Atom 1.0"), ("json", "JSON Feed 1.1"))
_OPML_DOCS = "http://opml.org/spec2.opml"


def render_opml(site_title: str, base_url: str, topics: Sequence[TopicSummary]) -> bytes:
    """OPML 2.0 listing every topic feed in every format; "all" first, then by name."""
    site = site_name(site_title)
    home_url = xml_text(f"{base_url.rstrip('/')}/")
    rows = ordered_topics(topics)

    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{site} feeds"
    dates = [utc(t.updated) for t in rows if t.updated is not None]
    if dates:
        # From the data, never the clock, so unchanged topics give the same bytes.
        etree.SubElement(head, "dateModified").text = format_datetime(max(dates), usegmt=True)
    etree.SubElement(head, "docs").text = _OPML_DOCS

    body = etree.SubElement(root, "body")
    for fmt, label in FORMAT_GROUPS:
        group = etree.SubElement(body, "outline", text=label, title=label)
        for topic in rows:
            title = xml_text(feed_title(site, topic.name))
            etree.SubElement(
                group,
                "outline",
                type="rss",  # OPML's type for any feed, Atom and JSON Feed included
                text=title,
                title=title,
                xmlUrl=xml_text(feed_url(base_url, topic.name, fmt)),
                htmlUrl=home_url,
            )
    etree.indent(root)
    # The stdlib writer does not reject XML-illegal characters; xml_text above
    # has removed them from every string.
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return data + b"\n"
