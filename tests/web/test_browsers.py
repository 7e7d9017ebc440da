"""RSS and Atom opened in a browser: the same bytes labelled `application/xml`, the
type browsers apply the feeds' XSL stylesheet to; feed readers keep the SPEC's
types, and caches are told the answer varies by Accept."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import CONTENT_TYPES, Served
from tests.web.test_http import doc

#: What Chromium and Firefox send when a person opens a link.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
READERS = (
    "application/rss+xml, application/rdf+xml;q=0.8, application/atom+xml;q=0.6, */*;q=0.1",
    "application/atom+xml,application/rss+xml,application/xml;q=0.9,*/*;q=0.8",
    "*/*",
    # text/html named first, but liked least.
    "text/html;q=0.1, */*;q=0.5",
    "text/html;q=0.5, application/xml",
)


@pytest.mark.parametrize("path", ["/feeds/ai.rss", "/feeds/ai.atom"])
def test_a_browser_gets_the_feed_as_xml(client: httpx.Client, served: Served, path: str) -> None:
    page = client.get(path, headers={"Accept": BROWSER})
    assert page.headers["content-type"] == "application/xml; charset=utf-8"
    assert page.content == doc(served, path).body
    assert page.headers["vary"] == "Accept-Encoding, Accept"
    gz = client.get(path, headers={"Accept": BROWSER, "Accept-Encoding": "gzip"})
    assert gz.headers["content-type"] == "application/xml; charset=utf-8"
    assert gz.headers["content-encoding"] == "gzip"
    for accept in READERS:
        kind = path.rsplit(".", 1)[1]
        answer = client.get(path, headers={"Accept": accept})
        assert answer.headers["content-type"] == CONTENT_TYPES[kind], accept


@pytest.mark.parametrize(("path", "kind"), [("/feeds/ai.json", "json"), ("/", "html")])
def test_other_documents_keep_their_type(client: httpx.Client, path: str, kind: str) -> None:
    answer = client.get(path, headers={"Accept": BROWSER})
    assert answer.headers["content-type"] == CONTENT_TYPES[kind]
    assert answer.headers["vary"] == "Accept-Encoding"
