"""The shipped sample records: reproducible, valid, and varied enough to exercise the pipeline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from syndicator.core.records import parse_record

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
GENERATOR = ROOT / "scripts" / "make_seeds.py"
REAL_SEED = "000_e0a2023c70849939.json"
SAMPLE_HOSTS = {"example.com", "news.example.org"}
TOPIC = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _generated_files(folder: Path) -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in sorted(folder.iterdir())
        if path.suffix in (".json", ".jsonl") and path.name != REAL_SEED
    }


def _load(path: Path) -> list[dict[str, Any]]:
    """Read a seed file the way the `dir` source does, with plain json."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    return data if isinstance(data, list) else [data]


def _when(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() is not None, value
    return moment


@pytest.fixture(scope="module")
def files() -> dict[str, list[dict[str, Any]]]:
    """Every sample file name with its records, in file-name order."""
    return {name: _load(SEEDS / name) for name in _generated_files(SEEDS)}


@pytest.fixture(scope="module")
def records(files: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every sample record, in file order."""
    return [record for batch in files.values() for record in batch]


def test_generator_reproduces_committed_files_byte_for_byte(tmp_path: Path) -> None:
    for attempt in ("first", "second"):
        result = _run_generator("--out", str(tmp_path))
        assert result.returncode == 0, (attempt, result.stderr)
        assert _generated_files(tmp_path) == _generated_files(SEEDS)


def test_check_mode_accepts_committed_seeds_and_flags_drift(tmp_path: Path) -> None:
    assert _run_generator("--check").returncode == 0
    assert _run_generator("--out", str(tmp_path)).returncode == 0
    victim = tmp_path / "090_edits.jsonl"
    victim.write_bytes(victim.read_bytes() + b"\n")
    result = _run_generator("--check", "--out", str(tmp_path))
    assert result.returncode == 1
    assert "090_edits.jsonl" in result.stderr


def test_generator_leaves_real_record_and_other_files_alone(tmp_path: Path) -> None:
    real = tmp_path / REAL_SEED
    real.write_bytes((SEEDS / REAL_SEED).read_bytes())
    notes = tmp_path / "README.md"
    notes.write_text("mine\n", encoding="utf-8")
    stale = tmp_path / "031_stale.jsonl"
    stale.write_text("{}\n", encoding="utf-8")
    assert _run_generator("--out", str(tmp_path)).returncode == 0
    assert real.read_bytes() == (SEEDS / REAL_SEED).read_bytes()
    assert notes.read_text(encoding="utf-8") == "mine\n"
    assert not stale.exists()


def test_real_seed_is_not_marked_as_sample() -> None:
    (real,) = _load(SEEDS / REAL_SEED)
    assert "sample" not in real
    parse_record(real)


def test_every_record_validates_and_keeps_the_sample_marker(
    records: list[dict[str, Any]],
) -> None:
    for record in records:
        article = parse_record(record)
        assert article.extra == {"sample": True}, record["slug"]


def test_counts_and_topics(records: list[dict[str, Any]]) -> None:
    slugs = {record["slug"] for record in records}
    topics = Counter(topic for record in records for topic in record["topics"])
    assert len(records) >= 60
    assert len(slugs) >= 60
    assert len(topics) >= 8
    assert {"artificial-intelligence", "ai-infrastructure", "ai-chips"} <= set(topics)
    for record in records:
        assert 1 <= len(record["topics"]) <= 3, record["slug"]
        assert all(TOPIC.fullmatch(topic) for topic in record["topics"]), record["topics"]


def test_records_have_the_seed_shape_and_sample_urls(records: list[dict[str, Any]]) -> None:
    (real,) = _load(SEEDS / REAL_SEED)
    for record in records:
        assert list(record) == [*real, "sample"], record["slug"]
        assert record["sample"] is True
        urls = [record["url"], record["canonical_source"], *record["alternates"].values()]
        urls += re.findall(r"\]\((https?://[^)\s]+)\)", record["body_md"])
        for url in urls:
            assert urlsplit(url).hostname in SAMPLE_HOSTS, url


def test_bodies_are_newsroom_markdown(records: list[dict[str, Any]]) -> None:
    for record in records:
        body = record["body_md"]
        assert 1024 <= len(body.encode("utf-8")) <= 4096, record["slug"]
        assert re.search(r"^#{2,3} \S", body, re.MULTILINE), record["slug"]
        assert re.search(r"^- \S", body, re.MULTILINE), record["slug"]
        assert re.search(r"\[[^\]]+\]\(https://", body), record["slug"]
        assert re.search(r"(?<![*\w])[*_][^*_\s]", body), record["slug"]
        assert record["title"].strip() and record["summary"].strip()


def test_every_accepted_timestamp_form_appears(records: list[dict[str, Any]]) -> None:
    stamps = [record[key] for record in records for key in ("published_at", "updated_at")]
    for stamp in stamps:
        published = _when(stamp)
        assert datetime(2026, 6, 1).date() <= published.date() <= datetime(2026, 7, 31).date()
    forms = {
        "T separator": any("T" in s for s in stamps),
        "space separator": any(" " in s for s in stamps),
        "fraction": any(re.search(r":\d\d\.\d+", s) for s in stamps),
        "Z": any(s.endswith("Z") for s in stamps),
        "+00:00": any(s.endswith("+00:00") for s in stamps),
        "non-UTC offset": any(re.search(r"[+-](?!00:00)\d\d:\d\d$", s) for s in stamps),
    }
    assert all(forms.values()), forms
    for record in records:
        assert _when(record["published_at"]) <= _when(record["updated_at"]), record["slug"]


def test_some_records_are_not_in_english(records: list[dict[str, Any]]) -> None:
    assert len({record["lang"] for record in records} - {"en"}) >= 2


def test_all_file_formats_are_used(files: dict[str, list[dict[str, Any]]]) -> None:
    raw = {
        name: json.loads((SEEDS / name).read_text(encoding="utf-8"))
        for name in files
        if name.endswith(".json")
    }
    assert sum(isinstance(data, dict) for data in raw.values()) >= 3
    assert any(isinstance(data, list) for data in raw.values())
    assert sum(name.endswith(".jsonl") for name in files) >= 2


def test_file_order_follows_time_order(files: dict[str, list[dict[str, Any]]]) -> None:
    previous_latest: datetime | None = None
    for name, batch in files.items():
        times = [_when(record["updated_at"]) for record in batch]
        if previous_latest is not None:
            assert min(times) >= previous_latest, name
        previous_latest = max(times)


def test_edits_revise_earlier_records(files: dict[str, list[dict[str, Any]]]) -> None:
    history: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, batch in files.items():
        for record in batch:
            history.setdefault(record["slug"], []).append((name, record))
    edited = {slug: versions for slug, versions in history.items() if len(versions) > 1}
    assert len(edited) >= 3, sorted(edited)
    dropped_topic = False
    for slug, versions in edited.items():
        for (old_file, old), (new_file, new) in zip(versions, versions[1:], strict=False):
            assert new_file >= old_file, slug
            assert _when(new["updated_at"]) > _when(old["updated_at"]), slug
            assert new["published_at"] == old["published_at"], slug
            assert new["title"] != old["title"], slug
            assert new["body_md"] != old["body_md"], slug
            assert new["url"] == old["url"], slug
            if set(new["topics"]) < set(old["topics"]):
                dropped_topic = True
    assert dropped_topic, "no edit drops a topic"
