"""The entity merge key (SPEC §4b: case-insensitive, accent-sensitive)."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from syndicator.core.entities import clean_entity, entity_key, entity_problem, language_label


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


@pytest.mark.parametrize(
    "name",
    ["a\x01b", "tab\there", "lone \ud800 surrogate", "unassigned \U000e0000", "del\x7f"],
)
def test_control_characters_are_a_problem(name: str) -> None:
    assert entity_problem(name) == f"entity {name[:60]!r} holds control characters"


@pytest.mark.parametrize(
    "name", ["Nvidia", "Société Générale", "zero\u200djoiner", "no\u00a0break"]
)
def test_printable_and_format_characters_are_not(name: str) -> None:
    assert entity_problem(name) is None


@pytest.mark.parametrize("name", ["\u200b", "\ufeff", " \u200b\u2060 ", "\u200d\u00a0"])
def test_names_of_format_characters_and_spaces_alone_are_a_problem(name: str) -> None:
    assert entity_problem(name) == f"entity {name!r} has no visible character"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Nvidia", "Nvidia"),
        ("  Nvidia  ", "Nvidia"),
        ("Mixed   Spacing\u00a0Co", "Mixed Spacing Co"),
        ("\u202eevil\u202c", "evil"),  # a right-to-left override shows "live"
        ("Zero\u200bWidth", "ZeroWidth"),
        ("\ufeffBOM Co", "BOM Co"),
        ("soft\u00adhyphen", "softhyphen"),
        ("\u2067\u05e9\u05dc\u05d5\u05dd\u2069", "\u05e9\u05dc\u05d5\u05dd"),
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        ),
        ("zero\u200djoiner", "zero\u200djoiner"),
    ],
)
def test_names_are_shown_without_disguising_characters_or_extra_spaces(
    name: str, shown: str
) -> None:
    assert entity_problem(name) is None
    assert clean_entity(name) == shown
    assert clean_entity(shown) == shown


def test_printable_text_never_holds_a_control_character() -> None:
    # What the check's fast path relies on, for every code point.
    assert not [
        code
        for code in range(sys.maxunicode + 1)
        if chr(code).isprintable() and unicodedata.category(chr(code)) in ("Cc", "Cs", "Cn")
    ]


@pytest.mark.parametrize(
    ("tag", "label"),
    [
        ("de", "German (de)"),
        ("pt-br", "Portuguese (pt-br)"),
        ("zh-hant", "Chinese (zh-hant)"),
        ("gsw", "Swiss German (gsw)"),
        # Languages CLDR has no name for keep their tag.
        ("x-klingon", "x-klingon"),
        ("qaa", "qaa"),
        ("und", "und"),
        ("zz", "zz"),
    ],
)
def test_language_feeds_are_named_by_their_language(tag: str, label: str) -> None:
    assert language_label(tag) == label
