"""Feed validity assertions shared by test suites.

- `assert_valid_atom`: well-formed, valid against the RFC 4287 RELAX NG schema
  (tests/fixtures/atom.rnc), and parsed by feedparser without a bozo error.
- `assert_valid_rss`: well-formed RSS 2.0 with the required channel elements,
  parsed by feedparser without a bozo error.
- `assert_valid_json_feed`: JSON Feed 1.1 required keys and types.

Each returns the parsed document so tests can go on to check its content.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import feedparser
import rnc2rng
from lxml import etree

__all__ = ["atom_schema", "assert_valid_atom", "assert_valid_json_feed", "assert_valid_rss"]

ATOM_RNC = Path(__file__).parent / "fixtures" / "atom.rnc"
ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"

# The parser refuses entities and network access: feeds under test are untrusted.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@functools.cache
def atom_schema() -> etree.RelaxNG:
    """The Atom RELAX NG schema, converted from compact syntax once per process."""
    with ATOM_RNC.open(encoding="utf-8") as handle:
        rng_xml = rnc2rng.dumps(rnc2rng.load(handle))
    # rnc2rng declares `namespace local = ""` as xmlns:local="", which XML
    # namespaces forbid; the schema refers to it only as nsName ns="", so the
    # declaration can go.
    rng_xml = re.sub(r'\s+xmlns:\w+=""', "", rng_xml)
    return etree.RelaxNG(etree.fromstring(rng_xml.encode("utf-8")))


def _parse_xml(data: bytes, what: str) -> etree._Element:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise AssertionError(f"{what} is not well-formed XML: {exc}\n{_excerpt(data)}") from None


def _excerpt(data: bytes, limit: int = 2000) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "\n…"


def _assert_feedparser_clean(data: bytes, what: str) -> Any:
    parsed = feedparser.parse(data)
    if parsed.bozo:
        raise AssertionError(
            f"feedparser flags the {what} as bozo: {parsed.get('bozo_exception')!r}\n"
            f"{_excerpt(data)}"
        )
    return parsed


def assert_valid_atom(data: bytes) -> etree._Element:
    """Assert `data` is a valid Atom 1.0 document; return its root element."""
    root = _parse_xml(data, "Atom feed")
    schema = atom_schema()
    if not schema.validate(root):
        errors = "\n".join(
            f"  line {e.line}: {e.message} ({e.type_name})" for e in schema.error_log
        )
        raise AssertionError(
            f"Atom feed fails the RFC 4287 RELAX NG schema:\n{errors}\n{_excerpt(data)}"
        )
    if root.tag != f"{{{ATOM_NS}}}feed":
        raise AssertionError(f"root element is {root.tag!r}, not atom:feed")
    # RFC 4287 §4.1.1: without a feed-level author every entry needs one.
    if root.find(f"{{{ATOM_NS}}}author") is None:
        for entry in root.iterfind(f"{{{ATOM_NS}}}entry"):
            if entry.find(f"{{{ATOM_NS}}}author") is None:
                entry_id = entry.findtext(f"{{{ATOM_NS}}}id")
                raise AssertionError(f"entry {entry_id} has no author and the feed has none")
    _assert_feedparser_clean(data, "Atom feed")
    return root


def assert_valid_rss(data: bytes) -> etree._Element:
    """Assert `data` is a well-formed RSS 2.0 document; return its root element."""
    root = _parse_xml(data, "RSS feed")
    if root.tag != "rss" or root.get("version") != "2.0":
        raise AssertionError(f"root is <{root.tag} version={root.get('version')!r}>, not RSS 2.0")
    channel = root.find("channel")
    if channel is None:
        raise AssertionError("RSS feed has no <channel>")
    for name in ("title", "link", "description"):
        if channel.find(name) is None:
            raise AssertionError(f"RSS channel lacks the required <{name}>")
    for index, item in enumerate(channel.iterfind("item")):
        if item.find("title") is None and item.find("description") is None:
            raise AssertionError(f"RSS item {index} has neither <title> nor <description>")
    _assert_feedparser_clean(data, "RSS feed")
    return root


def _require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> None:
    if key not in obj:
        raise AssertionError(f"JSON Feed {where} lacks required key {key!r}")
    if not isinstance(obj[key], kind):
        raise AssertionError(
            f"JSON Feed {where}.{key} is {type(obj[key]).__name__}, expected {kind}"
        )


def _optional(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> None:
    if key in obj and not isinstance(obj[key], kind):
        raise AssertionError(
            f"JSON Feed {where}.{key} is {type(obj[key]).__name__}, expected {kind}"
        )


def assert_valid_json_feed(data: bytes) -> dict[str, Any]:
    """Assert `data` is a JSON Feed 1.1 document (UTF-8); return it decoded."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AssertionError(f"JSON Feed is not UTF-8 JSON: {exc}\n{_excerpt(data)}") from None
    if not isinstance(doc, dict):
        raise AssertionError(f"JSON Feed top level is {type(doc).__name__}, not an object")
    if doc.get("version") != JSON_FEED_VERSION:
        raise AssertionError(f"JSON Feed version is {doc.get('version')!r}")
    _require(doc, "title", str, "feed")
    _require(doc, "items", list, "feed")
    for key in ("home_page_url", "feed_url", "description", "language"):
        _optional(doc, key, str, "feed")
    _optional(doc, "authors", list, "feed")
    _optional(doc, "hubs", list, "feed")
    for index, hub in enumerate(doc.get("hubs", [])):
        _require(hub, "type", str, f"hubs[{index}]")
        _require(hub, "url", str, f"hubs[{index}]")
    for index, item in enumerate(doc["items"]):
        where = f"items[{index}]"
        if not isinstance(item, dict):
            raise AssertionError(f"JSON Feed {where} is not an object")
        _require(item, "id", str, where)
        if "content_html" not in item and "content_text" not in item:
            raise AssertionError(f"JSON Feed {where} has neither content_html nor content_text")
        for key in (
            "url",
            "external_url",
            "title",
            "content_html",
            "content_text",
            "summary",
            "date_published",
            "date_modified",
            "language",
        ):
            _optional(item, key, str, where)
        _optional(item, "tags", list, where)
        if not all(isinstance(tag, str) for tag in item.get("tags", [])):
            raise AssertionError(f"JSON Feed {where}.tags holds a non-string")
        for key in ("date_published", "date_modified"):
            if key in item:
                _assert_rfc3339(item[key], f"{where}.{key}")
    return doc


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _assert_rfc3339(value: str, where: str) -> None:
    if _RFC3339.fullmatch(value) is None:
        raise AssertionError(f"JSON Feed {where} is not an RFC 3339 date-time: {value!r}")
