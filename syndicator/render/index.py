"""The HTML index page: topics, article counts and feed autodiscovery links."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from syndicator.render.common import (
    CONTENT_TYPES,
    OPML_PATH,
    TopicSummary,
    feed_title,
    feed_url,
    ordered_topics,
    site_name,
    utc,
    xml_text,
)

__all__ = ["render_index"]

# (format, link label, autodiscovery title suffix)
_FORMATS = (("rss", "RSS", "RSS 2.0"), ("atom", "Atom", "Atom 1.0"), ("json", "JSON", "JSON Feed"))


def _e(value: str) -> str:
    # Illegal control characters are removed too: the page may be re-used as
    # XHTML by scrapers, and they are never wanted in text.
    return escape(xml_text(value), quote=True)


def _updated_cell(topic: TopicSummary) -> str:
    if topic.updated is None:
        return "<td>—</td>"
    when = utc(topic.updated)
    shown = when.strftime("%Y-%m-%d %H:%M UTC")  # digits only: locale-independent
    return f'<td><time datetime="{_e(when.isoformat())}">{_e(shown)}</time></td>'


def render_index(site_title: str, base_url: str, topics: Sequence[TopicSummary]) -> bytes:
    """A small HTML5 page listing topics with links to each feed; deterministic."""
    rows = ordered_topics(topics)
    name = site_name(site_title)
    site = _e(name)
    head_links: list[str] = []
    body_rows: list[str] = []
    for topic in rows:
        title = feed_title(name, topic.name)
        feed_links: list[str] = []
        for fmt, label, suffix in _FORMATS:
            url = _e(feed_url(base_url, topic.name, fmt))
            media_type = CONTENT_TYPES[fmt].split(";")[0]
            head_links.append(
                f'<link rel="alternate" type="{media_type}" '
                f'title="{_e(f"{title} ({suffix})")}" href="{url}">'
            )
            feed_links.append(f'<a href="{url}" type="{media_type}">{label}</a>')
        body_rows.append(
            "<tr>"
            f'<th scope="row">{_e(topic.name)}</th>'
            f"<td>{topic.articles:d}</td>"
            f"{_updated_cell(topic)}"
            f"<td>{' · '.join(feed_links)}</td>"
            "</tr>"
        )
    opml_url = _e(f"{base_url.rstrip('/')}/{OPML_PATH}")
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{site}</title>",
        *head_links,
        f'<link rel="outline" type="text/x-opml" title="OPML" href="{opml_url}">',
        "</head>",
        "<body>",
        f"<h1>{site}</h1>",
        "<table>",
        "<thead><tr>"
        '<th scope="col">Topic</th><th scope="col">Articles</th>'
        '<th scope="col">Updated</th><th scope="col">Feeds</th>'
        "</tr></thead>",
        "<tbody>",
        *body_rows,
        "</tbody>",
        "</table>",
        f'<p><a href="{opml_url}" type="text/x-opml">All feeds as OPML</a></p>',
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(lines).encode("utf-8")
