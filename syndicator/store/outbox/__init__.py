"""The transactional outbox: `events`, their `deliveries`, `attempts` and `endpoints`.

Events and their deliveries are inserted in the poll's transaction (`queue.add_events`,
called by `Tx.apply`), so an article change and its announcements commit together
(SPEC §3). A worker claims due deliveries with a lease and records each attempt
(`queue`), which moves its endpoint's health (`endpoints`). `Outbox` is what
everything outside the store uses; these modules are the only writers of the
outbox's tables.
"""

from __future__ import annotations

from syndicator.store.outbox.outbox import Outbox
from syndicator.store.outbox.queue import (
    STATUSES,
    Announcement,
    Claimed,
    Outcome,
    add_announcements,
    add_events,
    hold_deliveries,
    is_purged,
    new_delivery,
    new_event_id,
    new_event_ids,
    purge_events,
    withdraw_held,
)

__all__ = [
    "STATUSES",
    "Announcement",
    "Claimed",
    "Outbox",
    "Outcome",
    "add_announcements",
    "add_events",
    "hold_deliveries",
    "is_purged",
    "purge_events",
    "withdraw_held",
    "new_delivery",
    "new_event_id",
    "new_event_ids",
]
