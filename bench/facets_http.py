"""Step 7 of the facets benchmark: one entity feed under wrk, beside nginx.

The running daemon serves the feed from its bounded cache; nginx (one worker,
``bench/nginx.conf.template``, as in ``bench/http_bench.py``) serves the same
bytes from a file. Both get a warm-up second, then ``seconds`` of wrk for a
200 and for a 304 (``If-None-Match`` with each server's own ETag).
"""

from __future__ import annotations

import argparse
import shutil
import string
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.facets_procs import DaemonProc
from bench.http_bench import ROOT, _free_port, _stop, _wait_listening, _wrk

__all__ = ["compare"]

THREADS = 2
CONNECTIONS = 32


def compare(daemon: DaemonProc, path: str, seconds: int) -> dict[str, Any]:
    """Requests/s of 200 and 304 for `path`, the daemon beside nginx."""
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if missing:
        return {"skipped": f"{', '.join(missing)} missing (apt-get install -y nginx wrk)"}
    status, body, _ = daemon.get(path)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status}")
    # Not under the work folder: nginx's worker, an unprivileged user when
    # started as root, must be able to walk down to the file.
    with tempfile.TemporaryDirectory(prefix="syndicator-facets-") as name:
        return _against_nginx(daemon, path, body, seconds, Path(name))


def _against_nginx(
    daemon: DaemonProc, path: str, body: bytes, seconds: int, tmp: Path
) -> dict[str, Any]:
    root = tmp / "www"
    feed = root / path.lstrip("/")
    feed.parent.mkdir(parents=True)
    feed.write_bytes(body)
    folder = feed.parent
    while folder != tmp.parent:
        folder.chmod(0o755)
        folder = folder.parent
    port = _free_port()
    conf = tmp / "nginx.conf"
    template = string.Template((ROOT / "bench" / "nginx.conf.template").read_text())
    conf.write_text(template.substitute(tmp=tmp, root=root, port=port))
    nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)])
    try:
        _wait_listening(port, nginx)
        servers = {"syndicator": daemon.base, "nginx": f"http://127.0.0.1:{port}"}
        results: dict[str, Any] = {"path": path, "bytes": len(body)}
        for scenario in ("200", "304"):
            for name, base in servers.items():
                results[f"{scenario} {name}"] = _measure(base, path, scenario, seconds)
            ours, theirs = results[f"{scenario} syndicator"], results[f"{scenario} nginx"]
            results[f"{scenario} ratio"] = (
                round(ours["rps"] / theirs["rps"], 3) if theirs["rps"] else None
            )
        return results
    finally:
        _stop(nginx)


def _measure(base: str, path: str, scenario: str, seconds: int) -> dict[str, Any]:
    headers: dict[str, str] = {}
    with httpx.Client(base_url=base, trust_env=False, timeout=10) as client:
        if scenario == "304":
            headers = {"If-None-Match": client.get(path).headers["etag"]}
        status = client.get(path, headers=headers).status_code
    if status != int(scenario):
        raise RuntimeError(f"{base}{path}: {status}, expected {scenario}")
    port = int(base.rsplit(":", 1)[1])
    args = argparse.Namespace(threads=THREADS, connections=CONNECTIONS, duration=1)
    _wrk(port, headers, args, path)  # warm-up
    args.duration = seconds
    return _wrk(port, headers, args, path)
