"""`syndicator export [--facets]`: a static copy of every feed in `feeds.output_dir`,
facet feeds included on request, byte for byte what the daemon serves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from syndicator.build.ondemand import FacetDocuments
from syndicator.cli import main
from syndicator.render.directory import INITIALS
from syndicator.wiring import make_builder, open_store, utc_now
from tests.deployment import Deployment
from tests.feedcheck import assert_valid_atom

Make = Callable[..., dict[str, Any]]


def test_export_writes_facet_feeds_only_when_asked(
    deployment: Deployment, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("one", entities=["Arm", "Société Générale"], lang="de"),
            make_record("two", entities=["ARM"]),
        ],
    )
    assert main(["--config", str(deployment.config), "once"]) == 0
    assert not (deployment.output / "feeds" / "entities").exists()  # rendered on demand

    assert main(["--config", str(deployment.config), "export"]) == 0
    assert "0 topic files written" in capsys.readouterr().out
    assert not (deployment.output / "feeds" / "entities").exists()

    assert main(["--config", str(deployment.config), "export", "--facets"]) == 0
    # arm, societe-generale, lang/de and lang/en, three formats each; the
    # directory's index, letter pages and OPML file.
    pages = 1 + len(INITIALS) + 1
    assert f"{12 + pages} facet and entity directory files written" in capsys.readouterr().out
    index = (deployment.output / "entities" / "index.html").read_text(encoding="utf-8")
    assert "a.html" in index and "s.html" in index
    letter = (deployment.output / "entities" / "s.html").read_text(encoding="utf-8")
    assert "Société Générale" in letter and "societe-generale" in letter
    opml = etree.fromstring((deployment.output / "feeds" / "entities.opml").read_bytes())
    titles = {o.get("text") for o in opml.iter("outline")}
    assert {"Test Desk: ARM", "Test Desk: Société Générale"} <= titles
    exported = deployment.output / "feeds" / "entities" / "arm.atom"
    assert_valid_atom(exported.read_bytes())
    settings = deployment.settings()
    store = open_store(settings)
    try:
        builder = make_builder(settings, store)
        documents = FacetDocuments(settings, store, utc_now, fingerprint=builder.fingerprint())
        served = documents.load("/feeds/entities/arm.atom")
        documents.close()
        assert served is not None and served.body == exported.read_bytes()
    finally:
        store.close()
    for name in ("societe-generale.rss", "arm.json"):
        assert (deployment.output / "feeds" / "entities" / name).is_file()
    assert (deployment.output / "feeds" / "lang" / "de.rss").is_file()


def test_an_export_of_facet_feeds_is_kept_current_by_later_builds(
    deployment: Deployment, make_record: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `export --facets`, `once` and `articles remove` write the exported
    facet files they changed again: a CDN serving the folder never keeps a
    taken-down article. Facets nobody exported are still not written."""
    config = ["--config", str(deployment.config)]
    deployment.write_jsonl(
        "a.jsonl",
        [
            make_record("one", entities=["Arm"], lang="de"),
            make_record("two", entities=["Arm"], lang="en"),
        ],
    )
    assert main([*config, "once"]) == 0
    assert main([*config, "export", "--facets"]) == 0
    feeds = deployment.output / "feeds"
    arm = feeds / "entities" / "arm.atom"
    assert b"news.example.org/one" in arm.read_bytes()

    # A new article of a new entity and a new language: its feeds and the
    # directory are written; the edit reaches the exported entity feed.
    deployment.write_jsonl(
        "b.jsonl",
        [
            make_record(
                "three", entities=["Arm", "Bosch"], lang="fr", updated_at="2026-06-03T10:00:00Z"
            )
        ],
    )
    assert main([*config, "once"]) == 0
    assert b"news.example.org/three" in arm.read_bytes()
    assert b"news.example.org/three" in (feeds / "entities" / "bosch.atom").read_bytes()
    assert b"Bosch" in (deployment.output / "entities" / "b.html").read_bytes()
    assert b"three" in (feeds / "lang" / "fr.json").read_bytes()

    capsys.readouterr()
    assert main([*config, "articles", "remove", "one"]) == 0
    for fmt in ("rss", "atom", "json"):
        body = (feeds / "entities" / f"arm.{fmt}").read_bytes()
        assert b"news.example.org/two" in body and b"news.example.org/one" not in body, fmt
    assert b"news.example.org/one" not in (feeds / "lang" / "de.atom").read_bytes()

    # New settings that shape every feed: the first build writes it all again.
    text = deployment.config.read_text(encoding="utf-8")
    deployment.config.write_text(text.replace("Test Desk", "Renamed Desk"), encoding="utf-8")
    assert main([*config, "once"]) == 0
    assert b"Renamed Desk" in (feeds / "entities" / "bosch.rss").read_bytes()
    assert b"Renamed Desk" in (feeds / "lang" / "de.json").read_bytes()

    # Without an export, builds write no facet file.
    for folder in ("entities", "lang"):
        for path in (feeds / folder).iterdir():
            path.unlink()
        (feeds / folder).rmdir()
    (deployment.output / "entities").joinpath("index.html").unlink()
    deployment.write_jsonl(
        "c.jsonl",
        [make_record("four", entities=["Arm"], updated_at="2026-06-04T10:00:00Z")],
    )
    assert main([*config, "once"]) == 0
    assert not (feeds / "entities").exists() and not (feeds / "lang").exists()


def test_an_export_catches_up_with_builds_that_did_not_write_it(
    deployment: Deployment, make_record: Make, tmp_path: Path
) -> None:
    """Several processes on one database each have their own output folder:
    facets changed while another process was the builder reach this export
    at its folder's next build, even one that changes nothing itself."""
    config = ["--config", str(deployment.config)]
    deployment.write_jsonl("a.jsonl", [make_record("one", entities=["Arm"], lang="de")])
    assert main([*config, "once"]) == 0
    assert main([*config, "export", "--facets"]) == 0
    feeds = deployment.output / "feeds"
    # Another builder, writing another folder, sees an edit and new facets.
    other = tmp_path / "other.toml"
    other.write_text(
        deployment.config.read_text(encoding="utf-8").replace(
            str(deployment.output), (tmp_path / "elsewhere").as_posix()
        ),
        encoding="utf-8",
    )
    deployment.write_jsonl(
        "b.jsonl",
        [
            make_record(
                "two", entities=["Arm", "Bosch"], lang="fr", updated_at="2026-06-03T10:00:00Z"
            )
        ],
    )
    assert main(["--config", str(other), "once"]) == 0
    assert b"news.example.org/two" not in (feeds / "entities" / "arm.atom").read_bytes()
    assert not (feeds / "entities" / "bosch.atom").exists()
    # This folder's next build has nothing of its own to do, and catches up.
    assert main([*config, "once"]) == 0
    assert b"news.example.org/two" in (feeds / "entities" / "arm.atom").read_bytes()
    assert b"news.example.org/two" in (feeds / "entities" / "bosch.atom").read_bytes()
    assert b"two" in (feeds / "lang" / "fr.json").read_bytes()
    assert b"Bosch" in (deployment.output / "entities" / "b.html").read_bytes()
