"""The build: the feeds of changed topics rendered, written and published (SPEC §4)."""

from __future__ import annotations

from syndicator.build.builder import Builder
from syndicator.build.result import BuildResult

__all__ = ["BuildResult", "Builder"]
