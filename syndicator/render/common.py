"""What every renderer shares: feed descriptions, URLs, entry identity and text hygiene.

Public names are re-exported from `syndicator.render.feeds`; import them from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from syndicator.core import urls
from syndicator.core.article import entry_id
from syndicator.core.records import is_safe_topic
from syndicator.core.text import strip_xml_illegal
from syndicator.core.urls import (
    CUSTOM_KIND,
    ENTITY_KIND,
    FEED_FORMATS,
    LANG_KIND,
    split_feed_name,
)
from syndicator.errors import RenderError
from syndicator.models import ALL_TOPIC, Article

__all__ = [
    "ALTERNATE_TYPES",
    "CONTENT_TYPES",
    "FORMATS",
    "INDEX_PATH",
    "OPML_PATH",
    "RENDER_FORMAT",
    "FeedInfo",
    "TopicSummary",
    "entry_id",
    "feed_description",
    "feed_path",
    "feed_title",
    "feed_url",
    "entry_title",
    "is_feed_name",
    "ordered_topics",
    "site_name",
    "unique_entities",
    "utc",
    "xml_text",
]

FORMATS = FEED_FORMATS
CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
#: Paths of the site-wide documents, relative to the public prefix (SPEC §4).
OPML_PATH = "feeds.opml"
INDEX_PATH = "index.html"
#: Media types of the alternates an Atom entry links (SPEC §4b), in the order
#: the links appear; alternates with other names have no Atom form.
ALTERNATE_TYPES = (
    ("html", "text/html"),
    ("markdown", "text/markdown"),
    ("text", "text/plain"),
    ("jsonld", "application/ld+json"),
)
#: Version of what the renderers put in a feed beyond the data and settings.
#: Part of the build's render fingerprint: raising it makes the next build
#: render every entry again instead of reusing the previous files' bytes.
#: 2: entity categories, typed alternate links, the JSON Feed `_syndicator` object.
#: 3: the `<?xml-stylesheet?>` instruction at the top of RSS and Atom feeds.
RENDER_FORMAT = 3


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """Feed-level facts for one feed; nothing here comes from the clock."""

    site_title: str
    base_url: str  # public prefix, no trailing slash, e.g. "http://127.0.0.1:8080"
    #: The feed's name, its path below `feeds/` without extension: a topic
    #: slug, "all", or a facet `entities/<slug>`, `lang/<tag>`, `custom/<name>`.
    topic: str
    updated: datetime  # feed-level date, tz-aware; the newest updated_at
    hub_urls: tuple[str, ...] = ()  # WebSub hubs; when non-empty add rel="hub" links
    language: str | None = None
    #: Articles recently deleted from this feed: (slug, deleted_at), newest
    #: first. Atom lists them as RFC 6721 deleted entries; the others ignore them.
    deleted: tuple[tuple[str, datetime], ...] = ()
    ttl_minutes: int | None = None  # RSS <ttl>: how long a reader may cache the feed
    #: A facet feed's display name ("Nvidia", a language's tag, a custom feed's
    #: name); its slug stands in when None. Topic feeds ignore it.
    label: str | None = None


@dataclass(frozen=True, slots=True)
class TopicSummary:
    """One row of the OPML file and the index page."""

    name: str  # topic slug or "all"
    articles: int
    updated: datetime | None


def is_feed_name(name: str) -> bool:
    """True for a name `feed_path` accepts: "all", a safe topic slug, or a
    facet kind and a safe slug (``entities/nvidia``, ``lang/pt-br``)."""
    kind, slug = split_feed_name(name)
    if kind is None:
        return name == ALL_TOPIC or is_safe_topic(name)
    # "all" is reserved among topics only: feeds/entities/all.rss is no
    # other feed's path, so an entity or custom feed may be called that.
    return slug == ALL_TOPIC or is_safe_topic(slug)


def _check_topic(topic: str) -> None:
    # Names become file names and URL segments; ingest already rejects unsafe
    # topics, this guards against a caller passing something else.
    if not is_feed_name(topic):
        raise RenderError(f"unsafe feed name {topic[:80]!r}")


def feed_path(topic: str, fmt: str) -> str:
    """Relative path of a feed, e.g. ``feeds/ai.rss`` or ``feeds/entities/nvidia.atom``."""
    if fmt not in FORMATS:
        raise RenderError(f"unknown feed format {fmt!r}; expected one of {', '.join(FORMATS)}")
    _check_topic(topic)
    return urls.feed_path(topic, fmt)


def feed_url(base_url: str, topic: str, fmt: str) -> str:
    """Public URL of a feed: the base URL joined with `feed_path`."""
    feed_path(topic, fmt)  # validates
    return urls.feed_url(base_url, topic, fmt)


def site_name(site_title: str) -> str:
    """The site title cleaned for XML; blank falls back to "Syndicator" (feeds need a name)."""
    cleaned = xml_text(site_title)
    return cleaned if cleaned.strip() else "Syndicator"


def entry_title(article: Article) -> str:
    """The article title cleaned for XML; blank falls back to its URL (feeds need a title)."""
    cleaned = xml_text(article.title)
    return cleaned if cleaned.strip() else xml_text(article.url)


def _label(slug: str, label: str | None) -> str:
    cleaned = None if label is None else xml_text(label).strip()
    return cleaned or slug


def feed_title(site_title: str, topic: str, label: str | None = None) -> str:
    """Human title of a feed: the site, then the topic or the facet's label."""
    if topic == ALL_TOPIC:
        return site_title
    kind, slug = split_feed_name(topic)
    return f"{site_title}: {topic if kind is None else _label(slug, label)}"


def feed_description(site_title: str, topic: str, label: str | None = None) -> str:
    """One-line description (RSS requires one; Atom subtitle, JSON description)."""
    if topic == ALL_TOPIC:
        return f"All articles from {site_title}"
    kind, slug = split_feed_name(topic)
    name = _label(slug, label)
    if kind == ENTITY_KIND:
        return f"Articles mentioning {name} from {site_title}"
    if kind == LANG_KIND:
        return f"Articles in {name} from {site_title}"
    if kind == CUSTOM_KIND:
        return f"Articles of the custom feed {name} from {site_title}"
    return f"Articles on {topic} from {site_title}"


def unique_entities(entities: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (slug, label) pairs cleaned for XML, the first of each slug only
    (the build de-duplicates already; a repeated category is never wanted).
    A blank label falls back to the slug."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for slug, label in entities:
        cleaned = xml_text(slug)
        if cleaned in seen:
            continue
        seen.add(cleaned)
        out.append((cleaned, _label(cleaned, label)))
    return out


def utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is a caller bug, reported as `RenderError`."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise RenderError(f"naive datetime {value.isoformat()} cannot go into a feed")
    return value.astimezone(UTC)


# The C0 controls XML 1.0 forbids (all but TAB, LF and CR), as bytes to delete.
_C0_ILLEGAL = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


def _is_xml_clean(value: str) -> bool:
    """True only if `value` has none of the characters `strip_xml_illegal` removes.

    The regex scan costs ~4 ns a character (≈ 25 µs for a 6 KB body, for every
    field of every entry), while nearly all text is already clean. These C-level
    checks prove cleanliness ~7x faster; anything they cannot prove clean still
    goes through the regex, so the result is always exactly `strip_xml_illegal`'s.
    """
    if value.isprintable():
        # Controls, surrogates (Cs) and U+FFFE/U+FFFF (Cn) are all non-printable.
        return True
    if value.isascii():  # O(1): only the C0 controls can be present
        data = value.encode("ascii")
    else:
        if "\ufffe" in value or "\uffff" in value:
            return False
        try:
            data = value.encode("utf-8")  # strict: lone surrogates raise
        except UnicodeEncodeError:
            return False
    # In UTF-8, bytes below 0x20 only ever encode those same code points.
    return len(data.translate(None, _C0_ILLEGAL)) == len(data)


def xml_text(value: str) -> str:
    """`value` with characters XML 1.0 forbids removed (lxml refuses them)."""
    return value if _is_xml_clean(value) else strip_xml_illegal(value)


def ordered_topics(topics: Sequence[TopicSummary]) -> list[TopicSummary]:
    """The "all" row first, then topics by name, so output never depends on input order."""
    return sorted(topics, key=lambda t: (t.name != ALL_TOPIC, t.name))
