"""atheris target: bytes → Markdown → `render_markdown` → feeds → parsed back with lxml.

Every feed must be well-formed XML (or JSON), and no HTML payload in it may carry
script: no script-like element, no ``on*`` attribute, no ``javascript:``-style
URL. Run through ``make fuzz``:

    .venv/bin/python fuzz/fuzz_render.py -max_total_time=60 fuzz/corpus/render
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime

import atheris  # type: ignore[import-untyped]  # no stubs; only make fuzz uses it

with atheris.instrument_imports():
    from lxml import etree
    from lxml import html as lxml_html

    from syndicator.models import Article, RenderedArticle
    from syndicator.render.feeds import FeedInfo, render_feed
    from syndicator.render.html import render_markdown

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_ATOM = "{http://www.w3.org/2005/Atom}"
_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
_ACTIVE = {"script", "iframe", "object", "embed", "frame", "frameset", "svg", "math", "style"}
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background"}
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.IGNORECASE)
_WHEN = datetime(2026, 1, 1, tzinfo=UTC)
_INFO = FeedInfo(site_title="Fuzz", base_url="http://127.0.0.1:8080", topic="all", updated=_WHEN)


def _check_html(fragment: str) -> None:
    if not fragment.strip():
        return
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag.lower() in _ACTIVE:
            raise AssertionError(f"<{element.tag}> survived: {fragment[:200]!r}")
        for name, value in element.attrib.items():
            if name.lower().startswith("on") or name.lower() == "style":
                raise AssertionError(f"{name}= survived: {fragment[:200]!r}")
            if name.lower() in _URL_ATTRIBUTES:
                scheme = _SCHEME.match(re.sub(r"[\x00-\x20]", "", value))
                if scheme and scheme.group(1).lower() not in ("http", "https", "mailto"):
                    raise AssertionError(f"{name}={value!r} survived")


def test_one_input(data: bytes) -> None:
    """One fuzz case."""
    fdp = atheris.FuzzedDataProvider(data)
    body = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 4096))
    summary = fdp.ConsumeUnicode(64)
    html = render_markdown(body)
    _check_html(html)
    article = Article(
        slug="fuzz",
        title=fdp.ConsumeUnicode(32) or "t",
        url="https://news.example.org/fuzz",
        published_at=_WHEN,
        updated_at=_WHEN,
        summary=summary,
        body_md=body,
        topics=("fuzz",),
    )
    entries = [RenderedArticle(article, html)]
    for fmt in ("rss", "atom"):
        root = etree.fromstring(render_feed(fmt, _INFO, entries), _PARSER)  # must be well-formed
        payloads = root.iter(_ENCODED) if fmt == "rss" else root.iter(f"{_ATOM}content")
        for node in payloads:
            _check_html(node.text or "")
    doc = json.loads(render_feed("json", _INFO, entries))
    for item in doc["items"]:
        _check_html(item.get("content_html", ""))


def main() -> None:
    """Entry point for ``make fuzz``."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
