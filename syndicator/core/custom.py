"""Custom feeds (SPEC §4b, §7): their `[[feeds.custom]]` settings and which articles they hold.

`CustomFeedSettings` is one table of the config, validated like the rest of
it; `CustomFeed` is the same feed resolved for use (entity names as merge
keys, language ranges lower-cased, `max_entries` filled in), with the pure
`matches` that decides whether an article belongs in it, for building the
feed and for knowing which custom feeds a change touches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syndicator.core.entities import entity_key
from syndicator.core.records import TOPIC_PATTERN, is_safe_topic
from syndicator.core.routing import EntityFilter, LanguageFilter, language_matches

__all__ = ["MAX_CUSTOM_ENTRIES", "CustomFeed", "CustomFeedSettings"]

#: The most entries a custom feed may hold.
MAX_CUSTOM_ENTRIES = 1000

ContentMode = Literal["full", "summary"]


def _check_topics(topics: tuple[str, ...]) -> tuple[str, ...]:
    for topic in topics:
        if not is_safe_topic(topic):
            raise ValueError(
                f"{topic[:80]!r} is not a topic slug (lowercase letters, digits, '-' and '_'; "
                "'all' is every article: leave the key out instead)"
            )
    return topics


class CustomFeedSettings(BaseModel):
    """A feed of the articles chosen by topics, entities and language.

    Served at `/feeds/custom/<name>.rss`, `.atom` and `.json`. Every filter given
    must match an article (topics and entities: any one of those listed);
    `exclude_topics` then removes articles in any of its topics, and may stand
    alone (every article but those). A feed with no filter at all must set
    `content` or `max_entries`: otherwise it would be the `all` feed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        description=(
            "Unique name, the last segment of the feed's URLs (`/feeds/custom/<name>.atom`): "
            "lowercase letters, digits, `-` and `_`, at most 100 characters"
        ),
    )
    topics: tuple[str, ...] = Field(
        default=(), description="Articles in any of these topics (empty: any topic)"
    )
    entities: EntityFilter = Field(
        default=(),
        description=(
            "Articles naming any of these entities, compared as entities are merged: "
            "case-insensitive, accents kept (`Nvidia` matches `NVIDIA`, `Societe` does not "
            "match `Société`); at most 200 characters each (empty: any)"
        ),
    )
    lang: LanguageFilter = Field(
        default=(),
        description=(
            "Articles in any of these languages (BCP 47 tags, case-insensitive); a tag also "
            "takes its regional forms: `en` matches `en-GB` and `en-us` (empty: any, including "
            "articles without `lang`)"
        ),
    )
    exclude_topics: tuple[str, ...] = Field(
        default=(), description="Articles in any of these topics are left out"
    )
    content: ContentMode = Field(
        default="full",
        description=(
            "`full`: entries carry the rendered body as the topic feeds do; `summary`: the "
            "summary only"
        ),
    )
    max_entries: int | None = Field(
        default=None,
        ge=1,
        le=MAX_CUSTOM_ENTRIES,
        description=(
            "Entries in the feed, the newest by `updated_at`; unset: `feeds.max_entries` "
            f"(at most {MAX_CUSTOM_ENTRIES})"
        ),
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if TOPIC_PATTERN.fullmatch(value) is None:
            raise ValueError(
                f"{value[:80]!r} is not a safe name: use 1 to 100 lowercase letters, digits, "
                "'-' and '_', starting and ending with a letter or digit"
            )
        return value

    @field_validator("topics", "exclude_topics")
    @classmethod
    def _topics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_topics(value)

    @model_validator(mode="after")
    def _selects(self) -> CustomFeedSettings:
        chosen = self.topics or self.entities or self.lang or self.exclude_topics
        # Everything, told apart by its entries alone ("all, summaries, 20 items").
        shaped = {"content", "max_entries"} & self.model_fields_set
        if not (chosen or shaped):
            raise ValueError(
                "give at least one of topics, entities, lang or exclude_topics, or set "
                "content or max_entries (without them the feed would be the `all` feed)"
            )
        if self.topics and set(self.topics) <= set(self.exclude_topics):
            # Every article it selects is in one of its topics, all excluded.
            raise ValueError(
                "exclude_topics leaves out every topic of topics: the feed stays empty"
            )
        return self


@dataclass(frozen=True, slots=True)
class CustomFeed:
    """A custom feed ready for use: its filters normalised, its size decided."""

    name: str
    topics: frozenset[str]
    entity_keys: frozenset[str]
    langs: tuple[str, ...]
    exclude_topics: frozenset[str]
    content: ContentMode
    max_entries: int

    @classmethod
    def from_settings(cls, settings: CustomFeedSettings, default_max_entries: int) -> CustomFeed:
        """The feed its settings describe; `default_max_entries` is `feeds.max_entries`."""
        return cls(
            name=settings.name,
            topics=frozenset(settings.topics),
            entity_keys=frozenset(entity_key(name) for name in settings.entities),
            langs=tuple(dict.fromkeys(tag.lower() for tag in settings.lang)),
            exclude_topics=frozenset(settings.exclude_topics),
            content=settings.content,
            max_entries=settings.max_entries or min(default_max_entries, MAX_CUSTOM_ENTRIES),
        )

    def matches(self, topics: Iterable[str], entity_keys: Iterable[str], lang: str | None) -> bool:
        """True when an article belongs in this feed.

        `topics` are the article's topic slugs, `entity_keys` its entity names
        as `entity_key` makes them, `lang` its language tag (any case) or None.
        """
        article_topics = frozenset(topics)
        if not self.exclude_topics.isdisjoint(article_topics):
            return False
        if self.topics and self.topics.isdisjoint(article_topics):
            return False
        if self.entity_keys and self.entity_keys.isdisjoint(entity_keys):
            return False
        return language_matches(self.langs, lang)
