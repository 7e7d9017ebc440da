"""WebSub: the hub, pushes, pings, and the whole flow against the real daemon."""

from __future__ import annotations
