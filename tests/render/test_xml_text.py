"""`xml_text` is exactly `strip_xml_illegal`, fast path or not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.core.text import strip_xml_illegal
from syndicator.render.common import xml_text
from tests.render.test_hostile import ILLEGAL

# Every code point the regex removes, and the legal neighbours of each range.
FORBIDDEN = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))] + [
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\ufffe",
    "\uffff",
]
ALLOWED = [
    "\t",
    "\n",
    "\r",
    " ",
    "\x7f",
    "\x85",
    "\xa0",
    "\ud7ff",
    "\ue000",
    "\ufffd",
    "\U00010000",
]


@pytest.mark.parametrize("ch", FORBIDDEN)
@pytest.mark.parametrize("around", ["", "ascii <p>\n", "latin é\n", "bmp 日本\n", "astral 🚀\n"])
def test_forbidden_characters_are_removed(ch: str, around: str) -> None:
    value = f"{around}{ch}{around}"
    assert xml_text(value) == strip_xml_illegal(value) == around + around


@pytest.mark.parametrize("ch", ALLOWED)
def test_allowed_characters_are_kept(ch: str) -> None:
    value = f"a{ch}b\n"
    assert xml_text(value) == strip_xml_illegal(value) == value


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.text(alphabet=st.characters(codec=None, categories=None, exclude_categories=()))
    | st.text(alphabet=ILLEGAL + "\t\n\r é日🚀<&")
)
def test_same_as_the_regex(value: str) -> None:
    assert xml_text(value) == strip_xml_illegal(value)
