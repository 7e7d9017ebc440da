"""The operator console at `/console/`: health, quarantine, endpoints, deliveries,
feeds and WebSub, with a few actions, server-rendered for a browser.

Off unless `[console] token_env` names a set variable. It reads the store and
acts through it, so every process of a deployment shows and does the same;
the web layer only mounts it (`syndicator.web` never imports it).
"""

from __future__ import annotations

from syndicator.console.app import Console
from syndicator.console.views import FeedTraffic, FeedUsage, StoreTraffic

__all__ = ["Console", "FeedTraffic", "FeedUsage", "StoreTraffic"]
