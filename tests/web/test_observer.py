"""The app's observer: told of each document answered, over a real server."""

from __future__ import annotations

import httpx

from tests.web.conftest import serve

Seen = list[tuple[str, int, bytes, str]]


def test_observer_sees_documents_answered_and_nothing_else() -> None:
    seen: Seen = []

    def observe(path: str, status: int, agent: bytes, address: str) -> None:
        seen.append((path, status, agent, address))

    with serve(observer=observe) as served:
        paths = sorted(p for p in served.documents.paths() if p.endswith(".rss"))[:2]
        with httpx.Client(base_url=served.base_url, headers={"user-agent": "Reader/1"}) as client:
            etag = client.get(paths[0]).headers["etag"]
            assert client.get(paths[0], headers={"if-none-match": etag}).status_code == 304
            assert client.head(paths[1]).status_code == 200
            assert client.get("/feeds/missing.rss").status_code == 404
            assert client.get("/healthz").status_code == 200
            assert client.get("/metrics").status_code == 200
    assert seen == [
        (paths[0], 200, b"Reader/1", "127.0.0.1"),
        (paths[0], 304, b"Reader/1", "127.0.0.1"),
        (paths[1], 200, b"Reader/1", "127.0.0.1"),
    ]


def test_a_failing_observer_never_reaches_the_reader() -> None:
    def observe(path: str, status: int, agent: bytes, address: str) -> None:
        raise RuntimeError("observer bug")

    with serve(observer=observe) as served:
        path = next(p for p in served.documents.paths() if p.endswith(".rss"))
        answer = httpx.get(served.base_url + path)
        assert answer.status_code == 200 and answer.content
        # The server still answers after the failure.
        assert httpx.get(served.base_url + path).status_code == 200
