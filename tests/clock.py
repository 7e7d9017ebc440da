"""A clock the test moves by hand (set `now`), for code that takes a clock."""

from __future__ import annotations

from datetime import datetime

__all__ = ["Clock"]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
