"""Webhook delivery: the worker over the store's outbox, the HTTP sender, the SSRF guard."""

from __future__ import annotations
