"""Feed membership rows of new articles, written in key order once per transaction.

An article is in about a dozen feeds (its topics, every entity it names, its
language), so an import writes ten `article_topics` rows per record. Written
chunk by chunk, those rows land all over the table's B-trees: at 100k articles
(over a million rows, more than the page cache holds) each insert re-read a
page, and they took half the import. Rows of articles created in the
transaction are kept here instead and inserted in key order (topic, newest
first, slug) when
the transaction ends, or sooner when anything else is about to read or change
membership; into an empty table that is an append.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter

from sqlalchemy import Connection, insert

from syndicator.store import schema as t

__all__ = ["Postings", "key_order"]

# Rows held before an early flush: about 70 bytes each, so memory stays small
# whatever the import's size.
_HOLD = 250_000
_SLUG = itemgetter(1)
_STAMP = itemgetter(2)


def key_order(rows: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """(topic, slug, updated_at) rows in the table's key order: by topic,
    then newest first, then slug.

    Not one sort of tuples: most rows share their topic with many others (a
    language, a frequent entity), and Python compares such tuples on its
    generic path; a million rows took 5.6 s. Grouped by topic, each group is
    sorted by slug, then (stably) by time alone.
    """
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for row in rows:
        group = groups.get(row[0])
        if group is None:
            groups[row[0]] = group = []
        group.append(row)
    ordered: list[tuple[str, str, str]] = []
    for topic in sorted(groups):
        group = groups[topic]
        group.sort(key=_SLUG)
        group.sort(key=_STAMP, reverse=True)  # stable: equal times keep slug order
        ordered += group
    return ordered


class Postings:
    """(topic, slug, updated_at) rows of created articles, not yet written."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: list[tuple[str, str, str]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, conn: Connection, rows: Iterable[tuple[str, str, str]]) -> None:
        """Hold rows for slugs that had none before this transaction."""
        self._rows.extend(rows)
        if len(self._rows) >= _HOLD:
            self.flush(conn)

    def flush(self, conn: Connection) -> None:
        """Write what is held, in key order; call before anything reads
        or changes `article_topics` in the same transaction."""
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        rows = key_order(rows)
        if conn.dialect.name == "sqlite":
            # The driver's executemany over tuples: no per-row mapping.
            conn.exec_driver_sql(
                "INSERT INTO article_topics (topic, slug, updated_at) VALUES (?, ?, ?)", rows
            )
            return
        at = t.article_topics
        for start in range(0, len(rows), 10_000):
            conn.execute(
                insert(at),
                [
                    {"topic": topic, "slug": slug, "updated_at": stamp}
                    for topic, slug, stamp in rows[start : start + 10_000]
                ],
            )
