"""docs/feeds.md: the documented entry-id rule is the one the renderer uses."""

from __future__ import annotations

import re
import uuid

from syndicator.render.feeds import CONTENT_TYPES, entry_id
from tests.docs.helpers import DOCS, code_blocks

FEEDS = DOCS / "feeds.md"


def test_documented_entry_id_recipe_matches_the_renderer() -> None:
    text = FEEDS.read_text(encoding="utf-8")
    namespace = re.search(r'uuid\.UUID\("([0-9a-f-]{36})"\)', text)
    slug_match = re.search(r"uuid5\(NAMESPACE, '([^']+)'\)", text)
    printed = re.search(r"^# (urn:uuid:[0-9a-f-]{36})$", text, re.MULTILINE)
    assert namespace is not None and slug_match is not None and printed is not None
    slug, expected = slug_match.group(1), printed.group(1)
    assert entry_id(slug) == expected
    assert f"urn:uuid:{uuid.uuid5(uuid.UUID(namespace.group(1)), slug)}" == expected
    # The recipe block runs as printed.
    block = next(b for b in code_blocks(text, "python") if "uuid5" in b)
    compiled = compile(block, "feeds.md", "exec")
    assert compiled is not None


def test_documented_content_types_are_the_served_ones() -> None:
    text = FEEDS.read_text(encoding="utf-8")
    for fmt in ("rss", "atom", "json", "opml", "html"):
        assert f"`{CONTENT_TYPES[fmt]}`" in text, fmt
