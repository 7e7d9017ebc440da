"""Custom feeds: which articles a `[[feeds.custom]]` feed holds (SPEC §4b, §7)."""

from __future__ import annotations

from typing import Any

import pytest

from syndicator.core.custom import CustomFeed, CustomFeedSettings
from syndicator.core.entities import entity_key


def feed(default_max: int = 50, **fields: Any) -> CustomFeed:
    return CustomFeed.from_settings(
        CustomFeedSettings.model_validate({"name": "f", **fields}), default_max
    )


def keys(*names: str) -> frozenset[str]:
    return frozenset(entity_key(name) for name in names)


def test_resolved_from_settings() -> None:
    chips = feed(
        topics=["ai-chips"],
        entities=["Nvidia", "NVIDIA "],
        lang=["EN", "en"],
        exclude_topics=["sponsored"],
        content="summary",
        max_entries=20,
    )
    assert chips == CustomFeed(
        name="f",
        topics=frozenset({"ai-chips"}),
        entity_keys=frozenset({"nvidia"}),
        langs=("en",),
        exclude_topics=frozenset({"sponsored"}),
        content="summary",
        max_entries=20,
    )


def test_defaults() -> None:
    only_lang = feed(lang=["de"])
    assert only_lang.content == "full"
    assert only_lang.max_entries == 50  # feeds.max_entries
    assert feed(default_max=5000, lang=["de"]).max_entries == 1000  # the custom feeds' ceiling


def test_topics_are_any_of() -> None:
    chips = feed(topics=["ai-chips", "gpus"])
    assert chips.matches(["energy", "gpus"], (), None)
    assert chips.matches(["ai-chips"], (), "en")
    assert not chips.matches(["energy"], (), "en")
    assert not chips.matches([], (), "en")


def test_entities_are_any_of_by_merge_key() -> None:
    named = feed(entities=["Nvidia", "Société Générale"])
    assert named.matches([], keys("NVIDIA"), None)
    assert named.matches(["energy"], keys("Intel", "SOCIÉTÉ GÉNÉRALE"), "fr")
    assert not named.matches(["energy"], keys("Societe Generale"), "fr")  # accents count
    assert not named.matches(["energy"], keys(), "en")


def test_language_takes_regional_tags() -> None:
    english = feed(lang=["en"])
    assert english.matches([], (), "en-GB")
    assert english.matches([], (), "EN-us")
    assert not english.matches([], (), "eng")
    assert not english.matches([], (), None)
    assert not feed(lang=["en-gb"]).matches([], (), "en")


def test_exclusion_wins() -> None:
    chips = feed(topics=["ai-chips"], exclude_topics=["sponsored"])
    assert chips.matches(["ai-chips", "energy"], (), None)
    assert not chips.matches(["ai-chips", "sponsored"], (), None)
    by_lang = feed(lang=["en"], exclude_topics=["sport"])
    assert not by_lang.matches(["sport"], (), "en")


@pytest.mark.parametrize(
    ("topics", "entities", "lang", "expected"),
    [
        (["ai-chips"], ["NVIDIA"], "en-GB", True),
        (["ai-chips"], ["NVIDIA"], "de", False),
        (["ai-chips"], ["Intel"], "en", False),
        (["energy"], ["NVIDIA"], "en", False),
    ],
)
def test_every_given_filter_must_match(
    topics: list[str], entities: list[str], lang: str, expected: bool
) -> None:
    chips_en = feed(topics=["ai-chips"], entities=["Nvidia"], lang=["en"])
    assert chips_en.matches(topics, keys(*entities), lang) is expected
