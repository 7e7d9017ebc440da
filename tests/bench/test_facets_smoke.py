"""Smoke test of the facets benchmark (`bench/facets.py`) at a tiny size, so it cannot rot.

The corpus must be deterministic and hold the awkward names it promises; the
whole benchmark must run end to end through `bench/run.py --only facets` and
report every figure. The figures of a run this small mean nothing.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import orjson

from bench import facets_corpus
from bench import run as bench_run
from syndicator.core.entities import entity_key, entity_slug

SIZE = 150


def _records(folder: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


def test_entity_pool_mixes_the_awkward_names() -> None:
    names = facets_corpus.entity_pool(random.Random(3))
    assert names == facets_corpus.entity_pool(random.Random(3))
    keys = [entity_key(name) for name in names]
    assert len(set(keys)) == len(names) >= 20_000
    slugs = [entity_slug(name) for name in names]
    assert any(
        not name.isascii() and slug.isascii() for name, slug in zip(names, slugs, strict=True)
    )
    assert any(slug.startswith("x-") for slug in slugs)  # no Latin letter: a hash slug
    # Accented names and their unaccented twins: distinct entities, one slug.
    assert len(set(slugs)) < len(names)


def test_variants_hold_the_same_records_with_and_without_facets(tmp_path: Path) -> None:
    corpus, made = facets_corpus.ensure_facet_corpus(tmp_path, SIZE, seed=11)
    assert made
    again, made = facets_corpus.ensure_facet_corpus(tmp_path, SIZE, seed=11)
    assert not made and again.root == corpus.root
    with_, without = _records(corpus.records("with")), _records(corpus.records("without"))
    assert len(with_) == len(without) == SIZE
    langs = set()
    for facet, bare in zip(with_, without, strict=True):
        assert len({entity_key(e) for e in facet["entities"]}) == 8
        langs.add(facet["lang"])
        assert bare["entities"] == [] and "lang" not in bare
        rest = {k: v for k, v in facet.items() if k not in ("entities", "lang")}
        assert rest == {k: v for k, v in bare.items() if k != "entities"}
    assert len(langs) == 5
    spellings = {e for r in with_ for e in r["entities"]}
    # Some names are written both ways ("NVIDIA" / "Nvidia"): one merge key.
    assert any(s.isupper() and s.title() != s for s in spellings)
    edits = _records_of(corpus.edits("with"))
    by_slug = {r["slug"]: r for r in with_}
    assert len(edits) == 100
    assert all(set(e["entities"]) != set(by_slug[e["slug"]]["entities"]) for e in edits)
    assert all(e["entities"] == [] for e in _records_of(corpus.edits("without")))


def _records_of(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_facets_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    argv = [
        *("--size", str(SIZE), "--only", "facets", "--entity-feeds", "12"),
        *("--http-seconds", "1", "--work-dir", str(tmp_path / "out"), "--out", str(out)),
    ]
    assert bench_run.main(argv) == 0
    results = json.loads(out.read_text())["facets"]
    assert json.loads((tmp_path / "out" / "facets.json").read_text())["table"]
    for step in ("cold", "incremental"):
        assert results[step]["with"]["seconds"] > 0 and results[step]["without"]["seconds"] > 0
    assert results["cold"]["with"]["counts"]["created"] == SIZE
    assert results["incremental"]["without"]["counts"]["updated"] == 100
    daemon = results["daemon"]
    assert daemon["entity_feeds"] > 12 and daemon["lang_feeds"] == 5
    # Every topic feed and the sample of entity feeds, 3 formats each, all 200.
    assert daemon["served"]["topics"]["count"] == 3 * daemon["topic_feeds"]
    assert daemon["served"]["entities"]["count"] == 3 * 11  # one was asked for at start-up
    assert daemon["served_after_rebuild"]["entities"]["count"] == 3 * 12
    assert "topics rendered" in daemon["rebuild"]["build"]
    assert daemon["served_after_rebuild"]["rss_mb"] > 0
    assert daemon["fresh"]["from_write"]["count"] == 5
    http = daemon["http"]
    assert "skipped" in http or http["200 syndicator"]["rps"] > 0
    disk = results["disk"]
    assert disk["with"]["files"] == disk["without"]["files"] > 0
    table = json.loads(out.read_text())["table"]
    assert any(line.startswith("8 feeds.output_dir") for line in table)
