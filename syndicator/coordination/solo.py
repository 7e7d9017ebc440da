"""One process per SQLite file: it always builds and has no one to share with."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from syndicator.coordination.base import Hooks, register_builder
from syndicator.errors import SyndicatorError
from syndicator.models import Published
from syndicator.store.store import Store

__all__ = ["Solo"]

log = logging.getLogger(__name__)


class Solo:
    """The `Coordination` of a single process: the builder from start to end."""

    def __init__(
        self,
        store: Store,
        identity: str,
        *,
        clock: Callable[[], datetime],
        load_published: Callable[[], Sequence[Published]],
    ) -> None:
        self.store = store
        self.identity = identity
        self.clock = clock
        self.load_published = load_published

    @property
    def is_builder(self) -> bool:
        """Always: no other process can take the role."""
        return True

    def start(self, hooks: Hooks) -> None:
        """Register as the builder, retake claims, serve the output folder's documents."""
        register_builder(self.store, self.identity, self.clock())
        # Claims still in the database were left by a killed run of this same
        # process: nobody else delivers from this file.
        self.store.outbox.release_claims(self.clock())
        try:
            hooks.serve(self.load_published())
        except (SyndicatorError, OSError) as exc:
            log.warning("could not load published feeds: %s", exc)

    def take_turn(self) -> bool:
        """Every scheduled run is this process's."""
        return True

    def share(self, published: Sequence[Published]) -> None:
        """Nothing to do: the only server built them."""

    def events_committed(self) -> None:
        """Nothing to do: the only delivery worker was woken in-process."""

    def stop(self) -> None:
        """Nothing runs in the background."""

    def release(self) -> None:
        """Nothing is held."""
