"""Entity names: the key under which spellings of one entity are merged (SPEC §4b)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["entity_key"]

_SPACES = re.compile(r"\s+")


def entity_key(name: str) -> str:
    """The merge key of an entity name: case-insensitive, accent-sensitive.

    NFKC first, so compatibility forms (full-width letters, ligatures) count
    as their plain letters; runs of whitespace become one space; `casefold`
    rather than `lower` so that ``Straße`` and ``STRASSE`` merge.
    """
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", name)).strip().casefold()
