"""Feed rendering: Markdown to safe HTML, and RSS, Atom, JSON Feed, OPML and the index page."""

from __future__ import annotations
