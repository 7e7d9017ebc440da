"""Durable state: SQLite by default, PostgreSQL for several processes."""

from __future__ import annotations

from syndicator.store.store import Store, Tx

__all__ = ["Store", "Tx"]
