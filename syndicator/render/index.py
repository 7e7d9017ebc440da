"""The front page (`/`, `index.html`) and the entity directory, from Jinja2 templates.

The built-in templates live in `render/templates/`; `[site] template_dir` may
hold an `index.html` that replaces the front page's (the context is listed
in docs/feeds.md). The operator's templates are compiled, and tried on a small
sample, when the `SiteTemplates` is made (at start-up), so a broken one is a
clear error naming its file and line before anything is built; the built-in
ones, and Jinja2 itself, load when a first page is rendered. Rendering reads no
clock: the same data gives the same bytes.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syndicator.errors import ConfigError, RenderError
from syndicator.models import ALL_TOPIC
from syndicator.render.common import (
    CONTENT_TYPES,
    OPML_PATH,
    TopicSummary,
    feed_title,
    feed_url,
    ordered_topics,
    site_name,
    utc,
    xml_text,
)

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "ENTITIES_OPML_PATH",
    "ENTITY_DIRECTORY",
    "FacetSummary",
    "FrontArticle",
    "SiteTemplates",
    "feed_entry",
    "render_index",
    "site_context",
]

BUILTIN_DIR = Path(__file__).resolve().parent / "templates"
#: The page templates, in the built-in folder or the operator's.
_PAGES = ("index.html", "entities.html", "letter.html")
#: The entity directory's URL path (its letter pages are below it).
ENTITY_DIRECTORY = "entities/"
ENTITIES_OPML_PATH = "feeds/entities.opml"
# (format, link label, autodiscovery title suffix)
_FORMATS = (("rss", "RSS", "RSS 2.0"), ("atom", "Atom", "Atom 1.0"), ("json", "JSON", "JSON Feed"))


@dataclass(frozen=True, slots=True)
class FrontArticle:
    """One of the latest articles the front page shows."""

    title: str
    url: str
    summary: str | None
    published: datetime
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FacetSummary:
    """An entity or language feed as the front page lists it."""

    name: str  # feed name, e.g. "entities/nvidia" or "lang/de"
    label: str
    articles: int


@dataclass(frozen=True, slots=True)
class _Time:
    iso: str  # for <time datetime>
    text: str  # shown: digits only, locale-independent


@dataclass(frozen=True, slots=True)
class _Link:
    fmt: str
    label: str
    media_type: str
    url: str
    title: str  # autodiscovery title


@dataclass(frozen=True, slots=True)
class _Feed:
    name: str
    label: str
    title: str
    articles: int
    updated: _Time | None
    links: tuple[_Link, ...]
    url: str  # the RSS feed: what the copy button copies


@dataclass(frozen=True, slots=True)
class _Entry:
    title: str
    url: str
    summary: str
    published: _Time
    topics: tuple[str, ...]


def _time(value: datetime) -> _Time:
    when = utc(value)
    return _Time(when.isoformat(), when.strftime("%Y-%m-%d %H:%M UTC"))


def feed_entry(
    site: str, base_url: str, name: str, label: str, articles: int, updated: datetime | None
) -> _Feed:
    """One feed as the page templates get it: title, count, links per format."""
    title = feed_title(site, name, label)
    links = tuple(
        _Link(
            fmt,
            text,
            CONTENT_TYPES[fmt].split(";")[0],
            feed_url(base_url, name, fmt),
            f"{title} ({suffix})",
        )
        for fmt, text, suffix in _FORMATS
    )
    when = None if updated is None else _time(updated)
    return _Feed(name, xml_text(label), title, articles, when, links, links[0].url)


def _where(exc: BaseException) -> str:
    # Jinja rewrites tracebacks so template frames carry the template's file
    # and line; the innermost such frame is where the template failed.
    line = getattr(exc, "lineno", None)
    name = getattr(exc, "filename", None) or getattr(exc, "name", None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".html"):
            name, line = frame.filename, frame.lineno
    return f"{name or 'template'}, line {line or '?'}"


class SiteTemplates:
    """The compiled templates of the site's HTML pages (front page, entity directory)."""

    def __init__(self, template_dir: Path | None = None) -> None:
        search = [BUILTIN_DIR]
        if template_dir is not None:
            if not template_dir.is_dir():
                raise ConfigError(f"site.template_dir: {template_dir} is not a folder")
            search.insert(0, template_dir)
        self._search = search
        self._templates: dict[str, jinja2.Template] | None = None
        digest = hashlib.sha256()
        for name in _PAGES:
            # The file Jinja's loader will pick: the first folder that has it.
            found = next((d / name for d in search if (d / name).is_file()), None)
            if found is None:
                raise ConfigError(f"template error in {name}: the template is missing")
            digest.update(found.read_bytes())
        #: Changes with any template's source: the pages are rendered again.
        self.digest = digest.hexdigest()
        if template_dir is not None:
            # The operator's templates are compiled and tried now, so a broken one is
            # a start-up error; the built-in ones (and Jinja2) wait for a first page.
            self._compiled()

    def load(self) -> None:
        """Compile (and try) the templates now rather than at the first page."""
        self._compiled()

    def _compiled(self) -> dict[str, jinja2.Template]:
        if self._templates is not None:
            return self._templates
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in self._search]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        templates: dict[str, jinja2.Template] = {}
        for name in _PAGES:
            try:
                templates[name] = env.get_template(name)
            except jinja2.TemplateError as exc:
                raise ConfigError(f"template error in {_where(exc)}: {exc}") from exc
        # Two threads may compile at once; either result is the same, and the
        # sample render below runs once the dict is in place.
        self._templates = templates
        try:  # StrictUndefined errors only show when rendering: try a sample now
            _sample(self)
        except RenderError as exc:
            self._templates = None
            raise ConfigError(str(exc)) from exc
        return templates

    def render(self, name: str, context: dict[str, Any]) -> bytes:
        """Render template `name`; a failure is a `RenderError` naming file and line."""
        template = self._compiled()[name]
        import jinja2  # loaded by `_compiled`: a dictionary lookup

        try:
            text = template.render(context)
        except jinja2.TemplateError as exc:
            raise RenderError(f"template error in {_where(exc)}: {exc}") from exc
        return text.encode("utf-8")


def _sample(templates: SiteTemplates) -> None:
    # One of everything, so the bodies of the template's loops run too.
    when = datetime(2026, 1, 1, tzinfo=UTC)
    render_index(
        "Sample",
        "http://127.0.0.1",
        [TopicSummary(ALL_TOPIC, 1, when), TopicSummary("sample", 1, when)],
        latest=[FrontArticle("Sample", "http://127.0.0.1/a", "Summary", when, ("sample",))],
        entities=[FacetSummary("entities/sample", "Sample", 1)],
        languages=[FacetSummary("lang/en", "en", 1)],
        templates=templates,
    )


_BUILTIN: SiteTemplates | None = None


def builtin_templates() -> SiteTemplates:
    """The built-in templates, compiled once."""
    global _BUILTIN
    if _BUILTIN is None:
        _BUILTIN = SiteTemplates()
    return _BUILTIN


def site_context(site_title: str, base_url: str) -> dict[str, Any]:
    """What every page's template gets: the site and its site-wide URLs."""
    base = base_url.rstrip("/")
    name = site_name(site_title)
    return {
        "site": {
            "title": name,
            "base_url": base,
            "home_url": f"{base}/",
            "description": f"News from {name}, as web feeds you can follow in any feed reader.",
        },
        "opml_url": f"{base}/{OPML_PATH}",
        "entities_opml_url": f"{base}/{ENTITIES_OPML_PATH}",
        "entities_url": f"{base}/{ENTITY_DIRECTORY}",
    }


def render_index(
    site_title: str,
    base_url: str,
    topics: Sequence[TopicSummary],
    *,
    latest: Sequence[FrontArticle] = (),
    entities: Sequence[FacetSummary] = (),
    languages: Sequence[FacetSummary] = (),
    templates: SiteTemplates | None = None,
) -> bytes:
    """The front page: latest articles, topic feeds, entity and language
    directories. Topics with no article are left out (SPEC §4); deterministic."""
    name = site_name(site_title)
    rows = [t for t in ordered_topics(topics) if t.articles > 0 or t.name == ALL_TOPIC]
    feeds = [feed_entry(name, base_url, t.name, t.name, t.articles, t.updated) for t in rows]
    all_feed = next((f for f in feeds if f.name == ALL_TOPIC), None)
    if all_feed is None:
        all_feed = feed_entry(name, base_url, ALL_TOPIC, ALL_TOPIC, 0, None)
    context = site_context(site_title, base_url)
    context.update(
        all_feed=all_feed,
        topics=[f for f in feeds if f.name != ALL_TOPIC],
        latest=[
            _Entry(
                xml_text(a.title).strip() or xml_text(a.url),
                xml_text(a.url),
                xml_text(a.summary or ""),
                _time(a.published),
                tuple(sorted(a.topics)),
            )
            for a in latest
        ],
        entities=[feed_entry(name, base_url, e.name, e.label, e.articles, None) for e in entities],
        languages=[
            feed_entry(name, base_url, e.name, e.label, e.articles, None) for e in languages
        ],
    )
    return (templates or builtin_templates()).render("index.html", context)
