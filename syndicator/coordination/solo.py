"""One process per SQLite file: it always builds, and serves every build made on its file.

Other commands build on the same file too (`syndicator once`, `syndicator
articles remove`): each build records the documents it changed in the
store's `published` table, in the transaction of its manifests. `Solo`
checks the newest version there every `REFRESH_SECONDS` (one indexed row)
and serves what changed from the output folder, so a build made beside the
daemon is served within a second, not at the next restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from syndicator.coordination.base import Hooks, register_builder
from syndicator.errors import StoreError, SyndicatorError
from syndicator.models import Published
from syndicator.store.feeds import PublishedState
from syndicator.store.store import Store

__all__ = ["REFRESH_SECONDS", "Solo"]

log = logging.getLogger(__name__)

#: How often the serving process looks for builds made by other commands.
REFRESH_SECONDS = 0.5
#: Checks of a document whose file does not (yet) hold the recorded bytes
#: before it is left to the next build that writes it.
_MAX_MISSES = 20


class Solo:
    """The `Coordination` of a single process: the builder from start to end."""

    #: Builds reach the server through the `published` table and the files.
    shares_documents = False

    def __init__(
        self,
        store: Store,
        identity: str,
        *,
        clock: Callable[[], datetime],
        load_published: Callable[[], Sequence[Published]],
        read_published: Callable[[PublishedState], Published | None] | None = None,
    ) -> None:
        self.store = store
        self.identity = identity
        self.clock = clock
        self.load_published = load_published
        #: Reads a recorded document from the output folder; None: do not refresh.
        self.read_published = read_published
        self._hooks: Hooks | None = None
        self._version = 0  # the newest build version served
        self._misses: dict[tuple[str, int], int] = {}
        self._stopping = threading.Event()
        self._refresher: threading.Thread | None = None

    @property
    def is_builder(self) -> bool:
        """Always: no other process can take the role."""
        return True

    def start(self, hooks: Hooks) -> None:
        """Register as the builder, retake claims, serve the output folder's documents,
        then follow the builds other commands make."""
        self._hooks = hooks
        register_builder(self.store, self.identity, self.clock())
        # Claims still in the database were left by a killed run of this same
        # process: nobody else delivers from this file.
        self.store.outbox.release_claims(self.clock())
        try:
            # Read before the files: a build recorded meanwhile is refreshed again.
            self._version = self.store.feeds.published_version()
        except StoreError as exc:
            log.warning("cannot read the published version: %s", exc)
        try:
            hooks.serve(self.load_published())
        except (SyndicatorError, OSError) as exc:
            log.warning("could not load published feeds: %s", exc)
        if self.read_published is not None:
            self._refresher = threading.Thread(
                target=self._keep_refreshing, name="published-refresh", daemon=True
            )
            self._refresher.start()

    def take_turn(self) -> bool:
        """Every scheduled run is this process's."""
        return True

    def share(self, published: Sequence[Published]) -> None:
        """Nothing to do: the only server built them."""

    def events_committed(self) -> None:
        """Nothing to do: the only delivery worker was woken in-process."""

    def stop(self) -> None:
        """Stop following other builds."""
        self._stopping.set()
        if self._refresher is not None:
            self._refresher.join(timeout=2.0)

    def release(self) -> None:
        """Nothing is held."""

    def refresh(self) -> int:
        """Serve the documents builds changed since the last refresh; return how many."""
        if self._hooks is None or self.read_published is None:
            return 0
        if self._hooks.busy():
            # This process is building: it serves what it builds when done,
            # and reading and compressing those files here would do it twice.
            # What another command built meanwhile is served right after.
            return 0
        if self.store.feeds.published_version() <= self._version:
            return 0  # the usual case: one indexed row read
        states = self.store.feeds.published_since(self._version)
        newest = max((state.version for state in states), default=self._version)
        docs: list[Published] = []
        behind: int | None = None  # the oldest version to look at again
        for state in states:
            if self._hooks.served(state.path) == state.last_modified:
                continue  # this process built it and serves it already
            doc = self.read_published(state)
            if doc is not None:
                docs.append(doc)
            elif self._missed(state):
                # The file holds other bytes: a build is writing it and will
                # record a newer version. Look again until it does.
                behind = state.version if behind is None else min(behind, state.version)
        if docs:
            (self._hooks.adopt or self._hooks.serve)(docs)
        self._version = newest if behind is None else behind - 1
        return len(docs)

    def _missed(self, state: PublishedState) -> bool:
        """Count a miss; False once the document has been missed too often."""
        key = (state.path, state.version)
        misses = self._misses[key] = self._misses.get(key, 0) + 1
        if misses < _MAX_MISSES:
            return True
        log.warning("%s never held the recorded bytes; left to its next build", state.path)
        self._misses = {k: v for k, v in self._misses.items() if k[1] > state.version}
        return False

    def _keep_refreshing(self) -> None:
        while not self._stopping.wait(REFRESH_SECONDS):
            try:
                self.refresh()
            except StoreError as exc:
                log.warning("cannot look for new builds: %s", exc)
            except Exception:  # the thread must live on; the next check may succeed
                log.exception("refreshing published documents failed")
