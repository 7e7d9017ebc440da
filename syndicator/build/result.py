"""What a build rendered and wrote: the result a build returns, rendering or not."""

from __future__ import annotations

from dataclasses import dataclass, field

from syndicator.models import Published

__all__ = ["BuildResult"]


@dataclass(slots=True)
class BuildResult:
    """What a build rendered and wrote."""

    topics: list[str] = field(default_factory=list)
    documents: list[Published] = field(default_factory=list)
    #: Facet feeds whose data changed: documents rendered on demand are stale.
    facets: list[str] = field(default_factory=list)
    #: Every feed was rendered again (settings that shape them all changed).
    full: bool = False
    rendered: int = 0
    written: int = 0
    #: Entries whose bytes were taken from the previous file instead of rendered.
    reused_entries: int = 0

    def merge(self, other: BuildResult) -> None:
        """Add what another process rendered of the same build."""
        self.topics.extend(other.topics)
        self.documents.extend(other.documents)
        self.rendered += other.rendered
        self.written += other.written
        self.reused_entries += other.reused_entries
