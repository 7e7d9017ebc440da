"""Feed files changed behind the daemon's back in `feeds.output_dir`.

The daemon serves topic feeds from the output folder (their bytes are read
back when its bounded cache has let them go). A file deleted, or replaced by
other bytes (a cleanup job, an rsync the wrong way), must never be served as
a 404 for a live topic or as the foreign bytes: the builder writes it again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import feedparser
import httpx

from tests.daemon.conftest import DaemonProcess, make_site, record

Start = Callable[..., DaemonProcess]
NEVER = 3600  # the daemon polls at start only


def _feed_ok(response: httpx.Response, etag: str) -> bool:
    return (
        response.status_code == 200
        and response.headers["etag"] == etag
        and not feedparser.parse(response.content).bozo
    )


def test_a_missing_or_altered_feed_file_is_written_again(
    tmp_path: Path, start_daemon: Start
) -> None:
    site = make_site(tmp_path / "site", interval=NEVER)
    site.write_records(
        "a.jsonl", [record("one", topics=("energy",)), record("two", topics=("space",))]
    )
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    paths = ["/feeds/energy.rss", "/feeds/energy.atom", "/feeds/space.rss", "/feeds/space.atom"]
    etags = {path: daemon.get(path).headers["etag"] for path in paths}
    assert daemon.stop() == 0

    # Changed while the daemon was down: its first build writes them again.
    (site.output / "feeds" / "space.atom").unlink()
    (site.output / "feeds" / "energy.rss").write_bytes(b"garbage\n")
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    for path in ("/feeds/space.atom", "/feeds/energy.rss"):
        assert _feed_ok(daemon.get(path), etags[path])
    assert (site.output / "feeds" / "space.atom").is_file()

    # Changed while it runs, before a reader asks (the bytes are not in
    # memory since the restart): a 503 to come back, never the foreign bytes.
    (site.output / "feeds" / "energy.atom").write_bytes(b"<feed>not ours</feed>\n")
    (site.output / "feeds" / "space.rss").unlink()
    for path in ("/feeds/energy.atom", "/feeds/space.rss"):
        first = daemon.get(path)
        assert first.status_code in (200, 503)
        if first.status_code == 503:
            assert first.headers["retry-after"] == "2"
        else:
            assert _feed_ok(first, etags[path])  # already written again
        daemon.wait_until(
            lambda path=path: True if _feed_ok(daemon.get(path), etags[path]) else None,  # type: ignore[misc]
            10.0,
            f"{path} written again",
        )
    assert b"not ours" not in (site.output / "feeds" / "energy.atom").read_bytes()
    assert "is altered in the output folder: writing it again" in daemon.stderr()
