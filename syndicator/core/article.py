"""An article's serialisations, all derived from the fields of `models.Article`.

- the stored record: `article_to_dict` / `article_from_dict` (SPEC §1 field
  names, times as RFC 3339 text, unknown fields kept beside the known ones);
- its content hash: everything but `updated_at`;
- the `data` its webhook events announce (SPEC §6): the stored fields but the
  body and the alternates, plus the links of its topics' feeds;
- `article_version`: all of the above computed once, for storing a poll;
- what is kept of a deleted article (`purged_record`) and its
  `article.deleted` data (`deleted_data`, SPEC §3b).

Adding a field to `Article` adds it to each of these; only the fields a
webhook leaves out are named here.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import typing
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson

from syndicator.core.text import strip_xml_illegal
from syndicator.core.times import format_time
from syndicator.core.urls import topic_feed_urls
from syndicator.models import Article, ArticleVersion

__all__ = [
    "ANNOUNCED_FIELDS",
    "FIELD_NAMES",
    "KNOWN_FIELDS",
    "announced_data",
    "article_from_dict",
    "article_from_fields",
    "article_to_dict",
    "article_version",
    "content_hash",
    "content_version",
    "deleted_data",
    "entry_id",
    "purged_record",
]

_Convert = Callable[[Any], Any]

# Fixed forever: changing it would change every entry id and make readers show
# every article as new.
_ENTRY_NAMESPACE = uuid.UUID("1ab8589d-433b-4652-975f-544c76af1661")
#: What a deleted article's stored record keeps (SPEC §3b): identity, where
#: it was, and its times; the content is purged.
_KEPT_WHEN_DELETED = ("slug", "url", "published_at", "updated_at", "lang", "topics", "entities")


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value or ())


def _dict(value: Any) -> dict[Any, Any]:
    return dict(value or {})


def _codec(hint: Any) -> tuple[_Convert | None, _Convert | None]:
    """How a field of type `hint` is written to JSON and read back (None: as it is)."""
    if hint is datetime:
        return format_time, datetime.fromisoformat
    origin = typing.get_origin(hint)
    if origin is tuple:
        return list, _tuple
    if origin is Mapping:
        return dict, _dict
    return None, None


_HINTS = typing.get_type_hints(Article)
_FIELDS = tuple(f for f in dataclasses.fields(Article) if f.name != "extra")
#: The known fields of a record, in SPEC §1 order (the stored record's order).
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in _FIELDS)
KNOWN_FIELDS = frozenset(FIELD_NAMES)
#: What a webhook event's `data` holds of the record (SPEC §6), in that order.
ANNOUNCED_FIELDS: tuple[str, ...] = tuple(
    name for name in FIELD_NAMES if name not in ("body_md", "alternates")
)
_ENCODE = tuple((f.name, _codec(_HINTS[f.name])[0]) for f in _FIELDS)
_REQUIRED = frozenset(
    f.name
    for f in _FIELDS
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)
_DECODE = tuple((f.name, _codec(_HINTS[f.name])[1], f.name in _REQUIRED) for f in _FIELDS)
_SEQUENCES = frozenset(name for name in FIELD_NAMES if typing.get_origin(_HINTS[name]) is tuple)


def article_to_dict(article: Article) -> dict[str, Any]:
    """The article as a JSON-ready mapping (SPEC §1 field names, unknown fields kept)."""
    data: dict[str, Any] = dict(article.extra)
    for name, encode in _ENCODE:
        value = getattr(article, name)
        data[name] = value if encode is None else encode(value)
    return data


def article_from_dict(data: Mapping[str, Any]) -> Article:
    """Rebuild an article stored with `article_to_dict` (trusted input)."""
    values: dict[str, Any] = {}
    for name, decode, required in _DECODE:
        value = data[name] if required else data.get(name)
        values[name] = value if decode is None else decode(value)
    extra = {k: v for k, v in data.items() if k not in KNOWN_FIELDS}
    return Article(**values, extra=extra)


def article_from_fields(source: object, extra: Mapping[str, Any]) -> Article:
    """An article from typed values: `source` has an attribute per field (a validated record)."""
    values = {name: getattr(source, name) for name in FIELD_NAMES}
    for name in _SEQUENCES:
        values[name] = tuple(values[name])
    return Article(**values, extra=extra)


def content_hash(article: Article) -> str:
    """Hash of everything but `updated_at`: a newer timestamp alone is no change."""
    return _hash_content(article_to_dict(article))


def content_version(article: Article) -> tuple[str, str]:
    """The content hash and the record as stored (`article_to_dict` as JSON), in one pass."""
    data = article_to_dict(article)
    return _hash_content(data), orjson.dumps(data).decode()


def _hash_content(data: dict[str, Any]) -> str:
    blob = orjson.dumps(
        {k: v for k, v in data.items() if k != "updated_at"}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def announced_data(stored: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """The `data` of a webhook event about the article stored as `stored` (SPEC §6)."""
    data = {name: stored[name] for name in ANNOUNCED_FIELDS}
    data["feeds"] = {topic: topic_feed_urls(base_url, topic) for topic in stored["topics"]}
    return data


def article_version(article: Article, base_url: str) -> ArticleVersion:
    """Everything storing and announcing `article` needs, computed once."""
    data = article_to_dict(article)
    return ArticleVersion(
        article.slug,
        article.updated_at,
        article.published_at,
        article.topics,
        _hash_content(data),
        orjson.dumps(data).decode(),
        orjson.dumps(announced_data(data, base_url)).decode(),
        article.entities,
        article.lang,
    )


# Asked once per entry and format, for the same few thousand articles in a row.
@functools.lru_cache(maxsize=4096)
def entry_id(slug: str) -> str:
    """The entry's permanent id, derived from the slug alone (SPEC §4)."""
    # Ingest already strips these characters from slugs, so for stored slugs
    # this is a no-op; it keeps lone surrogates from breaking the UTF-8 hash.
    return f"urn:uuid:{uuid.uuid5(_ENTRY_NAMESPACE, strip_xml_illegal(slug))}"


def purged_record(stored: Mapping[str, Any], deleted_at: datetime) -> dict[str, Any]:
    """What a deleted article's row keeps of its stored record; `updated_at`
    becomes the deletion's time, so only a later record restores it."""
    kept = {name: stored[name] for name in _KEPT_WHEN_DELETED if name in stored}
    kept["updated_at"] = format_time(deleted_at)
    kept.setdefault("topics", [])
    kept.setdefault("entities", [])
    return kept


def deleted_data(kept: Mapping[str, Any], deleted_at: datetime, base_url: str) -> dict[str, Any]:
    """The `data` of an `article.deleted` event (SPEC §6), from `purged_record`."""
    topics = list(kept.get("topics") or ())
    return {
        "slug": kept["slug"],
        "id": entry_id(kept["slug"]),
        "url": kept.get("url"),
        "topics": topics,
        "entities": list(kept.get("entities") or ()),
        "lang": kept.get("lang"),
        "deleted_at": format_time(deleted_at),
        "feeds": {topic: topic_feed_urls(base_url, topic) for topic in topics},
    }
