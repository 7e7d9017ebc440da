"""Entities and languages as feeds (SPEC §4b): names, merge keys and slugs.

An entity is known by its merge key (case-insensitive, whitespace-normalised:
"NVIDIA" and "Nvidia" are one), and served under a slug: the name with accents
folded to ASCII, lower-cased, runs of anything else as ``-``. A name with no
Latin letter or digit gets a stable hash slug; distinct keys whose slugs
collide are told apart by a suffix derived from the key (`suffixed_slug`), so
which one came first decides only which keeps the plain slug, never what the
other's becomes.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Mapping

from syndicator.core.urls import facet_name

__all__ = [
    "ENTITY_DROPPED",
    "MAX_ENTITY_LENGTH",
    "clean_entity",
    "entity_key",
    "entity_problem",
    "entity_slug",
    "lang_feed",
    "language_label",
    "suffixed_slug",
]

#: Longer names are dropped from the record (SPEC §4b bad input).
MAX_ENTITY_LENGTH = 200
#: How the note of an entity dropped from a published record begins.
ENTITY_DROPPED = "entity dropped: "

_WHITESPACE = re.compile(r"\s+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# Controls, lone surrogates and unassigned code points; format characters (Cf,
# such as the zero-width joiner some scripts need) are allowed.
_CONTROL = frozenset(("Cc", "Cs", "Cn"))
# Format characters a name never needs and that can make it look like another
# (U+202E turns "evil" around on screen), deleted by `clean_entity`.
_INVISIBLE = dict.fromkeys(
    [0x00AD, 0x061C, 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
)
# Slugs are file names too: keep them well inside every file system's limit.
_MAX_SLUG = 80


# A few names recur on most articles (Zipf): an import asks for the same keys
# again and again, in the poll and in every build.
@functools.lru_cache(maxsize=1 << 16)
def entity_key(name: str) -> str:
    """The merge key: NFKC, whitespace runs as one space, stripped, case-folded,
    without the invisible characters `clean_entity` deletes (so a filter
    naming an entity matches it however it was written)."""
    name = unicodedata.normalize("NFKC", name.translate(_INVISIBLE))
    return _WHITESPACE.sub(" ", name).strip().casefold()


def clean_entity(name: str) -> str:
    """A usable name (`entity_problem` None) as feeds show it: without the
    invisible characters that could disguise it (bidirectional overrides and
    marks, zero-width spaces, byte order marks, soft hyphens) and with its
    whitespace trimmed and runs of it as one space, so "  Nvidia " is one
    spelling with "Nvidia". Joiners some scripts need (ZWJ, ZWNJ) stay."""
    if name.isprintable() and name.strip(" ") == name and "  " not in name:
        return name  # the usual name: one C-level check, no copy
    name = name.translate(_INVISIBLE)
    return " ".join(name.split())


def entity_problem(name: object) -> str | None:
    """Why `name` cannot be an entity (None when it can)."""
    if not isinstance(name, str):
        return f"entity {name!r} is not a string"
    if not name.strip():
        return "entity is empty or whitespace"
    if len(name) > MAX_ENTITY_LENGTH:
        return f"entity is longer than {MAX_ENTITY_LENGTH} characters ({name[:40]!r}…)"
    # Printable text holds none of them (isprintable is False for every
    # category in _CONTROL): one C call instead of a lookup per character.
    if not name.isprintable():
        if any(unicodedata.category(ch) in _CONTROL for ch in name):
            return f"entity {name[:60]!r} holds control characters"
        # Format characters alone (a zero-width space, a byte order mark)
        # would make an entity whose title and link text show nothing.
        if all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in name):
            return f"entity {name!r} has no visible character"
    return None


def entity_slug(name: str) -> str:
    """The slug of an entity's name: ASCII, lower-case, ``-`` between words.

    A name with no Latin letter or digit (Chinese, Arabic, only symbols)
    gets ``x-`` and a hash of its merge key, the same on every run.
    """
    folded = unicodedata.normalize("NFKD", entity_key(name))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_only).strip("-")
    if not slug:
        return "x-" + _digest(name, 10)
    return slug[:_MAX_SLUG].rstrip("-")


def suffixed_slug(name: str, length: int = 6) -> str:
    """The slug of a name whose plain slug another entity holds: the plain
    one plus part of a hash of the merge key (longer on a second collision)."""
    return f"{entity_slug(name)}-{_digest(name, length)}"


@functools.lru_cache(maxsize=1024)
def language_label(tag: str) -> str:
    """A language feed's name for readers: the language's English name and
    the tag ("German (de)", "Portuguese (pt-br)"); the tag alone for a
    language CLDR does not name (private use, `und`)."""
    primary = tag.split("-", 1)[0].lower()
    name = None if primary == "und" else _language_names().get(primary)
    return tag if name is None else f"{name} ({tag})"


@functools.cache
def _language_names() -> Mapping[str, str]:
    # Imported here: Babel and its English data (about 9 MB) load when a
    # language feed is first named, not in every command.
    from babel import Locale

    names: Mapping[str, str] = Locale("en").languages
    return names


def lang_feed(tag: str) -> str:
    """The feed name of a language (BCP 47, lower-cased): ``lang/pt-br``."""
    return facet_name("lang", tag.lower())


def _digest(name: str, length: int) -> str:
    return hashlib.sha256(entity_key(name).encode("utf-8")).hexdigest()[:length]
