"""Hardening: crash safety, hostile input, limits, HTTP edge (issue 6)."""

from __future__ import annotations
