"""Which webhook endpoints receive which events (SPEC §6).

An endpoint filters by event type and by the article's facets: its topics
(``*`` for every topic), its entities and its language. Every filter an
endpoint sets must match; an entity or language filter left empty matches
every article. The facets are those the event's `data` carries, so an
`article.deleted` event is routed by what the article was when deleted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator

from syndicator.core.entities import entity_key, entity_problem, entity_slug
from syndicator.core.records import language_tag

__all__ = [
    "EntityFilter",
    "LanguageFilter",
    "MAX_ENTITY_CHARS",
    "Route",
    "Subject",
    "check_entity_names",
    "check_language_ranges",
    "entity_keys",
    "event_entities",
    "language_matches",
]

#: Longest entity name a filter may hold (config keys `entities`).
MAX_ENTITY_CHARS = 200

# The same few thousand names recur across a poll's articles; normalising each
# once (NFKC, a regex, casefold) instead of once per event keeps a large import
# to endpoints with entity filters from paying it a million times over.
_cached_key = lru_cache(maxsize=16_384)(entity_key)


@lru_cache(maxsize=16_384)
def _names(entity: str) -> tuple[str, str]:
    """An entity as a filter may name it (SPEC §6): its merge key and its slug."""
    return _cached_key(entity), entity_slug(entity)


def entity_keys(names: Iterable[str]) -> set[str]:
    """The merge keys of these entity names."""
    return {_cached_key(name) for name in names}


def check_entity_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """`names` if each is a usable entity filter; else `ValueError` naming the first bad one."""
    for index, name in enumerate(names):
        if not entity_key(name):
            raise ValueError(f"entry {index + 1} is an empty name")
        if len(name) > MAX_ENTITY_CHARS:
            raise ValueError(
                f"entry {index + 1} ({name[:40]!r}...) is longer than {MAX_ENTITY_CHARS} characters"
            )
        problem = entity_problem(name)
        if problem is not None:
            # What no record's entity can be: the filter could never match.
            raise ValueError(f"entry {index + 1}: {problem}")
    return names


def check_language_ranges(tags: tuple[str, ...]) -> tuple[str, ...]:
    """`tags` as BCP 47 language tags (a locale name such as `de_DE` taken as
    `de-DE`, as records' `lang` is); else `ValueError` naming the first bad one."""
    checked: list[str] = []
    for value in tags:
        tag = language_tag(value)
        if tag is None:
            raise ValueError(f"not a BCP 47 language tag: {value!r} (e.g. 'en', 'pt-BR')")
        checked.append(tag)
    return tuple(checked)


def language_matches(ranges: Collection[str], tag: str | None) -> bool:
    """True when `tag` falls under one of the lower-cased language `ranges`.

    RFC 4647 basic filtering, case-insensitive: ``en`` matches ``en``,
    ``en-GB`` and ``en-us``, but not ``eng``; ``en-gb`` matches ``en-GB``
    and ``en-GB-oxendict``, not ``en``. No ranges match every tag; an
    article without a language matches no range.
    """
    if not ranges:
        return True
    if not tag:
        return False
    tag = tag.lower()
    return any(tag == wanted or tag.startswith(f"{wanted}-") for wanted in ranges)


@dataclass(frozen=True, slots=True)
class Subject:
    """What an event is about, as endpoints filter it: topics, entity keys, language."""

    topics: tuple[str, ...]
    entity_keys: frozenset[str] = frozenset()
    lang: str | None = None

    @classmethod
    def of(
        cls,
        topics: Iterable[str],
        entities: Iterable[str],
        lang: str | None,
        slugs: Mapping[str, str] | None = None,
    ) -> Subject:
        """The subject of an article with these topics, entity names and language;
        an entity is known by its merge key and by its slug (`societe-generale`).

        `slugs` gives the slug each merge key was assigned, which differs from
        the name's own slug when another entity took it first (`c` for `C#`,
        then `c-cedb1b` for `C++`): a filter naming a slug then means the
        entity behind that feed. Without it the name's own slug is taken.
        """
        if slugs is None:
            keys = frozenset(name for entity in entities for name in _names(entity))
        else:
            merged = entity_keys(entities)
            keys = frozenset(merged | {slugs[key] for key in merged if key in slugs})
        return cls(tuple(topics), keys, lang)

    @classmethod
    def from_data(cls, data: Mapping[str, Any], slugs: Mapping[str, str] | None = None) -> Subject:
        """The subject of an event from its `data` (created, updated or deleted)."""
        lang = data.get("lang")
        return cls.of(
            data.get("topics") or (),
            event_entities(data),
            lang if isinstance(lang, str) else None,
            slugs,
        )


def event_entities(data: Mapping[str, Any]) -> list[str]:
    """The entity names an event's `data` carries (none when malformed)."""
    entities = data.get("entities")
    if not isinstance(entities, list):
        return []
    return [name for name in entities if isinstance(name, str)]


@dataclass(frozen=True, slots=True)
class Route:
    """An endpoint's filters: event types, topics (``*`` for every topic), and the
    entity keys and lower-cased language ranges it is limited to (empty: any)."""

    endpoint: str
    events: frozenset[str]
    topics: frozenset[str]
    entities: frozenset[str] = frozenset()
    langs: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        endpoint: str,
        events: Iterable[str],
        topics: Iterable[str],
        entities: Iterable[str] = (),
        langs: Iterable[str] = (),
    ) -> Route:
        """A route from an endpoint's configured filters, entity names and language tags."""
        return cls(
            endpoint,
            frozenset(events),
            frozenset(topics),
            frozenset(entity_key(name) for name in entities),
            tuple(dict.fromkeys(tag.lower() for tag in langs)),
        )

    @property
    def filters_facets(self) -> bool:
        """True when the route looks at entities or language, not only at topics."""
        return bool(self.entities or self.langs)

    def matches(self, event_type: str, subject: Subject) -> bool:
        """True when the endpoint wants an event of this type about `subject`."""
        if event_type not in self.events:
            return False
        if "*" not in self.topics and self.topics.isdisjoint(subject.topics):
            return False
        if self.entities and self.entities.isdisjoint(subject.entity_keys):
            return False
        return language_matches(self.langs, subject.lang)


#: Config types of the entity and language filters (webhooks, custom feeds),
#: checked with the rules above.
EntityFilter = Annotated[tuple[str, ...], AfterValidator(check_entity_names)]
LanguageFilter = Annotated[tuple[str, ...], AfterValidator(check_language_ranges)]
