"""A progress bar for long polls, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["TerminalProgress", "terminal_progress"]

# Small polls finish before a bar would be worth drawing.
_MIN_BYTES = 4 * 1024 * 1024


class TerminalProgress:
    """Draws `[#####-----]  42%  12.0/28.5 MB` on one terminal line."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self._shown = False
        self._last = -1

    def update(self, done: int, total: int | None) -> None:
        """Redraw when the percentage moves."""
        if not total or total < _MIN_BYTES:
            return
        percent = min(100, done * 100 // total)
        if percent == self._last:
            return
        self._last = percent
        filled = self.width * percent // 100
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(
            f"\rimporting [{bar}] {percent:3d}%  {done / 1e6:.1f}/{total / 1e6:.1f} MB"
        )
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the line, if one was drawn."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
        self._shown = False
        self._last = -1


def terminal_progress(stream: TextIO | None = None) -> TerminalProgress | None:
    """A progress bar on `stream` (stderr) when it is a terminal, else None."""
    stream = stream or sys.stderr
    return TerminalProgress(stream) if stream.isatty() else None
