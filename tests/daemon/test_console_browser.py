"""The operator console in a real browser (headless Chromium through Selenium)
against the real daemon and two real webhook receivers: log in, see an endpoint
fail, make its receiver answer again, retry the delivery from its button and see
it delivered; and the console refusing a form without its CSRF token or a
browser without the session cookie. Saves the console's screenshots in
docs/screenshots/ (with UPDATE_SCREENSHOTS=1) that the README shows.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from syndicator.core.retry import AttemptOutcome
from syndicator.store import Outcome, Store
from syndicator.store.polls import PollRecord
from tests.daemon.conftest import DaemonProcess, Site, make_site, record
from tests.daemon.test_browser import (  # noqa: F401  (the browser fixture)
    DESKTOP,
    PHONE,
    _full_page_screenshot,
    browser,
)
from tests.delivery.receiver import Receiver, Reply
from tests.delivery.rows import add_deliveries

Start = Callable[..., DaemonProcess]
TOKEN = "b7Jx-console-token-for-the-browser-test"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _click_and_load(chrome: webdriver.Chrome, element: WebElement) -> None:
    """Click, and wait for the page it leads to (a link or a form post replaces
    the document; reading the URL at once may still see the old one)."""
    page = chrome.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(chrome, 15).until(expected_conditions.staleness_of(page))


def _site(root: Path, crm: Receiver, search: Receiver) -> Site:
    extra = (
        '\n[console]\ntoken_env = "CONSOLE_TOKEN"\n'
        # One attempt, then an hour's wait: the failed delivery stays failed
        # until the retry button sends it.
        "\n[delivery]\nretry_schedule = [3600]\npause_after_failures = 1000\n"
    )
    for name, receiver in (("crm", crm), ("search", search)):
        extra += (
            f'\n[[webhooks]]\nname = "{name}"\nurl = "{receiver.url_for("/" + name)}"\n'
            f'secret = "{SECRET}"\nallow_private_network = true\n'
        )
    return make_site(root / "site", extra=extra)


def _history(site: Site) -> None:
    """A day of earlier deliveries and polls, so the charts show more than a minute.

    Written through the store before the daemon starts, all finished (delivered, or
    dead after a 410), and over an hour old: the last hour is the test's own.
    """
    store = Store(f"sqlite:///{site.database}")
    store.migrate()
    rng = random.Random(4)
    now = datetime.now(UTC)
    try:
        ids = add_deliveries(store.outbox, ["crm", "search"], 900, at=now - timedelta(days=1))
        outcomes = []
        for n, delivery in enumerate(ids):
            # Busier in the afternoon; crm slower, and failing now and then.
            minutes = 70 + int(1370 * rng.betavariate(2, 1.6))
            at = now - timedelta(minutes=minutes, seconds=rng.random() * 60)
            crm = n % 2 == 0
            gone = crm and rng.random() < 0.06
            ms = rng.lognormvariate(5.2 if crm else 3.7, 0.45)
            outcomes.append(
                Outcome(
                    delivery,
                    "crm" if crm else "search",
                    at,
                    AttemptOutcome.PERMANENT if gone else AttemptOutcome.DELIVERED,
                    410 if gone else 204,
                    "HTTP 410" if gone else None,
                    "",
                    ms / 1000,
                    None,
                )
            )
        store.outbox.record(outcomes, pause_after=1000, now=now)
        for minutes in range(1430, 60, -15):
            started = now - timedelta(minutes=minutes)
            seconds = 0.05 + rng.random() * 0.4 + (1.5 if minutes % 240 == 0 else 0)
            failed = minutes in (905, 890)
            store.polls.record_poll(
                PollRecord(
                    "dir",
                    started,
                    started + timedelta(seconds=seconds),
                    "failed" if failed else "ok",
                    {"created": rng.randint(0, 4), "updated": rng.randint(0, 2)},
                    "source folder unreadable" if failed else None,
                )
            )
    finally:
        store.close()


def test_console_in_a_browser(
    tmp_path: Path,
    start_daemon: Start,
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    with (
        Receiver(default=Reply(status=503, body=b"maintenance until 14:00")) as crm,
        Receiver() as search,
    ):
        console_site = _site(tmp_path, crm, search)
        console_site.write_records(
            "a.jsonl",
            [
                record(f"story-{i}", topics=("energy",) if i % 2 else ("cities", "energy"))
                for i in range(6)
            ],
        )
        _history(console_site)
        daemon = start_daemon(console_site, env={"CONSOLE_TOKEN": TOKEN})
        crm.wait_for(6, timeout=20)
        search.wait_for(6, timeout=20)
        base = f"{console_site.base_url}/console/"
        chrome = browser
        chrome.set_window_size(*DESKTOP)

        # Log in.
        chrome.get(base)
        assert chrome.current_url == f"{base}login"
        chrome.find_element(By.ID, "token").send_keys(TOKEN)
        _click_and_load(chrome, chrome.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
        assert chrome.current_url == base
        assert chrome.find_element(By.TAG_NAME, "h1").text == "Health"
        _full_page_screenshot(chrome, *DESKTOP, "console-health.png")

        # The failing endpoint, beside the healthy one.
        chrome.get(f"{base}endpoints")
        row = chrome.find_element(By.ID, "endpoint-crm")
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        assert cells[1] == "active" and int(cells[2]) >= 1
        assert cells[3] == "0.0 %"  # last hour: nothing delivered
        healthy = chrome.find_element(By.ID, "endpoint-search").find_elements(By.TAG_NAME, "td")
        assert healthy[3].text == "100.0 %"
        assert len(chrome.find_elements(By.CSS_SELECTOR, "svg.chart")) == 2
        _full_page_screenshot(chrome, *DESKTOP, "console-endpoints.png")

        # Its failed deliveries, one of them with its attempt.
        chrome.get(f"{base}deliveries?endpoint=crm&status=failed")
        links = chrome.find_elements(By.CSS_SELECTOR, "table.deliveries tbody td.num a")
        assert len(links) == 6
        _click_and_load(chrome, links[0])
        delivery_url = chrome.current_url
        delivery_id = delivery_url.rsplit("/", 1)[1]
        attempt = chrome.find_element(By.CSS_SELECTOR, "table.attempts tbody tr")
        assert "503" in attempt.text and "maintenance until 14:00" in attempt.text
        webhook_id = chrome.find_element(By.CSS_SELECTOR, ".facts code").text
        first = [r for r in crm.requests if r.headers["webhook-id"] == webhook_id]
        assert len(first) == 1

        # The receiver is back; the retry button sends the same delivery again.
        crm.default = Reply(status=204)
        _click_and_load(chrome, chrome.find_element(By.XPATH, "//button[text()='Retry now']"))
        assert chrome.current_url == f"{delivery_url}?done=retried"
        assert "queued again" in chrome.find_element(By.CLASS_NAME, "notice").text

        def delivered() -> bool | None:
            chrome.refresh()
            return True if "delivered" in chrome.find_element(By.TAG_NAME, "h1").text else None

        daemon.wait_until(delivered, 15, f"delivery {delivery_id} to be delivered")
        resent = [r for r in crm.requests if r.headers["webhook-id"] == webhook_id]
        assert len(resent) == 2
        assert resent[1].verify(SECRET)["type"] == "article.created"
        outcomes = [
            c.text
            for c in chrome.find_elements(By.CSS_SELECTOR, "table.attempts tbody td:nth-child(2)")
        ]
        assert outcomes == ["delivered", "retry"]
        _full_page_screenshot(chrome, *DESKTOP, "console-delivery.png")

        # A form without its CSRF token does nothing.
        chrome.execute_script(
            "document.querySelectorAll('input[name=csrf]').forEach(i => i.remove())"
        )
        _click_and_load(chrome, chrome.find_element(By.XPATH, "//button[text()='Retry now']"))
        assert chrome.find_element(By.CLASS_NAME, "error").text == "The form was not valid."
        assert len([r for r in crm.requests if r.headers["webhook-id"] == webhook_id]) == 2
        daemon.wait_until(
            lambda: True if "refused: no valid CSRF token" in daemon.stderr() else None,
            5,
            "the refusal in the log",
        )
        assert TOKEN not in daemon.stderr()
        assert re.search(r"console: session \S{8} from 127\.0\.0\.1 login", daemon.stderr())
        assert f"deliveries retry delivery {delivery_id}" in daemon.stderr()

        # Phone width: one column, no page-wide horizontal scrolling; dark mode follows.
        chrome.set_window_size(*PHONE)
        chrome.get(f"{base}endpoints")
        width = chrome.execute_script("return document.documentElement.clientWidth")
        assert chrome.execute_script("return document.documentElement.scrollWidth") <= width
        chrome.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
        )
        background = "return getComputedStyle(document.body).backgroundColor"
        assert chrome.execute_script(background) == "rgb(18, 19, 22)"
        _full_page_screenshot(chrome, *PHONE, "console-phone.png")
        chrome.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

        # Without the session cookie, the console is the login form again.
        chrome.delete_all_cookies()
        chrome.get(f"{base}endpoints")
        assert chrome.current_url == f"{base}login"
