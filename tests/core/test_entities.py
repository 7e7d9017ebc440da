"""The entity merge key (SPEC §4b: case-insensitive, accent-sensitive)."""

from __future__ import annotations

import pytest

from syndicator.core.entities import entity_key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("NVIDIA", "nvidia"),
        ("Société Générale", "SOCIÉTÉ GÉNÉRALE"),
        ("  Paul   Whitaker ", "paul whitaker"),
        ("Paul\u00a0Whitaker", "Paul Whitaker"),  # NBSP is whitespace
        ("Ｎｖｉｄｉａ", "Nvidia"),  # full-width forms fold under NFKC
        ("Straße", "STRASSE"),  # casefold, not lower
        ("e\u0301cole", "École"),  # decomposed and composed accents are one name
    ],
)
def test_same_entity(a: str, b: str) -> None:
    assert entity_key(a) == entity_key(b)


@pytest.mark.parametrize(("a", "b"), [("Societe", "Société"), ("Nvidia", "Nvidia Corp")])
def test_different_entities(a: str, b: str) -> None:
    assert entity_key(a) != entity_key(b)


def test_blank_names_have_an_empty_key() -> None:
    assert entity_key(" \t\n") == ""
