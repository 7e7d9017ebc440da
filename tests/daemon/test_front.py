"""The front page, the feeds' stylesheet and the entity directory, served by the real
daemon: what each page lists, the directory rendered on demand and refreshed
when an entity changes, and a user's template replacing the front page."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from tests.daemon.conftest import DaemonProcess, Site, child_env, record, syndicator_command

Start = Callable[..., DaemonProcess]


def _records() -> list[dict[str, object]]:
    return [
        record("chip-1", entities=["NVIDIA", "TSMC"], topics=("ai-chips",)),
        record(
            "chip-2",
            title="Chips & <Co>",
            entities=["Nvidia", "Société Générale", "3M", "北京"],
            updated_at="2026-06-02T10:00:00+00:00",
        ),
        record("berlin", entities=["Berlin", "Xavier Niel"], lang="de", topics=("cities",)),
    ]


def test_front_page_lists_articles_topics_entities_and_languages(
    site: Site, start_daemon: Start
) -> None:
    site.write_records("a.jsonl", [*_records(), record("moved", topics=("gone",))])
    site.write_records(
        "b.jsonl", [record("moved", topics=("energy",), updated_at="2026-06-03T10:00:00+00:00")]
    )
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    page = daemon.get("/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    html = page.text
    assert (site.output / "index.html").read_text(encoding="utf-8") == html
    # Latest articles: titles (escaped), links, times, topic chips.
    assert "Chips &amp; &lt;Co&gt;" in html
    assert 'href="https://news.example.org/chip-1"' in html
    assert '<time datetime="2026-06-01T09:00:00+00:00">' in html
    assert 'class="chip" href="#feed-ai-chips"' in html
    # Topics with counts; autodiscovery for "all" and each topic, not entities.
    alternates = re.findall(
        r'<link rel="alternate" type="application/rss\+xml"[^>]*href="([^"]+)"', html
    )
    assert alternates == [
        f"{site.base_url}/feeds/{n}.rss" for n in ("all", "ai-chips", "cities", "energy")
    ]
    assert "gone.rss" not in html and "gone.rss" not in daemon.get("/feeds.opml").text
    assert daemon.get("/feeds/gone.rss").status_code == 200  # its empty feed stays served
    # The entity and language directories, the OPML links.
    assert (
        f'href="{site.base_url}/feeds/entities/nvidia.rss"' in html and ">NVIDIA</a>" in html
    )  # a tie: the first spelling
    assert f'href="{site.base_url}/feeds/lang/de.rss"' in html
    assert f'href="{site.base_url}/entities/"' in html
    assert f'href="{site.base_url}/feeds/entities.opml"' in html
    assert 'class="copy" data-url="' in html and "<script>" in html


def test_feeds_point_at_a_served_stylesheet(site: Site, start_daemon: Start) -> None:
    site.write_records("a.jsonl", _records())
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    pi = f'<?xml-stylesheet type="text/xsl" href="{site.base_url}/feeds/feed.xsl"?>'
    for path in ("/feeds/all.rss", "/feeds/energy.atom", "/feeds/entities/nvidia.rss"):
        assert daemon.get(path).text.splitlines()[1] == pi, path
    xsl = daemon.get("/feeds/feed.xsl")
    assert xsl.status_code == 200
    assert xsl.headers["content-type"] == "text/xsl; charset=utf-8"
    assert (site.output / "feeds" / "feed.xsl").read_bytes() == xsl.content
    # The stylesheet turns both formats into a page with the title and entries.
    transform = etree.XSLT(etree.fromstring(xsl.content))
    for fmt in ("rss", "atom"):
        page = str(transform(etree.fromstring(daemon.get(f"/feeds/all.{fmt}").content)))
        assert "<h1>Daemon Desk</h1>" in page, fmt
        assert 'href="https://news.example.org/chip-2">Chips &amp; &lt;Co&gt;</a>' in page, fmt
        assert "This is a web feed" in page


def test_entity_directory_is_rendered_on_demand_and_follows_changes(
    site: Site, start_daemon: Start
) -> None:
    site.write_records("a.jsonl", _records())
    daemon = start_daemon(site)
    daemon.wait_for_builds()
    index = daemon.get("/entities/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    letters = re.findall(
        r'href="[^"]*/entities/([a-z]+)\.html">(\w+)</a> <span class="count">(\d+)', index.text
    )
    # berlin; nvidia; societe-generale; tsmc; xavier-niel (an x, not a hash); 3M and 北京: other.
    assert letters == [
        ("b", "B", "1"),
        ("n", "N", "1"),
        ("s", "S", "1"),
        ("t", "T", "1"),
        ("x", "X", "1"),
        ("other", "Other", "2"),
    ]
    other = daemon.get("/entities/other.html").text
    assert other.index(">3M<") < other.index(">北京<")
    assert "/feeds/entities/3m.rss" in other
    letter_s = daemon.get("/entities/s.html").text
    assert '>Société Générale</a> <span class="count">1<' in letter_s
    assert f"{site.base_url}/feeds/entities/societe-generale.atom" in letter_s
    empty = daemon.get("/entities/q.html").text
    assert "0 names" in empty and "/feeds/entities/" not in empty
    assert daemon.get("/entities/zz.html").status_code == 404
    opml = etree.fromstring(daemon.get("/feeds/entities.opml").content)
    urls = [o.get("xmlUrl") for o in opml.iter("outline") if o.get("xmlUrl")]
    assert len(urls) == 7 and f"{site.base_url}/feeds/entities/tsmc.rss" in urls
    # A 304 from the stored validators, and a new page once an entity changes.
    etag = index.headers["etag"]
    assert daemon.get("/entities/", headers={"if-none-match": etag}).status_code == 304
    site.write_records(
        "b.jsonl", [record("arm-1", entities=["Arm"], updated_at="2026-06-04T10:00:00+00:00")]
    )
    daemon.wait_until(
        lambda: "/entities/a.html" in daemon.get("/entities/").text or None,
        15,
        "the directory to list the new entity",
    )
    assert daemon.get("/entities/", headers={"if-none-match": etag}).status_code == 200
    assert ">Arm<" in daemon.get("/entities/a.html").text


def test_a_template_dir_replaces_the_front_page(
    site: Site, start_daemon: Start, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "index.html").write_text(
        '{% extends "_base.html" %}{% block body %}<h1>Mine: {{ site.title }}</h1>'
        "{% for feed in topics %}<p>{{ feed.label }} {{ feed.articles }}</p>{% endfor %}"
        "{% endblock %}",
        encoding="utf-8",
    )
    site.write_records("a.jsonl", _records())
    daemon = start_daemon(site, env={"SYNDICATOR_SITE__TEMPLATE_DIR": str(templates)})
    daemon.wait_for_builds()
    html = daemon.get("/").text
    assert "<h1>Mine: Daemon Desk</h1>" in html and "<p>ai-chips 1</p>" in html


def test_a_broken_template_stops_start_up_naming_file_and_line(site: Site, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "index.html").write_text(
        "<p>\n{{ site.title }}\n{{ no_such_thing }}\n", encoding="utf-8"
    )
    env = child_env(SYNDICATOR_SITE__TEMPLATE_DIR=str(templates))
    done = subprocess.run(
        syndicator_command(site, "once"), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert f"{templates / 'index.html'}, line 3" in done.stderr
    assert "no_such_thing" in done.stderr
    (templates / "index.html").write_text("{% for x in %}\n", encoding="utf-8")
    done = subprocess.run(
        syndicator_command(site, "once"), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "index.html, line 1" in done.stderr, done.stderr
    done = subprocess.run(
        syndicator_command(site, "check-config"), env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "index.html, line 1" in done.stderr, done.stderr
    # The daemon too: it exits at start-up, before serving anything.
    done = subprocess.run(
        syndicator_command(site, "run"), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "index.html, line 1" in done.stderr, done.stderr
