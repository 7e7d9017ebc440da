"""A poller and a builder over one store, run as `syndicator once` runs them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syndicator.build import Builder, BuildResult
from syndicator.config import Settings
from syndicator.ingest import Poller
from syndicator.models import ChangeSet
from syndicator.ports import ArticleSource
from syndicator.store.store import Store
from syndicator.wiring import make_builder, make_source, utc_now


@dataclass
class Cycle:
    """One deployment's poll and build, for tests that drive them step by step."""

    poller: Poller
    builder: Builder

    @property
    def store(self) -> Store:
        return self.poller.store

    @property
    def settings(self) -> Settings:
        return self.poller.settings

    def poll(self) -> ChangeSet:
        return self.poller.poll()

    def build(self, **kwargs: Any) -> BuildResult:
        return self.builder.build(**kwargs)


def make_cycle(settings: Settings, store: Store, source: ArticleSource | None = None) -> Cycle:
    """The configured source's poller (or `source`'s) and the builder, over `store`."""
    chosen = make_source(settings) if source is None else source
    return Cycle(Poller(settings, store, chosen, utc_now), make_builder(settings, store))
