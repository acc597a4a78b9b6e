"""Markup that is safe by construction: the one place values become HTML.

Every helper here returns `Markup` and takes `Markup` or plain values: a value that is not
`Markup` (a `str` from the server, a number, ...) is escaped on the way in, so an
unescaped string cannot reach the page by accident. Build with
`Markup("<td>{}</td>").format(value)` and `EMPTY.join(parts)`, never f-strings with values.
`Markup` is markupsafe's, escaping as the standard library's `html.escape(quote=True)`
does (`&quot;`, `&#x27;`). Only http(s) URLs become links. Also here: the repr shell
(`wrap`: the stylesheet and the body) and the shared building blocks
(badges, chips, grids, details, tables, error blocks). Output is bounded by
`prefect_widgets.options.display`.
"""

from __future__ import annotations

import html as _std_html
import json
from collections.abc import Callable, Container, Iterable, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import urlsplit

import markupsafe

from prefect_widgets.options import display
from prefect_widgets.states import STATE_GLYPHS, STATE_TYPES, UNKNOWN_STATE_GLYPH, State

__all__ = [
    "Markup", "EMPTY", "HTML", "escape", "safe_url", "cut", "capped", "trunc", "link", "muted",
    "mono", "head_tail", "state_class", "state_glyph", "badge", "state_badge_html", "chips",
    "mapping", "details", "grid", "row", "table", "error_block", "try_load", "stylesheet", "wrap",
    "header", "counts_html", "COUNT_ORDER", "MAX_TITLE", "MAX_FALLBACK",
]

T = TypeVar("T")


class Markup(markupsafe.Markup):
    """`markupsafe.Markup` whose escaping is the standard library's (`&quot;` for `"`)."""

    __slots__ = ()

    @classmethod
    def escape(cls, s: Any, /) -> Markup:
        if hasattr(s, "__html__"):
            return cls(s.__html__())
        return cls(_std_html.escape(str(s), quote=True))


#: what a helper accepts where markup goes: `Markup` as is, anything else escaped
HTML = Markup | markupsafe.Markup | str
EMPTY = Markup("")
MAX_TITLE = 2_000  # characters of a cut value kept in its tooltip
MAX_FALLBACK = 20_000  # characters of a long text block (a traceback's whole text)
#: Order of states in counts: problems first, then the lifecycle.
COUNT_ORDER = ("FAILED", "CRASHED", "RUNNING", "CANCELLING", "PAUSED", "PENDING", "SCHEDULED",
               "CANCELLED", "COMPLETED")


def escape(value: Any) -> Markup:
    """`value` as markup: `Markup` is kept, anything else is escaped."""
    return Markup.escape(value)


@lru_cache(maxsize=1)
def stylesheet() -> Markup:
    """The repr stylesheet (package resource `resources/repr.css`), read once."""
    css = (resources.files("prefect_widgets") / "resources" / "repr.css").read_text("utf-8")
    return Markup(css)  # trusted: a file of this package, never a value


# --------------------------------------------------------------------------- text and links


def safe_url(url: Any) -> str | None:
    """`url` if it is an absolute http(s) URL, else None (no javascript:, data:, ...)."""
    if not isinstance(url, str):
        return None
    cleaned = url.strip()
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(ord(c) < 33 for c in cleaned):
        return None
    return cleaned


def link(text: HTML, url: Any) -> Markup:
    """`text` linked to `url` when that is a safe http(s) URL, else `text` alone."""
    href = safe_url(url)
    if href is None:
        return escape(text)
    return Markup('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>').format(
        href, text)


def cut(value: Any, width: int | None = None) -> str:
    """Plain text cut to `width` (display.max_colwidth) characters, with an ellipsis."""
    text = str(value)
    width = width or display.max_colwidth
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def capped(text: str, limit: int) -> str:
    """Bound a huge string: the head, then how much was left out."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def trunc(value: Any, width: int | None = None, css: str = "") -> Markup:
    """Escaped text cut to `width` (display.max_colwidth); the value (up to 2,000
    characters) in a title."""
    text = "" if value is None else str(value)
    short = cut(text, width)
    if short == text:
        return Markup('<span class="{}">{}</span>').format(css, text) if css else escape(text)
    return Markup('<span class="{}" title="{}">{}</span>').format(
        f"pw-trunc {css}".rstrip(), capped(text, MAX_TITLE), short)


def muted(text: HTML) -> Markup:
    return Markup('<span class="pw-muted">{}</span>').format(text)


def mono(text: HTML) -> Markup:
    return Markup('<span class="pw-mono">{}</span>').format(text)


def head_tail(items: Sequence[T], max_rows: int | None = None,
              min_rows: int | None = None) -> tuple[list[T], int, list[T]]:
    """pandas' rule: up to max_rows shown whole, else min_rows split between head and tail."""
    max_rows = max_rows or display.max_rows
    min_rows = min(min_rows or display.min_rows, max_rows)
    n = len(items)
    if n <= max_rows:
        return list(items), 0, []
    head = (min_rows + 1) // 2
    tail = min_rows - head
    return list(items[:head]), n - head - tail, list(items[n - tail:]) if tail else []


# --------------------------------------------------------------------------- states


def state_class(state_type: str) -> str:
    """The CSS class of a state type (`pw-state-failed`, ...; `pw-state-unknown`)."""
    return f"pw-state-{str(state_type).lower()}" if state_type in STATE_TYPES \
        else "pw-state-unknown"


def state_glyph(state_type: str) -> Markup:
    """A badge's `data-glyph` attribute: the state type's glyph (`states.STATE_GLYPHS`),
    drawn by repr.css before the name so states that share a hue differ without colour.
    Outside the text: copies, screen readers and unstyled renderers keep the bare name."""
    return Markup(' data-glyph="{}"').format(STATE_GLYPHS.get(str(state_type),
                                                              UNKNOWN_STATE_GLYPH))


def badge(state: State) -> Markup:
    """A coloured badge with the state's glyph and name; the message in its title."""
    title = (Markup(' title="{}"').format(capped(state.message, MAX_TITLE)) if state.message
             else EMPTY)
    return Markup('<span class="pw-badge {}"{}{}>{}</span>').format(
        state_class(state.type), state_glyph(state.type), title, cut(state.name, 40))


def state_badge_html(state: State, *, standalone: bool = True) -> Markup:
    """The state's badge; `standalone` wraps it in the repr shell (stylesheet, text) and
    shows the state's message (why a Failed or Crashed state failed) after the badge."""
    if not standalone:
        return badge(state)
    message = Markup(' <span class="pw-state-message">{}</span>').format(
        capped(state.message, display.max_text)) if state.message else EMPTY
    return wrap(badge(state) + message, inline=True)


def counts_html(counts: dict[str, int]) -> Markup:
    """A bar and a legend of how many runs are in each state (problems first)."""
    total = sum(counts.values())
    if not total:
        return muted("no task runs")
    ordered = [(t, counts[t]) for t in COUNT_ORDER if counts.get(t)]
    ordered += [(t, n) for t, n in counts.items() if t not in COUNT_ORDER and n]
    bar = EMPTY.join(Markup('<span class="{}" style="width:{:.3f}%" title="{}: {:,}"></span>')
                     .format(state_class(t), 100 * n / total, t.title(), n) for t, n in ordered)
    legend = Markup(" ").join(Markup('<span><span class="pw-swatch {}"></span>{} {:,}</span>')
                              .format(state_class(t), t.title(), n) for t, n in ordered)
    return Markup('<div class="pw-bar">{}</div><div class="pw-counts">{}</div>').format(
        bar, legend)


# --------------------------------------------------------------------------- blocks


def chips(values: Iterable[Any]) -> Markup:
    """Values as chips, at most display.max_items, then how many more."""
    values = list(values)
    if not values:
        return muted("none")
    shown = Markup(" ").join(Markup('<span class="pw-chip">{}</span>').format(trunc(v))
                             for v in values[:display.max_items])
    more = len(values) - display.max_items
    return shown + (Markup(' <span class="pw-muted">… {} more</span>').format(more)
                    if more > 0 else EMPTY)


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def mapping(values: dict[str, Any], empty: str = "none") -> Markup:
    """Names and values (as JSON) in a grid, at most display.max_items, then how many more."""
    if not values:
        return muted(empty)
    items = list(values.items())
    rows = EMPTY.join(Markup('<dt>{}</dt><dd class="pw-mono">{}</dd>').format(
        trunc(k, 40), trunc(_value_text(v))) for k, v in items[:display.max_items])
    more = len(items) - display.max_items
    if more > 0:
        rows += Markup('<dt class="pw-muted">…</dt><dd class="pw-muted">{} more</dd>').format(more)
    return Markup('<dl class="pw-grid">{}</dl>').format(rows)


def grid(rows: Iterable[tuple[HTML, HTML]]) -> Markup:
    """A two-column grid of (name, value) rows."""
    cells = EMPTY.join(Markup("<dt>{}</dt><dd>{}</dd>").format(k, v) for k, v in rows)
    return Markup('<dl class="pw-grid">{}</dl>').format(cells)


def details(summary: HTML, body: HTML, count: int | str | None = None,
            open_: bool = True) -> Markup:
    """A collapsible section; `count` (a number, or a text) in brackets after the summary."""
    if count is not None:
        shown = f"{count:,}" if isinstance(count, int) else count
        summary = Markup('{} <span class="pw-count">({})</span>').format(summary, shown)
    return Markup("<details{}><summary>{}</summary>{}</details>").format(
        Markup(" open") if open_ else EMPTY, summary, body)


def row(cells: Iterable[HTML], numeric: Container[int] = ()) -> Markup:
    """A table row; the cells at the `numeric` positions are right-aligned numbers."""
    return Markup("<tr>{}</tr>").format(EMPTY.join(
        Markup('<td class="pw-num">{}</td>' if i in numeric else "<td>{}</td>").format(c)
        for i, c in enumerate(cells)))


def table(header: Sequence[str], head: Iterable[HTML], hidden: int, tail: Iterable[HTML],
          noun: str) -> Markup:
    """A table of rows (`row`): the head, a line for the `hidden` ones, the tail."""
    ths = EMPTY.join(Markup("<th>{}</th>").format(h) for h in header)
    more = (Markup('<tr class="pw-more"><td colspan="{}">⋮ {:,} more {}</td></tr>').format(
        len(header), hidden, noun) if hidden else EMPTY)
    return Markup('<table class="pw-table"><thead><tr>{}</tr></thead><tbody>{}{}{}</tbody>'
                  "</table>").format(ths, EMPTY.join(head), more, EMPTY.join(tail))


def error_block(what: str, exc: BaseException) -> Markup:
    """'Could not load <what>: <error>', tidy: the type and the first line of the message."""
    detail = str(exc).splitlines()[0] if str(exc) else ""
    reason = Markup("{}: {}").format(type(exc).__name__, trunc(detail, 200)) if detail \
        else type(exc).__name__
    return Markup('<div class="pw-error">Could not load {}: {}</div>').format(what, reason)


def try_load(what: str, load: Callable[[], T]) -> tuple[T | None, Markup]:
    """Run a server fetch for a repr: (value, EMPTY) or (None, a tidy error block)."""
    try:
        return load(), EMPTY
    except Exception as exc:  # a repr must never show a traceback; the message says what failed
        return None, error_block(what, exc)


# --------------------------------------------------------------------------- the repr shell


def wrap(body: HTML, *, inline: bool = False) -> Markup:
    """The repr shell: the stylesheet, then the body, once.

    No hidden text copy: GitHub's notebook viewer strips `<style>`, `style` attributes and
    `hidden`, so a copy hidden by any of them showed next to the body. Without styles the
    body reads as plain HTML (headings, tables, definition lists, `<details>`); the text
    is the mimebundle's separate ``text/plain`` part."""
    shell = '<{0} class="pw-root"><style>{1}</style><{0} class="pw-wrap">{2}</{0}></{0}>'
    return Markup(shell).format(Markup("span" if inline else "div"), stylesheet(), body)


def header(kind: str, title: HTML, extra: HTML = EMPTY) -> Markup:
    """The repr's first line: its kind, its title, and `extra` (badges, counts)."""
    return Markup('<div class="pw-header"><span class="pw-kind">{}</span> '
                  '<span class="pw-title">{}</span> {}</div>').format(kind, title, extra)
