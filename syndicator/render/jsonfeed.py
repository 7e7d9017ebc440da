"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from syndicator.errors import RenderError
from syndicator.models import RenderedArticle
from syndicator.render.common import (
    FeedInfo,
    entry_id,
    entry_title,
    feed_description,
    feed_title,
    feed_url,
    site_name,
    utc,
    xml_text,
)

__all__ = ["JSON_FEED_VERSION", "render_json"]

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def _item(item: RenderedArticle) -> dict[str, Any]:
    article = item.article
    # Key order is fixed by insertion, which keeps the bytes stable. Text is
    # cleaned as for XML so every format carries the same strings (and lone
    # surrogates, which are not UTF-8, never reach the encoder).
    out: dict[str, Any] = {
        "id": entry_id(article.slug),
        "url": xml_text(article.url),
    }
    if article.canonical_source:
        out["external_url"] = xml_text(article.canonical_source)
    out["title"] = entry_title(article)
    if item.content_html:
        out["content_html"] = xml_text(item.content_html)
    else:
        # The spec requires content_html or content_text on every item.
        out["content_text"] = xml_text(article.summary or "")
    if article.summary:
        out["summary"] = xml_text(article.summary)
    out["date_published"] = utc(article.published_at).isoformat()
    out["date_modified"] = utc(article.updated_at).isoformat()
    if article.topics:
        out["tags"] = [xml_text(t) for t in article.topics]
    if article.lang:
        out["language"] = xml_text(article.lang)
    return out


def render_json(info: FeedInfo, entries: Sequence[RenderedArticle]) -> bytes:
    """JSON Feed 1.1 document for one topic; `entries` newest first, already limited."""
    utc(info.updated)  # JSON Feed has no feed date, but a naive one is still a caller bug
    site_title = site_name(info.site_title)
    doc: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": feed_title(site_title, info.topic),
        "home_page_url": xml_text(f"{info.base_url.rstrip('/')}/"),
        "feed_url": xml_text(feed_url(info.base_url, info.topic, "json")),
        "description": feed_description(site_title, info.topic),
        "authors": [{"name": site_title}],
    }
    if info.language:
        doc["language"] = xml_text(info.language)
    if info.hub_urls:
        doc["hubs"] = [{"type": "WebSub", "url": xml_text(hub)} for hub in info.hub_urls]
    doc["items"] = [_item(item) for item in entries]
    try:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError as exc:
        raise RenderError(f"cannot render json feed for topic {info.topic!r}: {exc}") from exc
