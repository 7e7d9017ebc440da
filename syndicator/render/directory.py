"""The entity directory: `/entities/` (initials), `/entities/<letter>.html`, and
`/feeds/entities.opml`.

An entity is filed under the first character of its slug (the name with
accents folded to ASCII, so "Société Générale" is under S); names whose slug
starts with a digit, and names with no Latin letter or digit at all (their
slug is a hash), are under "other".
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from syndicator.core.urls import ENTITY_KIND, split_feed_name
from syndicator.render.common import feed_title, feed_url, site_name
from syndicator.render.index import (
    ENTITY_DIRECTORY,
    FacetSummary,
    SiteTemplates,
    feed_entry,
    site_context,
)
from syndicator.render.opml import OPML_FORMAT, Outline, render_opml

__all__ = [
    "INITIALS",
    "OTHER",
    "initial_of",
    "letter_path",
    "render_entities_opml",
    "render_entity_index",
    "render_letter",
]

OTHER = "other"
#: Every directory page, in the order the index lists them.
INITIALS = (*string.ascii_lowercase, OTHER)
_LATIN = re.compile(r"[a-z0-9]")


def _is_hashed(label: str) -> bool:
    # A name with no Latin letter or digit gets a hash slug ("x-…").
    folded = unicodedata.normalize("NFKD", label.casefold()).encode("ascii", "ignore")
    return _LATIN.search(folded.decode("ascii")) is None


def initial_of(slug: str, label: str) -> str:
    """The directory page an entity is listed on: a letter a–z, or "other"."""
    first = slug[:1]
    if first in string.ascii_lowercase and not (first == "x" and _is_hashed(label)):
        return first
    return OTHER


def letter_path(initial: str) -> str:
    """The page of one initial, relative to the site: ``entities/a.html``."""
    return f"{ENTITY_DIRECTORY}{initial}.html"


def _label(initial: str) -> str:
    return "Other" if initial == OTHER else initial.upper()


@dataclass(frozen=True, slots=True)
class _Initial:
    label: str
    url: str
    count: int


def _sorted(entities: Iterable[FacetSummary]) -> list[FacetSummary]:
    return sorted(entities, key=lambda e: (e.label.casefold(), e.label, e.name))


def render_entity_index(
    site_title: str, base_url: str, counts: Mapping[str, int], templates: SiteTemplates
) -> bytes:
    """`/entities/`: each initial that has names, with how many."""
    base = base_url.rstrip("/")
    context = site_context(site_title, base_url)
    context["letters"] = [
        _Initial(_label(i), f"{base}/{letter_path(i)}", counts[i])
        for i in INITIALS
        if counts.get(i)
    ]
    return templates.render("entities.html", context)


def render_letter(
    site_title: str,
    base_url: str,
    initial: str,
    entities: Sequence[FacetSummary],
    templates: SiteTemplates,
) -> bytes:
    """`/entities/<initial>.html`: every live entity filed there, by name, with feed links."""
    name = site_name(site_title)
    context = site_context(site_title, base_url)
    context["label"] = _label(initial)
    context["feeds"] = [
        feed_entry(name, base_url, e.name, e.label, e.articles, None) for e in _sorted(entities)
    ]
    return templates.render("letter.html", context)


def render_entities_opml(site_title: str, base_url: str, entities: Iterable[FacetSummary]) -> bytes:
    """`/feeds/entities.opml`: every live entity's feed, by name, in one group."""
    site = site_name(site_title)
    home = f"{base_url.rstrip('/')}/"
    feeds = tuple(
        Outline(
            text=feed_title(site, e.name, e.label),
            xml_url=feed_url(base_url, e.name, OPML_FORMAT),
            html_url=home,
        )
        for e in _sorted(entities)
        if split_feed_name(e.name)[0] == ENTITY_KIND
    )
    return render_opml(f"{site}: names", [Outline(text=f"{site}: names", children=feeds)])
