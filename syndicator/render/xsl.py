"""The XSL stylesheet that shows an RSS or Atom feed as a page in a browser.

Every RSS and Atom document starts with an `<?xml-stylesheet?>` processing
instruction pointing at `/feeds/feed.xsl`: a person who clicks a feed link
sees its title, description and entries with a note on how to subscribe,
while feed readers ignore the instruction. One stylesheet handles both
formats. It is XSLT 1.0 (what browsers implement), with inline CSS only.
"""

from __future__ import annotations

from syndicator.render.common import xml_text

__all__ = ["FEED_XSL", "FEED_XSL_PATH", "XSL_CONTENT_TYPE", "stylesheet_pi"]

#: Where the stylesheet is served and written, relative to the public prefix.
FEED_XSL_PATH = "feeds/feed.xsl"
XSL_CONTENT_TYPE = "text/xsl; charset=utf-8"


def stylesheet_pi(base_url: str) -> bytes:
    """The processing instruction, one line with its newline, for a site at `base_url`."""
    href = xml_text(f"{base_url.rstrip('/')}/{FEED_XSL_PATH}")
    # An XML PI's pseudo-attributes are quoted like attributes; `"`, `<` and
    # `&` cannot occur in a validated base URL, but are escaped all the same.
    href = href.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return f'<?xml-stylesheet type="text/xsl" href="{href}"?>\n'.encode()


_CSS = """
:root { color-scheme: light dark; --fg: #1d1d1f; --muted: #5f6368; --bg: #fbfbfd;
  --card: #fff; --line: #e3e3e8; --accent: #0b57d0; --note: #fff4d6; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8e8ed; --muted: #a0a4ab;
  --bg: #121316; --card: #1c1d21; --line: #2e3036; --accent: #8ab4f8; --note: #3a3220; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); line-height: 1.55;
  font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; }
main { max-width: 46rem; margin: 0 auto; padding: 1.25rem 1rem 3rem; }
a { color: var(--accent); }
.note { background: var(--note); border-radius: .6rem; padding: .8rem 1rem; margin: 0 0 1.5rem; }
.note code { word-break: break-all; font-size: .9em; }
h1 { font-size: 1.8rem; line-height: 1.2; margin: .2rem 0 .3rem; }
.lead { color: var(--muted); margin: 0 0 1.5rem; }
article { background: var(--card); border: 1px solid var(--line); border-radius: .6rem;
  padding: .9rem 1rem; margin: 0 0 .9rem; }
article h2 { font-size: 1.15rem; margin: 0 0 .25rem; line-height: 1.3; }
article p { margin: .3rem 0 0; }
time, .meta { color: var(--muted); font-size: .9rem; }
"""

FEED_XSL = (
    """<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">
  <xsl:output method="html" version="5.0" encoding="UTF-8" indent="yes"/>
  <xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
  <xsl:variable name="self"
      select="/rss/channel/atom:link[@rel='self']/@href | /atom:feed/atom:link[@rel='self']/@href"/>
  <xsl:variable name="home"
      select="/rss/channel/link | /atom:feed/atom:link[@rel='alternate']/@href"/>
  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (feed)</title>
        <style>"""
    + _CSS
    + """</style>
      </head>
      <body>
        <main>
          <p class="note"><strong>This is a web feed.</strong> Copy its address into
            your feed reader to subscribe:
            <code><xsl:value-of select="$self"/></code>.
            <a href="{$home}">All feeds</a></p>
          <h1><xsl:value-of select="$title"/></h1>
          <p class="lead">
            <xsl:value-of select="/rss/channel/description | /atom:feed/atom:subtitle"/>
          </p>
          <xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
          <xsl:if test="not(/rss/channel/item | /atom:feed/atom:entry)">
            <p class="lead">No articles in this feed yet.</p>
          </xsl:if>
        </main>
      </body>
    </html>
  </xsl:template>
  <xsl:template match="item">
    <article>
      <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
      <div class="meta"><time><xsl:value-of select="pubDate"/></time></div>
      <xsl:if test="description">
        <p><xsl:value-of select="description"/></p>
      </xsl:if>
    </article>
  </xsl:template>
  <xsl:template match="atom:entry">
    <xsl:variable name="link"
        select="(atom:link[@rel='alternate' or not(@rel)]/@href)[1]"/>
    <article>
      <h2><a href="{$link}"><xsl:value-of select="atom:title"/></a></h2>
      <div class="meta">
        <time datetime="{atom:updated}">
          <xsl:value-of select="translate(substring(atom:updated, 1, 16), 'T', ' ')"/> UTC
        </time>
      </div>
      <xsl:if test="atom:summary">
        <p><xsl:value-of select="atom:summary"/></p>
      </xsl:if>
    </article>
  </xsl:template>
</xsl:stylesheet>
"""
).encode("utf-8")
