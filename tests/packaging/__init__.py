"""Tests of what ships beside the package: seeds, container image, service unit."""

from __future__ import annotations
