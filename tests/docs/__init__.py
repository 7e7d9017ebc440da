"""Tests that keep the documentation and the release artefacts honest."""

from __future__ import annotations
