"""Shared fixtures: the real seed record and record factories."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.delivery.receiver import Receiver
from tests.postgres import Cluster, running_cluster

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_e0a2023c70849939.json"


@pytest.fixture
def seed_record() -> dict[str, Any]:
    """The real article record the product started from."""
    data: dict[str, Any] = json.loads(SEED.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def make_record() -> Callable[..., dict[str, Any]]:
    """Build a valid record; keyword arguments override fields."""

    def make(slug: str = "a", **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "slug": slug,
            "title": f"Title of {slug}",
            "summary": f"Summary of {slug}",
            "body_md": f"Body of *{slug}*.",
            "url": f"https://news.example.org/{slug}",
            "published_at": "2026-06-01T10:00:00+00:00",
            "updated_at": "2026-06-01T10:00:00+00:00",
            "lang": "en",
            "topics": ["energy"],
            "entities": [],
        }
        record.update(fields)
        return record

    return make


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on 127.0.0.1, stopped after the test."""
    with Receiver() as running:
        yield running


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole run."""
    with running_cluster() as cluster:
        yield cluster
