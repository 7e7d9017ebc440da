"""Every way a change asks the daemon to poll now (see `docs/push.md`).

One `PollTrigger` folds the requests into as few polls as keep every change
fresh: file changes in the `dir` source folder (`FolderWatcher`), signed pings
from the source (`POST /hooks/source`), `syndicator poll` (a request recorded
in the store, looked for every second, so it reaches every process) and
SIGHUP. The scheduled safety-net poll runs through the trigger too, so it
always knows whether a poll is in flight.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from starlette.types import ASGIApp

from syndicator.config import Settings
from syndicator.errors import StoreError
from syndicator.sources.watch import FolderWatcher
from syndicator.store.store import Store
from syndicator.triggers import PollTrigger
from syndicator.web.ping import PING_PATH, make_ping_route

__all__ = ["REQUESTS_SECONDS", "Push"]

log = logging.getLogger(__name__)

#: How often the daemon looks for a `syndicator poll` request in the store.
REQUESTS_SECONDS = 1.0


class Push:
    """The poll-now requests of one daemon, and the trigger they go through."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        poll: Callable[[], object],
        ping_secrets: Sequence[bytes] = (),
    ) -> None:
        self.store = store
        self.trigger = PollTrigger(poll)
        source = settings.source
        self.watcher = (
            FolderWatcher(source.path, self.trigger.request)
            if source.kind == "dir" and source.watch
            else None
        )
        self.ping_secrets = tuple(ping_secrets)
        self._request_seen: datetime | None = None

    def start(self) -> None:
        """Watch the folder; a `syndicator poll` request made before now is served by
        the first poll, which runs at start anyway."""
        with contextlib.suppress(StoreError):
            self._request_seen = self.store.polls.poll_requested()
        if self.watcher is not None:
            self.watcher.start()

    def check_requests(self) -> None:
        """Ask for a poll when `syndicator poll` asked since the last look."""
        try:
            requested = self.store.polls.poll_requested()
        except StoreError as exc:
            log.warning("cannot read poll requests: %s", exc)
            return
        if requested is not None and (self._request_seen is None or requested > self._request_seen):
            self._request_seen = requested
            log.info("poll requested from the command line")
            self.trigger.request()

    def routes(self) -> dict[str, ASGIApp]:
        """`POST /hooks/source`, when source pings are configured."""
        if not self.ping_secrets:
            return {}
        return {PING_PATH: make_ping_route(self.ping_secrets, self.trigger.request)}

    def stop(self) -> None:
        """No further polls from requests; stop watching."""
        self.trigger.stop(timeout=0)
        if self.watcher is not None:
            self.watcher.stop()
