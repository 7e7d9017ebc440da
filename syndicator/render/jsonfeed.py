"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1).

Composed like RSS and Atom (see `syndicator.render.feeds`): the document with
no items, cached per `FeedInfo`, and each item serialized once per content
version, indented as it sits in the `items` array.

What JSON Feed has no field for goes in the item's `_syndicator` extension
object (extension keys start with an underscore, JSON Feed 1.1 §"Extensions"):
`entities`, a list of `{"slug", "name", "feed"}`, and `alternates`, the
record's map of format name to URL. The object is there when the article has
entities or alternates, and then always with both keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from syndicator.core.urls import entity_feed_url
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
    FeedInfo,
    entry_id,
    entry_title,
    feed_description,
    feed_title,
    feed_url,
    site_name,
    unique_entities,
    utc,
    xml_text,
)

__all__ = [
    "EXTENSION_KEY",
    "JSON_FEED_VERSION",
    "compose_json",
    "reference_render_json",
    "render_json",
    "split_json",
]

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
#: The item key of Syndicator's extension object.
EXTENSION_KEY = "_syndicator"
_KNOWN_ALTERNATES = {name: rank for rank, (name, _) in enumerate(ALTERNATE_TYPES)}


def _extension(item: RenderedArticle, base_url: str) -> dict[str, Any] | None:
    """The `_syndicator` object of an item; None when it has nothing to say."""
    alternates = item.article.alternates
    if not (item.entities or alternates):
        return None
    entities = [
        {"slug": slug, "name": name, "feed": xml_text(entity_feed_url(base_url, slug, "json"))}
        for slug, name in unique_entities(item.entities)
    ]
    # Every alternate, known names in the Atom order and then the rest by
    # name, so the bytes never depend on the record's key order.
    names = sorted(alternates, key=lambda n: (_KNOWN_ALTERNATES.get(n, len(_KNOWN_ALTERNATES)), n))
    return {
        "entities": entities,
        "alternates": {xml_text(name): xml_text(alternates[name]) for name in names},
    }


def _item(item: RenderedArticle, base_url: str) -> dict[str, Any]:
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
    extension = _extension(item, base_url)
    if extension is not None:
        out[EXTENSION_KEY] = extension
    return out


_INDENT = orjson.OPT_INDENT_2
# How the empty `items` array, the document's last key, ends the shell.
_EMPTY_ITEMS_END = b"[]\n}\n"
# Items sit two levels deep, inside the document object and the array.
_ITEM_INDENT = b"    "
# How a document with items lays them out: the `items` key (the only line
# that starts with it, since strings never hold a raw newline), the items
# joined by `_ITEM_JOIN`, and the closing lines.
_ITEMS_OPEN = b'\n  "items": [\n'
_ITEM_JOIN = b",\n"
_ITEMS_CLOSE = b"\n  ]\n}\n"


def _document(info: FeedInfo, items: list[dict[str, Any]]) -> dict[str, Any]:
    utc(info.updated)  # JSON Feed has no feed date, but a naive one is still a caller bug
    site_title = site_name(info.site_title)
    doc: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": feed_title(site_title, info.topic, info.label),
        "home_page_url": xml_text(f"{info.base_url.rstrip('/')}/"),
        "feed_url": xml_text(feed_url(info.base_url, info.topic, "json")),
        "description": feed_description(site_title, info.topic, info.label),
        "authors": [{"name": site_title}],
    }
    if info.language:
        doc["language"] = xml_text(info.language)
    if info.hub_urls:
        doc["hubs"] = [{"type": "WebSub", "url": xml_text(hub)} for hub in info.hub_urls]
    doc["items"] = items  # last: the composition splices items in at the end
    return doc


def _dumps(info: FeedInfo, value: Any, option: int) -> bytes:
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError as exc:
        raise RenderError(f"cannot render json feed for topic {info.topic!r}: {exc}") from exc


def reference_render_json(info: FeedInfo, entries: Sequence[RenderedArticle]) -> bytes:
    """The document serialized whole, caching nothing: what `render_json` must equal."""
    doc = _document(info, [_item(item, info.base_url) for item in entries])
    return _dumps(info, doc, _INDENT | orjson.OPT_APPEND_NEWLINE)


def _fragment(info: FeedInfo, item: RenderedArticle) -> bytes:
    # orjson escapes control characters inside strings, so every newline in
    # its output is indentation, and shifting each line re-nests the item.
    data = _dumps(info, _item(item, info.base_url), _INDENT)
    return _ITEM_INDENT + data.replace(b"\n", b"\n" + _ITEM_INDENT)


def _shell(info: FeedInfo, caches: RenderCache) -> bytes:
    return cached(
        caches.shells,
        ("json", info),
        lambda: _dumps(info, _document(info, []), _INDENT | orjson.OPT_APPEND_NEWLINE),
    )


def _compose(
    shell: bytes,
    info: FeedInfo,
    entries: Sequence[RenderedArticle | bytes],
    caches: RenderCache,
) -> bytes:
    parts = entry_fragments(
        "json",
        entries,
        lambda items: [_fragment(info, i) for i in items],
        caches,
        info.base_url.rstrip("/"),
    )
    head = shell[: -len(_EMPTY_ITEMS_END)]
    return b"".join((head, b"[\n", _ITEM_JOIN.join(parts), _ITEMS_CLOSE))


def render_json(
    info: FeedInfo, entries: Sequence[RenderedArticle], caches: RenderCache = NO_CACHE
) -> bytes:
    """JSON Feed 1.1 document for one topic; `entries` newest first, already limited."""
    shell = _shell(info, caches)
    if not entries:
        return shell
    if not shell.endswith(_EMPTY_ITEMS_END):
        return reference_render_json(info, entries)
    return _compose(shell, info, entries, caches)


def compose_json(
    info: FeedInfo, entries: Sequence[RenderedArticle | bytes], caches: RenderCache = NO_CACHE
) -> bytes:
    """`render_json` where entries may be fragments from `split_json` (see
    `syndicator.render.feeds.compose_feed`)."""
    shell = _shell(info, caches)
    if not entries:
        return shell
    if not shell.endswith(_EMPTY_ITEMS_END):
        raise FragmentsUnusable("json")
    return _compose(shell, info, entries, caches)


def split_json(document: bytes) -> list[bytes] | None:
    """The item fragments of a document `render_json` wrote, in order; None
    when it is not laid out that way."""
    if document.endswith(_EMPTY_ITEMS_END) and _ITEMS_OPEN not in document:
        return []
    start = document.find(_ITEMS_OPEN)
    if start == -1 or not document.endswith(_ITEMS_CLOSE):
        return None
    # An item's own lines, nested objects included, are indented deeper than
    # the item, so a line that opens an object at the items' depth starts the
    # next item. Cut straight from the document: one copy of each item.
    separator = _ITEM_JOIN + _ITEM_INDENT + b"{"
    end = len(document) - len(_ITEMS_CLOSE)
    starts = [start + len(_ITEMS_OPEN)]
    ends = []
    found = document.find(separator, starts[0], end)
    while found != -1:
        ends.append(found)
        starts.append(found + len(_ITEM_JOIN))
        found = document.find(separator, found + len(separator), end)
    ends.append(end)
    return [document[a:b] for a, b in zip(starts, ends, strict=True)]
