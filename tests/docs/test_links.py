"""Relative links in docs/ point at files and headings that exist; the changelog keeps its form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syndicator import __version__
from tests.docs.helpers import DOCS, ROOT

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
_FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCED.sub("", path.read_text(encoding="utf-8"))
    return {_slug(h) for h in _HEADING.findall(text)}


# docs/security.md and docs/deploy.md have their own owners and tests.
_PAGES = sorted(p for p in DOCS.glob("*.md") if p.name not in {"security.md", "deploy.md"})


@pytest.mark.parametrize("page", _PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = _FENCED.sub("", page.read_text(encoding="utf-8"))
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        file_part, _, anchor = target.partition("#")
        path = (page.parent / file_part).resolve() if file_part else page
        assert path.exists(), f"{page.name}: broken link {target}"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{page.name}: no heading for {target}"


def test_changelog_keeps_a_changelog_form() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert "https://keepachangelog.com/" in text
    assert re.search(r"^## \[Unreleased\]$", text, re.MULTILINE)
    versions = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", text, re.MULTILINE)
    # A released version in the changelog must not be newer than the package.
    for version in versions:
        assert tuple(map(int, version.split("."))) <= tuple(map(int, __version__.split(".")))
    sections = re.findall(r"^### (\w+)$", text, re.MULTILINE)
    allowed = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    assert sections and set(sections) <= allowed
