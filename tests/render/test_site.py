"""OPML subscription list and the HTML index page."""

from __future__ import annotations

from html.parser import HTMLParser
from xml.etree import ElementTree

from syndicator.render.feeds import TopicSummary, render_index, render_opml
from tests.render.articles import BASE_URL, when

TOPICS = [
    TopicSummary("chips", 2, when(3)),
    TopicSummary("all", 5, when(5)),
    TopicSummary("ai", 4, when(5, 9)),
    TopicSummary("empty", 0, None),
]


def test_opml_structure() -> None:
    root = ElementTree.fromstring(render_opml("My <Site>", BASE_URL, TOPICS))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "My <Site> feeds"
    assert root.findtext("head/dateModified") == "Fri, 05 Jun 2026 12:00:00 GMT"
    groups = root.findall("body/outline")
    assert [g.get("text") for g in groups] == ["RSS 2.0", "Atom 1.0", "JSON Feed 1.1"]
    for group, ext in zip(groups, ("rss", "atom", "json"), strict=True):
        feeds = group.findall("outline")
        assert [f.get("xmlUrl") for f in feeds] == [
            f"{BASE_URL}/feeds/{name}.{ext}" for name in ("all", "ai", "chips", "empty")
        ]
        assert {f.get("type") for f in feeds} == {"rss"}
        assert {f.get("htmlUrl") for f in feeds} == {f"{BASE_URL}/"}
        assert feeds[0].get("text") == "My <Site>"
        assert feeds[1].get("title") == "My <Site>: ai"


def test_opml_without_dates_and_deterministic() -> None:
    topics = [TopicSummary("all", 0, None)]
    data = render_opml("S", BASE_URL, topics)
    assert ElementTree.fromstring(data).find("head/dateModified") is None
    assert data == render_opml("S", BASE_URL, topics)
    assert render_opml("S", BASE_URL, TOPICS) == render_opml("S", BASE_URL, TOPICS[::-1])


def test_opml_strips_xml_illegal_characters() -> None:
    ElementTree.fromstring(render_opml("Bad\x00\x1f\ufffe title", BASE_URL, TOPICS))


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(data: bytes) -> _Collect:
    parser = _Collect()
    parser.feed(data.decode("utf-8"))
    parser.close()
    return parser


def test_index_page() -> None:
    data = render_index("My <Site> & co", BASE_URL, TOPICS)
    assert data.startswith(b"<!DOCTYPE html>\n")
    page = _parse(data)
    assert ("meta", {"charset": "utf-8"}) in page.starts
    assert "My <Site> & co" in page.text  # escaped in the markup, intact as text
    assert b"<title>My &lt;Site&gt; &amp; co</title>" in data
    alternates = [a for tag, a in page.starts if tag == "link" and a.get("rel") == "alternate"]
    rss = [a["href"] for a in alternates if a.get("type") == "application/rss+xml"]
    assert rss == [f"{BASE_URL}/feeds/{n}.rss" for n in ("all", "ai", "chips", "empty")]
    assert {a.get("type") for a in alternates} == {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    }
    assert all(a.get("title") for a in alternates)
    hrefs = {a["href"] for tag, a in page.starts if tag == "a"}
    assert f"{BASE_URL}/feeds/chips.json" in hrefs
    assert f"{BASE_URL}/feeds.opml" in hrefs
    assert "4" in page.text and "0" in page.text  # article counts


def test_index_is_deterministic_and_order_independent() -> None:
    assert render_index("S", BASE_URL, TOPICS) == render_index("S", BASE_URL, TOPICS[::-1])


def test_index_escapes_hostile_site_title() -> None:
    data = render_index('"><script>alert(1)</script>', BASE_URL, TOPICS)
    assert b"<script" not in data
    assert b"&quot;&gt;&lt;script&gt;" in data
