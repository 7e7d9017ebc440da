"""Where the entity directory files a name, and what its pages and OPML hold."""

from __future__ import annotations

from lxml import etree

from syndicator.core.entities import entity_slug
from syndicator.render.directory import (
    OTHER,
    initial_of,
    render_entities_opml,
    render_entity_index,
    render_letter,
)
from syndicator.render.index import FacetSummary, builtin_templates

BASE = "https://feeds.example.com"


def test_names_are_filed_by_their_folded_first_letter() -> None:
    cases = {
        "Société Générale": "s",
        "Émile Zola": "e",
        "(Apple)": "a",
        "Xavier Niel": "x",
        "3M": OTHER,
        "北京": OTHER,  # a hash slug "x-…", yet not under X
        "Ωmega": "m",  # the Latin part decides
    }
    for name, expected in cases.items():
        assert initial_of(entity_slug(name), name) == expected, name


def test_letter_page_is_alphabetical_and_escaped() -> None:
    rows = [
        FacetSummary("entities/beta", "beta", 9),
        FacetSummary("entities/at-t", "AT&T <Inc>", 2),
        FacetSummary("entities/alpha", "Alpha", 1),
    ]
    page = render_letter("Desk", BASE, "a", rows, builtin_templates()).decode()
    assert page.index(">Alpha<") < page.index(">AT&amp;T &lt;Inc&gt;<") < page.index(">beta<")
    assert f'href="{BASE}/feeds/entities/at-t.rss"' in page
    assert "<Inc>" not in page
    assert page == render_letter("Desk", BASE, "a", rows[::-1], builtin_templates()).decode()


def test_index_lists_initials_with_names_only() -> None:
    page = render_entity_index("Desk", BASE, {"a": 2, "b": 0, OTHER: 5}, builtin_templates())
    text = page.decode()
    assert f'href="{BASE}/entities/a.html">A</a>' in text
    assert f'href="{BASE}/entities/other.html">Other</a>' in text
    assert "/entities/b.html" not in text


def test_entities_opml_lists_each_entity_once_in_rss() -> None:
    rows = [FacetSummary("entities/zeta", "Zeta", 1), FacetSummary("entities/arm", "Arm", 3)]
    root = etree.fromstring(render_entities_opml("Desk", BASE, rows))
    feeds = [o for o in root.iter("outline") if o.get("xmlUrl")]
    assert [o.get("xmlUrl") for o in feeds] == [
        f"{BASE}/feeds/entities/arm.rss",
        f"{BASE}/feeds/entities/zeta.rss",
    ]
    assert [o.get("text") for o in feeds] == ["Desk: Arm", "Desk: Zeta"]
