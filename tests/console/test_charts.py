"""The server-drawn SVG charts: well-formed, labelled, escaped, and drawn to scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from syndicator.console.auth import MAX_TRACKED, LoginThrottle
from syndicator.console.charts import Bar, Point, bar_chart, line_chart, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
END = START + timedelta(days=1)


def parse(svg: str) -> etree._Element:
    return etree.fromstring(svg.encode())


def test_bars_are_valid_svg_with_a_title_and_heights_in_proportion() -> None:
    bars = [
        Bar(START + timedelta(hours=h), timedelta(minutes=1), (("ok", v), ("bad", b)), f"{h}h")
        for h, v, b in ((1, 30, 10), (5, 15, 0), (20, 5, 5))
    ]
    root = parse(bar_chart("Per <minute> & more", "three bars", START, END, bars, ("ok", "bad")))
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Per <minute> & more"
    assert root.find(f"{SVG}desc").text == "three bars"
    rects = root.iter(f"{SVG}rect")
    drawn = [
        (r.get("data-series"), float(r.get("data-value")), float(r.get("height"))) for r in rects
    ]
    # Zero parts are not drawn; the tallest stack (40) sits under a scale of 50.
    assert [(s, v) for s, v, _ in drawn] == [
        ("ok", 30),
        ("bad", 10),
        ("ok", 15),
        ("ok", 5),
        ("bad", 5),
    ]
    unit = drawn[0][2] / 30
    for _, value, height in drawn:
        assert height == pytest.approx(value * unit, abs=0.02)
    assert drawn[0][2] + drawn[1][2] == pytest.approx(40 / 50 * 162, abs=0.05)  # plot height 162
    # Later bars sit further right.
    xs = [float(g.find(f"{SVG}rect").get("x")) for g in root.iter(f"{SVG}g")]
    assert xs == sorted(xs) and xs[0] < xs[-1]
    assert [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g")] == ["1h", "5h", "20h"]


def test_lines_have_a_point_per_value_and_escape_labels() -> None:
    points = [Point(START + timedelta(hours=h), v, f"<{v}>") for h, v in ((2, 100), (3, 250))]
    root = parse(line_chart("Latency", "p50", START, END, {"p50": points}, unit="ms"))
    [line] = root.iter(f"{SVG}polyline")
    assert len(line.get("points").split()) == 2
    circles = list(root.iter(f"{SVG}circle"))
    assert [c.get("data-value") for c in circles] == ["100", "250"]
    assert [c.find(f"{SVG}title").text for c in circles] == ["<100>", "<250>"]
    assert float(circles[0].get("cy")) > float(circles[1].get("cy"))  # higher value, higher up


def test_an_empty_chart_is_still_a_valid_labelled_image() -> None:
    root = parse(bar_chart("Nothing", "no data", START, END, [], ("ok",)))
    assert root.find(f"{SVG}title").text == "Nothing"
    assert not list(root.iter(f"{SVG}rect"))


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (0.3, 0.5), (1, 1), (7, 10), (12, 20), (40, 50), (501, 1000)]
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_the_login_throttle_forgets_quiet_addresses_and_stays_bounded() -> None:
    now = [0.0]
    throttle = LoginThrottle(lambda: now[0])
    for _ in range(10):
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1")
    now[0] += 15 * 60 + 1
    assert not throttle.blocked("10.0.0.1")
    for n in range(MAX_TRACKED + 100):
        throttle.failed(f"10.1.{n // 256}.{n % 256}")
    assert len(throttle) == MAX_TRACKED
