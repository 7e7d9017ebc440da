"""What the console's buttons do: pause and resume an endpoint, retry a delivery,
replay an endpoint's events. The same store calls as `syndicator webhooks
resume`, `deliveries retry` and `deliveries replay`; the daemon's delivery
worker (and, on PostgreSQL, every process's) is woken to send at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

from syndicator.config import Settings
from syndicator.core.since import parse_since
from syndicator.delivery.commands import configured_endpoint
from syndicator.errors import ConfigError
from syndicator.store.store import Store

__all__ = ["ActionError", "Actions"]

Form = dict[str, str]
#: An action: the form in, (what it acted on for the log, where to go next) out.
Action = Callable[[Form], tuple[str, str]]
#: Actions after which deliveries may be due: the workers are woken.
_WAKING = frozenset({"endpoints/resume", "endpoints/replay", "deliveries/retry"})


class ActionError(Exception):
    """A request the console refuses, with the HTTP status and a message for the operator."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Actions:
    """The console's POST actions by path (under the console's prefix)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime],
        wake: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.wake = wake
        self._routes: dict[str, Action] = {
            "endpoints/pause": self.pause,
            "endpoints/resume": self.resume,
            "endpoints/replay": self.replay,
            "deliveries/retry": self.retry,
        }

    def get(self, route: str) -> Action | None:
        """The action answering POSTs to `route`, if any."""
        return self._routes.get(route)

    def after(self, route: str) -> None:
        """Wake the delivery workers when the action made deliveries due."""
        if route in _WAKING:
            self.wake()

    def _known_endpoint(self, form: Form) -> str:
        name = form.get("endpoint", "")
        known = [h.name for h in self.settings.webhooks]
        known += self.store.outbox.stats.recorded_endpoints()
        if name not in known:
            raise ActionError(f"No webhook endpoint is named {name!r}.", 404)
        return name

    def pause(self, form: Form) -> tuple[str, str]:
        """Pause an endpoint: its deliveries stay queued until it is resumed."""
        name = self._known_endpoint(form)
        changed = self.store.outbox.pause(name, self.clock())
        return f"endpoint {name}", f"endpoints?done={'paused' if changed else 'unchanged'}"

    def resume(self, form: Form) -> tuple[str, str]:
        """Lift an endpoint's pause (by hand or after failures); its queue is due at once."""
        name = self._known_endpoint(form)
        changed = self.store.outbox.resume(name, self.clock())
        return f"endpoint {name}", f"endpoints?done={'resumed' if changed else 'unchanged'}"

    def replay(self, form: Form) -> tuple[str, str]:
        """Send again every event since a time that the endpoint wants (`deliveries replay`)."""
        try:
            hook = configured_endpoint(self.settings, form.get("endpoint", ""))
        except ConfigError as exc:
            raise ActionError(str(exc), 404) from None
        now = self.clock()
        try:
            since = parse_since(form.get("since", ""), now)
        except ValueError as exc:
            raise ActionError(f"Since: {exc}") from None
        ids = self.store.outbox.replay(hook.route(), since, now)
        query = urlencode({"endpoint": hook.name, "status": "pending", "done": "replayed"})
        return (
            f"endpoint {hook.name} since {since:%Y-%m-%dT%H:%M:%SZ} ({len(ids)} deliveries)",
            f"deliveries?{query}",
        )

    def retry(self, form: Form) -> tuple[str, str]:
        """Queue a delivery again, due now, with its webhook-id (`deliveries retry`)."""
        raw = form.get("id", "")
        if not raw.isdigit():
            raise ActionError("Not a delivery id.")
        found = self.store.outbox.requeue([int(raw)], self.clock())
        if not found:
            if self.store.outbox.purged([int(raw)]):
                raise ActionError(
                    f"Delivery {raw} is not sent again: its article was deleted and the "
                    "content of its earlier events purged.",
                    409,
                )
            raise ActionError(f"No delivery has the id {raw}.", 404)
        return f"delivery {raw}", f"deliveries/{raw}?done=retried"
