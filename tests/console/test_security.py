"""Who gets in and what a request without a session or a CSRF token can do: nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from syndicator.console.app import LOGIN_COOKIE, SESSION_COOKIE
from syndicator.console.auth import MAX_FAILURES, SESSION_SECONDS, Keys
from tests.console.conftest import TOKEN, ConsoleHarness, csrf_of
from tests.delivery.rows import add_deliveries


def test_pages_redirect_to_the_login_form_without_a_session(harness: ConsoleHarness) -> None:
    for page in ("/console/", "/console/endpoints", "/console/deliveries/1", "/console/feeds"):
        answer = harness.client.get(page)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/login"
    assert harness.client.get("/console").headers["location"] == "/console/"


def test_login_sets_a_strict_http_only_cookie_and_logs_no_secret(
    harness: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syndicator.console")
    answer = harness.login()
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")
    )
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console/"} <= attributes
    assert f"max-age={SESSION_SECONDS}" in attributes
    assert "secure" not in attributes  # http:// base URL; https:// adds it (below)
    page = harness.client.get("/console/")
    assert page.status_code == 200 and "Health" in page.text
    assert TOKEN not in caplog.text
    assert any("console: session" in r.message and "login" in r.message for r in caplog.records)


def test_every_answer_forbids_caching_framing_and_scripts(harness: ConsoleHarness) -> None:
    harness.login()
    for page in ("/console/", "/console/login", "/console/nothing-here"):
        headers = harness.client.get(page).headers
        assert headers["cache-control"] == "no-store"
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "script-src" not in csp  # falls back to 'none': no script runs
    assert harness.client.request("PUT", "/console/").status_code == 405
    assert harness.client.request("DELETE", "/console/endpoints").status_code == 405


def test_a_wrong_token_is_refused_slowed_down_and_logged_without_it(
    harness: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syndicator.console")
    wrong = "not-the-token-but-close"
    answers = [harness.login(wrong) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert "Wrong token" in answers[0].text
    assert harness.session_cookie() is None
    assert harness.slept == [0.25, 0.5, 1.0]  # each failure waits longer
    assert wrong not in caplog.text and TOKEN not in caplog.text
    assert "console: login failed from 127.0.0.1 (wrong token)" in caplog.text
    # The right token still works, and forgets the failures.
    assert harness.login().status_code == 303
    assert len(harness.console.throttle) == 0


def test_an_address_that_keeps_failing_is_refused_even_with_the_token(
    harness: ConsoleHarness,
) -> None:
    for _ in range(MAX_FAILURES):
        assert harness.login("wrong").status_code == 401
    assert harness.login().status_code == 429
    assert harness.session_cookie() is None


def test_the_login_form_needs_its_own_csrf_token(harness: ConsoleHarness) -> None:
    form = harness.client.get("/console/login")
    token = csrf_of(form.text)
    # Without the form's cookie (a cross-site post), or with a made-up token: refused.
    other = harness.new_client(harness.server.port)
    answer = other.post("/console/login", data={"token": TOKEN, "csrf": token})
    assert answer.status_code == 403 and other.cookies.get(SESSION_COOKIE) is None
    answer = harness.client.post("/console/login", data={"token": TOKEN, "csrf": "x" + token})
    assert answer.status_code == 403 and harness.session_cookie() is None
    assert harness.client.cookies.get(LOGIN_COOKIE)
    other.close()


def test_forged_and_expired_cookies_are_refused(harness: ConsoleHarness) -> None:
    _, forged_cookie = Keys("another-token").new_session()
    harness.client.cookies.set(SESSION_COOKIE, forged_cookie, path="/console/")
    assert harness.client.get("/console/").status_code == 303
    # Signed with the right key but expired: a clock 13 hours ahead.
    _, old = Keys(TOKEN, lambda: 1_000_000.0).new_session()
    harness.client.cookies.set(SESSION_COOKIE, old, path="/console/")
    assert harness.client.get("/console/").status_code == 303
    # A valid cookie with its expiry moved forward no longer matches its signature.
    _, good = Keys(TOKEN).new_session()
    sid, expiry, signature = good.split(".")
    harness.client.cookies.set(
        SESSION_COOKIE, f"{sid}.{int(expiry) + 86400}.{signature}", path="/console/"
    )
    assert harness.client.get("/console/").status_code == 303
    harness.client.cookies.set(SESSION_COOKIE, good, path="/console/")
    assert harness.client.get("/console/").status_code == 200


def test_posts_without_a_session_or_a_valid_csrf_token_change_nothing(
    harness: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syndicator.console")
    [delivery, *_] = add_deliveries(harness.store.outbox, ["crm"], 2)
    harness.store.outbox.requeue([delivery], harness.now)
    states = harness.store.outbox.endpoint_states(["crm"])
    # No session at all: 401.
    answer = harness.client.post("/console/endpoints/pause", data={"endpoint": "crm"})
    assert answer.status_code == 401
    harness.login()
    csrf = harness.csrf()
    # A session but no CSRF token, a wrong one, or another session's: 403.
    other_session, _ = Keys(TOKEN).new_session()
    for fields in (
        {"endpoint": "crm"},
        {"endpoint": "crm", "csrf": csrf[:-2]},
        {"endpoint": "crm", "csrf": Keys(TOKEN).csrf(other_session.id)},
    ):
        assert harness.client.post("/console/endpoints/pause", data=fields).status_code == 403
    # A JSON body (not a form) is no form: 403 as well.
    answer = harness.client.post("/console/endpoints/pause", json={"endpoint": "crm", "csrf": csrf})
    assert answer.status_code == 403
    assert harness.store.outbox.endpoint_states(["crm"]) == states
    assert harness.woken == 0
    assert "refused: no valid CSRF token" in caplog.text
    # With it, the same request pauses the endpoint.
    answer = harness.client.post("/console/endpoints/pause", data={"endpoint": "crm", "csrf": csrf})
    assert answer.status_code == 303
    assert harness.store.outbox.endpoint_states(["crm"])[0]["state"] == "paused"


def test_logout_ends_the_session_in_the_browser(harness: ConsoleHarness) -> None:
    harness.login()
    csrf = harness.csrf()
    answer = harness.client.post("/console/logout", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    assert harness.session_cookie() is None
    assert harness.client.get("/console/").status_code == 303


def test_an_https_site_gets_secure_cookies(tmp_path: Path) -> None:
    made = ConsoleHarness(tmp_path, base_url="https://news.example.org")
    try:
        form = made.client.get("/console/login")
        attributes = [p.strip().lower() for p in form.headers["set-cookie"].split(";")]
        assert "secure" in attributes
    finally:
        made.close()
