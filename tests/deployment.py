"""A Syndicator deployment in a temporary folder (config, source folder, store) on each
backend, and fresh pollers and builders over it, as a new process would open them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syndicator.config import Settings, load_settings
from syndicator.store.store import Store
from syndicator.wiring import open_store
from tests.cycle import Cycle, make_cycle


@dataclass
class Deployment:
    """Paths and helpers of one temporary deployment."""

    root: Path
    config: Path
    source: Path
    output: Path
    database: Path
    backend: str

    def settings(self, **env: str) -> Settings:
        return load_settings(self.config, environ=env)

    def write_jsonl(self, name: str, records: list[dict[str, Any]]) -> Path:
        path = self.source / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        return path

    def feed(self, topic: str, fmt: str) -> bytes:
        return (self.output / "feeds" / f"{topic}.{fmt}").read_bytes()

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        return {
            str(p.relative_to(self.output)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(self.output.rglob("*"))
            if p.is_file()
        }


CONFIG = """
[site]
title = "Test Desk"
base_url = "http://127.0.0.1:8080"

[source]
kind = "dir"
path = "{source}"

[feeds]
output_dir = "{output}"
max_entries = {max_entries}

[database]
url = "{database_url}"
"""


@pytest.fixture
def deployment(backend: str, make_database_url: Callable[..., str], tmp_path: Path) -> Deployment:
    """A deployment on each backend: SQLite file, and a fresh PostgreSQL database."""
    source = tmp_path / "articles"
    source.mkdir()
    dep = Deployment(
        root=tmp_path,
        config=tmp_path / "syndicator.toml",
        source=source,
        output=tmp_path / "public",
        database=tmp_path / "state.db",
        backend=backend,
    )
    url = make_database_url(dep.database.name)
    dep.config.write_text(
        CONFIG.format(source=source, output=dep.output, database_url=url, max_entries=50),
        encoding="utf-8",
    )
    return dep


@pytest.fixture
def run_pipeline(deployment: Deployment) -> Iterator[Callable[[], Cycle]]:
    """Open a fresh store and pipeline (as a new process would) on each call."""
    stores: list[Store] = []

    def make() -> Cycle:
        settings = deployment.settings()
        store = open_store(settings)
        stores.append(store)
        return make_cycle(settings, store)

    yield make
    for store in stores:
        store.close()
