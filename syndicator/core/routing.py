"""Which webhook endpoints receive which events (SPEC §6)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Route"]


@dataclass(frozen=True, slots=True)
class Route:
    """An endpoint's filters: event types, and topics (``*`` for every topic)."""

    endpoint: str
    events: frozenset[str]
    topics: frozenset[str]

    def matches(self, event_type: str, topics: Iterable[str]) -> bool:
        """True when the endpoint wants this event for an article in `topics`."""
        if event_type not in self.events:
            return False
        return "*" in self.topics or not self.topics.isdisjoint(topics)
