"""The `markdown` message format: HTML for the inbox, plain words for pushes.

markdown-it-py renders CommonMark with raw HTML off and images off, then nh3 (Ammonia) keeps only
paragraphs, line breaks, emphasis, strong, code, pre, lists, blockquotes and http(s)/mailto links
(rel="noopener noreferrer"). The sanitiser is the boundary: whatever the renderer lets through,
nothing else reaches a client.
"""

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

TEXT, MARKDOWN = "text", "markdown"
FORMATS = (TEXT, MARKDOWN)

ALLOWED_TAGS = {"p", "br", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "a"}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _parser():
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False}).disable("image")
    # A heading is shown as a strong paragraph (Grafana's "# Firing"), not as its bare words.
    md.add_render_rule("heading_open", lambda self, tokens, idx, options, env: "<p><strong>")
    md.add_render_rule("heading_close", lambda self, tokens, idx, options, env: "</strong></p>\n")
    return md


def to_html(text):
    """The sanitised HTML of a Markdown text."""
    return nh3.clean(
        _parser().render(text),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def _inline_words(token):
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


def to_plain(text):
    """A Markdown text reduced to its words, as pushes show it: `**bold**` is `bold`, `[site](url)` is `site`."""
    blocks = []
    for token in _parser().parse(text):
        if token.type == "inline":
            blocks.append(_inline_words(token))
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content.rstrip("\n"))
    return "\n".join(block for block in blocks if block) or text
