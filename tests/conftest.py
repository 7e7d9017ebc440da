"""Shared fixtures: the real seed record, record factories, a receiver, the database backends."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from syndicator.core.signing import generate_secret
from tests.delivery.receiver import Receiver
from tests.deployment import deployment, run_pipeline  # noqa: F401  (shared fixtures)
from tests.postgres import Cluster, running_cluster

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_e0a2023c70849939.json"
BACKENDS = ["sqlite", "postgresql"]

# Property tests without their own settings: bounded, and no per-example deadline (a
# loaded CI machine or an xdist neighbour makes timings meaningless, not wrong).
settings.register_profile(
    "syndicator", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("syndicator")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order and group the tests for a parallel run (`pytest -n N`, pytest-xdist).

    Tests marked `slow` (minutes of crash runs, a shared daemon) go first, so that a
    worker never starts one when the others are about to finish. Under xdist, the
    tests of a module that share a module-scoped fixture (one daemon, one built
    wheel) go to one worker, which starts that fixture once instead of once per worker.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable
    if not config.pluginmanager.hasplugin("xdist") or not getattr(config.option, "numprocesses", 0):
        return
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        defs = (d[-1] for d in info.name2fixturedefs.values() if d)
        if any(d.scope == "module" and d.baseid for d in defs):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


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
def secret() -> str:
    """A fresh ``whsec_…`` webhook secret."""
    return generate_secret()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on 127.0.0.1, stopped after the test."""
    with Receiver() as running:
        yield running


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster per test process (each xdist worker has its own)."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each store backend in turn: "sqlite", then "postgresql" (this run's cluster)."""
    name: str = request.param
    return name


@pytest.fixture
def make_database_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    """A factory of fresh databases of `backend`; each call returns a new URL.

    SQLite: a new file under `tmp_path` (`name`, or db0.sqlite, db1.sqlite, ...).
    PostgreSQL: a copy of a template migrated once in this process's cluster, so
    the test's own `migrate()` finds nothing to do; dropped after the test.
    """
    made: list[str] = []
    cluster: Cluster | None = None

    def make(name: str | None = None) -> str:
        nonlocal cluster
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / (name or f'db{len(made)}.sqlite')}"
        else:
            if cluster is None:
                cluster = request.getfixturevalue("postgres")
            url = cluster.migrated_database()
        made.append(url)
        return url

    yield make
    if cluster is not None:
        for url in made:
            cluster.drop(url)


@pytest.fixture
def database_url(make_database_url: Callable[..., str]) -> str:
    """One fresh database of `backend`."""
    return make_database_url()
