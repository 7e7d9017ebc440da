"""The poll: an article source's records into the store (SPEC §3)."""

from __future__ import annotations

from syndicator.ingest.poller import Poller, Progress

__all__ = ["Poller", "Progress"]
