"""WebSub (SPEC §6b, W3C Recommendation): publisher pings and the built-in hub.

Modules: ``topics`` (which URLs are our topics, ``Link`` headers), ``http`` (the
guarded client and the retrying queue shared by pushes and pings), ``verifier``
(verification of intent), ``hub`` (the ASGI endpoint), ``distributor`` (content
distribution), ``publisher`` (pings to external hubs), ``service`` (wiring for the
daemon) and ``commands`` (CLI and status). The durable state, subscriptions and
pending verifications, is ``syndicator.store.websub``.

The package imports none of them: ``status`` and ``websub list`` read the store
without loading the hub's HTTP client (httpx); the daemon imports ``service``.
"""

from __future__ import annotations
