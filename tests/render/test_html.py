"""Markdown rendering and sanitising."""

from __future__ import annotations

import pytest
from lxml import html as lxml_html

from syndicator.render.html import render_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src="x.png" onerror="alert(1)">',
    '<a href="https://ok.example" onclick="alert(1)">click</a>',
    '<div onmouseover="alert(1)">hover</div>',
    "[link](javascript:alert(1))",
    '<a href="JaVaScRiPt:alert(1)">mixed case</a>',
    '<a href="&#106;avascript:alert(1)">entity</a>',
    '<a href=" javascript:alert(1)">leading space</a>',
    '<a href="vbscript:msgbox(1)">vb</a>',
    '<a href="data:text/html,<script>alert(1)</script>">data</a>',
    "![img](data:image/svg+xml;base64,PHN2Zz4=)",
    '<iframe src="https://evil.example"></iframe>',
    "<style>body { display: none }</style>",
    '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    '<form action="https://evil.example"><input name="q"></form>',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<p style="background:url(javascript:alert(1))">styled</p>',
]


def _attributes(fragment: str) -> list[tuple[str, str, str]]:
    tree = lxml_html.fragment_fromstring(fragment, create_parent="div")
    return [(el.tag, k, v) for el in tree.iter() for k, v in el.attrib.items()]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_markup_is_neutralised(body: str) -> None:
    out = render_markdown(f"Before.\n\n{body}\n\nAfter.")
    lowered = out.lower()
    for needle in ("<script", "<style", "<iframe", "<object", "<embed", "<svg", "<form"):
        assert needle not in lowered
    for tag, name, value in _attributes(out):
        assert not name.lower().startswith("on"), (tag, name)
        assert name != "style", (tag, name)
        if name in ("href", "src"):
            assert value.strip().lower().split(":")[0] in ("http", "https", "mailto") or (
                ":" not in value
            ), (tag, name, value)
    assert "javascript:" not in lowered
    assert "vbscript:" not in lowered
    assert "data:" not in lowered
    assert "Before." in out and "After." in out


def test_script_content_is_dropped_not_shown() -> None:
    out = render_markdown("<script>stealCookies()</script>\n\ntext")
    assert "stealCookies" not in out


def test_common_formatting_survives() -> None:
    body = (
        "# Heading\n\n"
        "Some *em*, **strong**, `code` and ~~gone~~ text "
        '[link](https://example.com/a "T").\n\n'
        "![alt text](https://example.com/i.png)\n\n"
        "> quoted\n\n"
        "1. one\n2. two\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "```python\nprint('hi')\n```\n"
    )
    tree = lxml_html.fragment_fromstring(render_markdown(body), create_parent="div")
    tags = {el.tag for el in tree.iter()}
    assert {"h1", "em", "strong", "code", "del", "a", "img", "blockquote", "ol", "li"} <= tags
    assert {"table", "thead", "tbody", "th", "td", "pre"} <= tags
    link = tree.find(".//a")
    assert link is not None
    assert link.get("href") == "https://example.com/a"
    assert link.get("title") == "T"
    assert link.get("rel") == "noopener noreferrer"
    image = tree.find(".//img")
    assert image is not None
    assert image.get("src") == "https://example.com/i.png"
    assert image.get("alt") == "alt text"
    code = tree.find(".//pre/code")
    assert code is not None and code.get("class") == "language-python"
    header = tree.find(".//th")
    # Alignment arrives as a style attribute, which the sanitiser never keeps.
    assert header is not None and header.text == "a" and header.get("style") is None


def test_autolinks_and_raw_safe_html() -> None:
    out = render_markdown("See <https://www.example.com> and <b>bold</b> <sup>2</sup>.")
    assert '<a href="https://www.example.com" rel="noopener noreferrer">' in out
    assert "<b>bold</b>" in out and "<sup>2</sup>" in out


def test_rendering_keeps_no_memory_per_body() -> None:
    # A daemon renders every new article version: the renderer must not leak.
    import resource

    body = "# Title\n\n" + "Some *text* with [a link](https://example.com). " * 100
    for _ in range(200):
        render_markdown(body)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(3000):
        render_markdown(body)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 20_000, f"peak memory grew {grown_kb} KB over 3,000 renders"


def test_xml_illegal_characters_removed_from_input_and_output() -> None:
    # \x01 straight in the text, and &#1; which cmark decodes into one.
    out = render_markdown("a\x01b &#1; c\x0b\ufffe")
    for ch in ("\x01", "\x0b", "\ufffe"):
        assert ch not in out
    assert "ab" in out


def test_deterministic() -> None:
    body = "Para with <i>html</i> and [x](https://example.com).\n\n- a\n- b\n"
    assert render_markdown(body) == render_markdown(body)


def test_empty_body() -> None:
    assert render_markdown("") == ""


def test_seed_body_renders(seed_article_body: str) -> None:
    out = render_markdown(seed_article_body)
    assert "<h2>Get the TNW newsletter</h2>" in out
    assert (
        '<a href="https://thenextweb.com/news/denmark-data-centre-grid-pause-ai-energy" '
        'rel="noopener noreferrer">' in out
    )
