"""The front page and a feed in a real browser (headless Chromium through Selenium),
against the real daemon: what a person sees at desktop and phone widths, the
copy button, and a feed shown through its XSL stylesheet. Saves the
screenshots in docs/screenshots/ that the README shows.

Chromium and its driver come from Debian (`.ci/run` installs them with
PostgreSQL); without them these tests fail rather than skip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.daemon.conftest import DaemonProcess, Site, record

Start = Callable[..., DaemonProcess]

#: Where the screenshots the README shows are kept; the tests write them there
#: only with UPDATE_SCREENSHOTS=1 (a normal run leaves the checkout clean).
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS = (
    DOCS_SCREENSHOTS
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="syndicator-screenshots-"))
)
DESKTOP = (1280, 900)
PHONE = (390, 844)


def _browser_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.fail(
            "Chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        )
    return browser, driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    binary, driver = _browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",  # tests may run as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(arg)
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield chrome
    finally:
        chrome.quit()


def _records() -> list[dict[str, object]]:
    topics = ("energy", "climate", "ai-chips", "cities")
    names = ["Nvidia", "TSMC", "Société Générale", "Berlin", "Arm", "北京", "3M", "Xavier Niel"]
    return [
        record(
            f"story-{i}",
            title=f"Story {i}: what changed in {topics[i % 4]} this week",
            summary=f"A short summary of story {i}, one or two sentences a reader skims.",
            topics=(topics[i % 4], topics[(i + 1) % 4]) if i % 3 == 0 else (topics[i % 4],),
            entities=[names[i % 8], names[(i * 3) % 8]],
            lang="de" if i % 5 == 0 else "en",
            published_at=f"2026-06-{1 + i:02d}T09:00:00+00:00",
            updated_at=f"2026-06-{1 + i:02d}T10:00:00+00:00",
        )
        for i in range(12)
    ]


def _full_page_screenshot(chrome: webdriver.Chrome, width: int, height: int, name: str) -> None:
    # The whole page, not just the viewport: grow the window to the document.
    full = int(chrome.execute_script("return document.documentElement.scrollHeight"))
    chrome.set_window_size(width, max(height, min(full, 6000)))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert chrome.save_screenshot(str(SCREENSHOTS / name))
    chrome.set_window_size(width, height)


def test_front_page_and_feed_in_a_browser(
    site: Site, start_daemon: Start, browser: webdriver.Chrome
) -> None:
    site.write_records("a.jsonl", _records())
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    chrome = browser
    chrome.set_window_size(*DESKTOP)
    chrome.get(f"{site.base_url}/")
    assert chrome.title == "Daemon Desk"
    titles = [e.text for e in chrome.find_elements(By.CSS_SELECTOR, ".entry h3 a")]
    assert titles[0] == "Story 11: what changed in cities this week"
    assert len(titles) == 12
    energy = chrome.find_element(By.ID, "feed-energy")
    assert "4 articles" in energy.text  # stories 0, 3, 4 and 8
    directory = chrome.find_element(By.ID, "entities").find_element(By.XPATH, "..")
    assert "Société Générale" in directory.text and "北京" in directory.text
    # JS ran: the copy buttons are shown.
    button = energy.find_element(By.CSS_SELECTOR, "button.copy")
    assert button.is_displayed()
    # Desktop: topic cards sit side by side.
    cards = chrome.find_elements(By.CSS_SELECTOR, "#topics ~ ul .card")
    assert cards[0].location["y"] == cards[1].location["y"]
    _full_page_screenshot(chrome, *DESKTOP, "front-desktop.png")
    # Dark mode follows the reader's setting.
    background = "return getComputedStyle(document.body).backgroundColor"
    light = chrome.execute_script(background)
    chrome.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    assert chrome.execute_script(background) == "rgb(18, 19, 22)" != light
    chrome.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    # The copy button selects the feed URL on the page (what a person then
    # copies with Ctrl+C where the clipboard is refused), and says what it did.
    url = f"{site.base_url}/feeds/energy.rss"
    chrome.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": site.base_url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    button.click()
    daemon.wait_until(
        lambda: button.get_attribute("data-state"), 5, "the copy button to report its result"
    )
    assert chrome.execute_script("return window.getSelection().toString()") == url
    if button.get_attribute("data-state") == "Copied":
        pasted = chrome.execute_async_script(
            "navigator.clipboard.readText().then(arguments[0], () => arguments[0](null))"
        )
        assert pasted == url

    # Phone: one column, no horizontal scrolling.
    chrome.set_window_size(*PHONE)
    chrome.get(f"{site.base_url}/")
    width = chrome.execute_script("return document.documentElement.clientWidth")
    assert chrome.execute_script("return document.documentElement.scrollWidth") <= width
    cards = chrome.find_elements(By.CSS_SELECTOR, "#topics ~ ul .card")
    assert cards[0].location["y"] < cards[1].location["y"]
    _full_page_screenshot(chrome, *PHONE, "front-phone.png")

    # A feed link opened in the browser: the stylesheet makes it a page.
    chrome.set_window_size(*DESKTOP)
    chrome.get(f"{site.base_url}/feeds/energy.rss")
    heading = chrome.find_element(By.TAG_NAME, "h1")
    assert heading.text == "Daemon Desk: energy"
    entries = [e.text for e in chrome.find_elements(By.CSS_SELECTOR, "article h2 a")]
    assert entries == [
        "Story 8: what changed in energy this week",
        "Story 4: what changed in energy this week",
        "Story 3: what changed in cities this week",
        "Story 0: what changed in energy this week",
    ]
    note = chrome.find_element(By.CLASS_NAME, "note")
    assert "This is a web feed" in note.text and f"{site.base_url}/feeds/energy.rss" in note.text
    home = note.find_element(By.TAG_NAME, "a").get_attribute("href")
    assert home == f"{site.base_url}/"
    # Chromium announces that it is dropping XSLT with a banner of its own; a
    # person can close it, and the screenshot shows the page without it.
    chrome.execute_script(
        "document.querySelectorAll('xslt-warning-banner').forEach(b => b.remove())"
    )
    _full_page_screenshot(chrome, *DESKTOP, "feed.png")
    chrome.get(f"{site.base_url}/feeds/energy.atom")
    assert chrome.find_element(By.TAG_NAME, "h1").text == "Daemon Desk: energy"
    assert len(chrome.find_elements(By.CSS_SELECTOR, "article h2 a")) == 4
    chrome.get(f"{site.base_url}/entities/s.html")
    assert "Société Générale" in chrome.find_element(By.TAG_NAME, "main").text


def test_name_directory_cards_keep_the_count_beside_the_letter(
    site: Site, start_daemon: Start, browser: webdriver.Chrome
) -> None:
    # Twelve names under A, three under B: two-digit counts are the widest.
    site.write_records(
        "a.jsonl",
        [
            record(
                f"story-{i}",
                entities=[f"Alpha Works {i}", f"Beta {i % 3}"],
                updated_at=f"2026-06-01T10:{i:02d}:00+00:00",
            )
            for i in range(12)
        ],
    )
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    chrome = browser
    for size in (DESKTOP, (1400, 900), PHONE):
        chrome.set_window_size(*size)
        chrome.get(f"{site.base_url}/entities/")
        cards = chrome.find_elements(By.CSS_SELECTOR, ".card.letter")
        assert [c.find_element(By.CLASS_NAME, "name").text for c in cards] == ["A", "B"]
        assert cards[0].find_element(By.CLASS_NAME, "count").text == "12 names"
        for card in cards:
            letter = card.find_element(By.CLASS_NAME, "name").rect
            count = card.find_element(By.CLASS_NAME, "count").rect
            # One line: the count's box overlaps the letter's vertically.
            assert count["y"] < letter["y"] + letter["height"], (size, card.text)
