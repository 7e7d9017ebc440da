"""Regressions for bugs found by the hardening work (property tests, probes, fuzzing).

Each test names the bug. All of them were poison pills: one hostile record made
every poll fail - and so blocked every other record - instead of being
quarantined. They are checked at the parser and through the real pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from syndicator.config import load_settings
from syndicator.core.article import article_to_dict, content_hash
from syndicator.core.records import parse_record
from syndicator.errors import RecordInvalid
from syndicator.sources.decode import loads
from syndicator.wiring import open_store
from tests.cycle import make_cycle

BASE = (
    '{"slug": "%s", "title": "t", "url": "https://news.example.org/a", '
    '"published_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"%s}'
)

# Lone surrogates arrive as JSON escapes; before the fix these passed validation
# and then made orjson raise TypeError while the article was hashed and stored.
SURROGATE_FIELDS = {
    "extra-value": ', "x-note": "a\\ud800b"',
    "extra-nested": ', "x-meta": {"list": ["\\udfff", {"\\ud800": "\\udbff"}]}',
    "alternates-key": ', "alternates": {"pdf\\ud800": "https://news.example.org/a.pdf"}',
}
SURROGATE_URLS = {
    "url": '"url": "https://news.example.org/\\ud800"',
    "canonical_source": '"canonical_source": "https://news.example.org/\\udc00"',
    "alternates-value": '"alternates": {"pdf": "https://news.example.org/\\ud800.pdf"}',
}


@pytest.mark.parametrize("extra", SURROGATE_FIELDS.values(), ids=list(SURROGATE_FIELDS))
def test_lone_surrogates_in_unknown_fields_are_stripped(extra: str) -> None:
    article = parse_record(loads(BASE % ("a", extra)))
    orjson.dumps(article_to_dict(article))
    content_hash(article)


@pytest.mark.parametrize("field", SURROGATE_URLS.values(), ids=list(SURROGATE_URLS))
def test_lone_surrogates_in_urls_are_invalid(field: str) -> None:
    text = BASE % ("a", ", " + field)
    if field.startswith('"url"'):
        text = text.replace('"url": "https://news.example.org/a", ', "")
    with pytest.raises(RecordInvalid, match="control characters or lone surrogates"):
        parse_record(loads(text))


def test_lone_surrogate_in_a_top_level_key_is_invalid_not_a_crash() -> None:
    # pydantic refuses such a key itself; the record is quarantined, not stored.
    with pytest.raises(RecordInvalid):
        parse_record(loads(BASE % ("a", ', "x-\\udc00": 1')))


def test_unknown_field_nested_past_the_encoders_limit_is_invalid() -> None:
    # orjson decodes up to 1024 levels but encodes only 255.
    deep = ', "x-deep": ' + "[" * 300 + "]" * 300
    with pytest.raises(RecordInvalid, match="nested deeper than 64 levels"):
        parse_record(loads(BASE % ("a", deep)))


def test_json_nested_past_the_stdlib_limit_is_a_value_error() -> None:
    # Beyond orjson's limit the stdlib fallback raised RecursionError, not ValueError.
    with pytest.raises(ValueError, match="nested too deeply"):
        loads("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError):
        loads(b'{"a": "\\ud800", "b": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")


def _write(folder: Path, name: str, lines: list[str]) -> None:
    (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_poison_records_are_quarantined_and_the_poll_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    good = [BASE % (f"good{i}", ', "topics": ["energy"]') for i in range(3)]
    poison = [BASE % (f"bad-{name}", extra) for name, extra in SURROGATE_FIELDS.items()]
    poison += [
        (BASE % (f"bad-{name}", ", " + field)).replace('"url": "https://news.example.org/a", ', "")
        if name == "url"
        else BASE % (f"bad-{name}", ", " + field)
        for name, field in SURROGATE_URLS.items()
    ]
    poison.append(BASE % ("bad-deep-extra", ', "x": ' + "[" * 300 + "]" * 300))
    poison.append("[" * 5000 + "]" * 5000)  # deeper than orjson: stdlib fallback
    _write(folder, "a.jsonl", [good[0], *poison, good[1]])
    # A .json array whose element is nested past the stdlib decoder's recursion
    # limit while orjson (1,024 levels) accepts the whole: RecursionError before.
    (folder / "b.json").write_text(
        "[" + BASE % ("good-array", "") + ", " + "[" * 1000 + "]" * 1000 + "]", encoding="utf-8"
    )
    _write(folder, "c.jsonl", [good[2]])
    config = tmp_path / "syndicator.toml"
    config.write_text(
        f'[source]\npath = "{folder}"\n[feeds]\noutput_dir = "{tmp_path / "out"}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "db"}"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    store = open_store(settings)
    try:
        pipeline = make_cycle(settings, store)
        changes = pipeline.poll()
        pipeline.build()
        stored = {a.slug for a, _h, _d in store.articles.feed_entries("all", 100)}
        assert {"good0", "good1", "good2", "good-array"} <= stored
        quarantined: list[dict[str, Any]] = store.polls.quarantined()
    finally:
        store.close()
    reasons = {q["slug"] or q["source"].rsplit("/", 1)[-1]: q["reason"] for q in quarantined}
    for name in SURROGATE_URLS:
        assert "lone surrogates" in reasons[f"bad-{name}"]
    assert "nested deeper" in reasons["bad-deep-extra"]
    assert any("nested too deeply" in r for r in reasons.values())
    assert changes.created == len(stored)
    # Stripped, not lost: the unknown-field records were ingested.
    for name in SURROGATE_FIELDS:
        assert f"bad-{name}" in stored
    json.loads((tmp_path / "out" / "feeds" / "all.json").read_bytes())
