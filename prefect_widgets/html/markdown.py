"""Markdown (an artifact's, a description's) rendered to sanitised HTML: `markdown_html`.

markdown-it-py renders CommonMark with tables and strikethrough, raw HTML in the text
escaped rather than passed on; nh3 (ammonia) then keeps only `TAGS` and `ATTRIBUTES`.
Links keep http(s) and mailto URLs and open in a new tab with ``rel="noopener
noreferrer"``; images keep only ``https:`` and ``data:image/`` URLs (`image_url`); every
other URL (``javascript:``, relative, ``http:`` images, …) is dropped. The input is cut to
`MAX_MARKDOWN` characters first, so the output stays bounded.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt

from .markup import Markup, capped, safe_url

__all__ = ["markdown_html", "image_url", "MAX_MARKDOWN", "TAGS", "ATTRIBUTES"]

#: characters of markdown rendered (the rest is left out, and the cut is said)
MAX_MARKDOWN = 100_000
TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul", "span",
})
ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}, "abbr": {"title"},
}


def image_url(url: Any) -> str | None:
    """`url` if an image may be shown from it (``https:`` or ``data:image/``), else None."""
    if not isinstance(url, str):
        return None
    cleaned = url.strip()
    if cleaned[:11].lower() == "data:image/" and not any(ord(c) < 33 for c in cleaned):
        return cleaned
    found = safe_url(cleaned)
    return found if found is not None and found[:6].lower() == "https:" else None


def _link_url(url: str) -> str | None:
    if url[:7].lower() == "mailto:" and not any(ord(c) < 33 for c in url):
        return url
    return safe_url(url)


def _attribute(tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: link and image URLs by the module's rules."""
    if tag == "img" and attribute == "src":
        return image_url(value)
    if tag == "a" and attribute == "href":
        return _link_url(value)
    return value


def _image(renderer: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
    """An image whose URL may not be shown renders as its alt text and URL, as text."""
    token = tokens[index]
    if image_url(token.attrGet("src")) is not None:
        return renderer.image(tokens, index, options, env)
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    return str(Markup('<span class="pw-muted">[image not shown: {} {}]</span>').format(
        alt, capped(str(token.attrGet("src") or ""), 200)))


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"])
    renderer.add_render_rule("image", _image)
    return renderer


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(TAGS), clean_content_tags={"script", "style"}, attributes=ATTRIBUTES,
        attribute_filter=_attribute, url_schemes={"http", "https", "mailto", "data"},
        url_relative="deny", link_rel="noopener noreferrer",
        allowed_classes={"span": {"pw-muted"}},
        set_tag_attribute_values={"a": {"target": "_blank"}})


def markdown_html(text: Any) -> Markup:
    """`text` (markdown) as sanitised HTML in a ``<div class="pw-markdown">``; `None` is
    empty. Safe to put in any page: the markup is what the sanitiser allowed, nothing else."""
    source = capped("" if text is None else str(text), MAX_MARKDOWN)
    rendered = _renderer().render(source.replace("\x00", "\ufffd"))
    clean = _cleaner().clean(rendered)
    return Markup('<div class="pw-markdown">{}</div>').format(Markup(clean))  # sanitised
