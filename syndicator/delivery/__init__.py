"""Webhook delivery: the outbox, the HTTP sender, the SSRF guard."""

from __future__ import annotations
