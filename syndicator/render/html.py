"""Markdown bodies to sanitised HTML (CommonMark + GFM via cmarkgfm, then nh3)."""

from __future__ import annotations

import copy

import cmarkgfm
import nh3
from cmarkgfm.cmark import Options

from syndicator.core.text import strip_xml_illegal

__all__ = ["render_markdown"]

# UNSAFE lets raw HTML through cmark untouched: nh3 is the single place that
# decides what survives, so there is one policy to review, not two.
_CMARK_OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_GITHUB_PRE_LANG
# GitHub's extensions minus two: "tagfilter" would escape <script> into
# visible text (nh3 drops it with its content instead), and "tasklist" emits
# <input> checkboxes the sanitiser removes, losing the "[x]" the author wrote.
_CMARK_EXTENSIONS = ["table", "autolink", "strikethrough"]

# Only schemes a reader can follow safely; `javascript:`, `data:` and
# `vbscript:` fall outside and are dropped. Relative URLs pass through.
_URL_SCHEMES = {"http", "https", "mailto"}

# Elements removed together with their content: their text is code or
# chrome, never prose worth keeping.
_DROP_WITH_CONTENT = {
    "script",
    "style",
    "iframe",
    "noscript",
    "template",
    "object",
    "embed",
    "frame",
    "frameset",
    "svg",
    "math",
    "textarea",
    "select",
}


def _attributes() -> dict[str, set[str]]:
    attributes = copy.deepcopy(nh3.ALLOWED_ATTRIBUTES)
    # cmark-gfm writes fenced-code languages as <pre lang="py">.
    attributes.setdefault("pre", set()).add("lang")
    attributes.setdefault("img", set()).add("title")
    attributes["*"] = {"lang", "title", "dir"}
    return attributes


# Built once: nh3.Cleaner compiles the policy, so per-call cost is parsing only.
_CLEANER = nh3.Cleaner(
    tags=set(nh3.ALLOWED_TAGS) - _DROP_WITH_CONTENT,
    clean_content_tags=_DROP_WITH_CONTENT,
    attributes=_attributes(),
    url_schemes=_URL_SCHEMES,
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def render_markdown(body_md: str) -> str:
    """Render Markdown (CommonMark + GFM, raw HTML allowed) to sanitised HTML."""
    html = cmarkgfm.markdown_to_html_with_extensions(
        strip_xml_illegal(body_md), options=_CMARK_OPTIONS, extensions=_CMARK_EXTENSIONS
    )
    # Character references such as &#1; decode to characters XML forbids, so
    # the output is cleaned as well as the input.
    return strip_xml_illegal(_CLEANER.clean(html))
