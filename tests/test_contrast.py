"""WCAG contrast computed from the palette, both themes: every state badge (its text on its
colour) and every text colour the package sets on every background it lands on reaches AA,
4.5:1. And the palette is one: `states.STATE_COLORS` / `STATE_COLORS_DARK` is the source;
repr.css, report.css and the widget's `js/src/states.ts` must equal it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prefect_widgets.states import STATE_COLORS, STATE_COLORS_DARK, STATE_GLYPHS, STATE_TYPES

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "prefect_widgets" / "resources"
AA = 4.5
WHITE, NEAR_BLACK = "#ffffff", "#111111"

#: JupyterLab 4's own backgrounds (--jp-layout-color0/1/2 of its light and dark themes):
#: the package's fixed text colours land on them inside notebooks
JUPYTERLAB = {"light": ("#ffffff", "#ffffff", "#eeeeee"), "dark": ("#111111", "#212121", "#424242")}


def rgb(css: str, over: tuple[float, float, float] = (255, 255, 255)) -> tuple[float, ...]:
    """#rrggbb or rgba(r, g, b, a) (composited over `over`) as an RGB triple."""
    css = css.strip().lower()
    if css.startswith("#") and len(css) == 7:
        return tuple(int(css[i:i + 2], 16) for i in (1, 3, 5))
    m = re.fullmatch(r"rgba?\(([^)]*)\)", css)
    assert m, f"not a colour: {css!r}"
    r, g, b, *a = (float(p) for p in m[1].split(","))
    alpha = a[0] if a else 1.0
    return tuple(alpha * c + (1 - alpha) * o for c, o in zip((r, g, b), over))


def luminance(colour: tuple[float, ...]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(text: str, background: str) -> float:
    bg = rgb(background)
    lighter, darker = sorted((luminance(rgb(text, bg)), luminance(bg)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def variables(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*([^;]+);", block))


def fallback(value: str) -> str:
    """The last literal colour in a `var(--x, var(--y, #abc))` chain."""
    found = re.findall(r"#[0-9a-fA-F]{6}|rgba?\([^)]*\)", value)
    assert found, f"no fallback colour in {value!r}"
    return found[-1]


def repr_css() -> dict[str, dict[str, str]]:
    """repr.css's light (`.pw-root {`) and dark (theme selectors) variable blocks."""
    css = (RESOURCES / "repr.css").read_text(encoding="utf-8")
    light = re.search(r"^\.pw-root \{(.*?)^\}", css, re.S | re.M)
    dark = re.search(r"body\.vscode-dark \.pw-root \{(.*?)^\}", css, re.S | re.M)
    assert light and dark
    return {"light": variables(light[1]), "dark": variables(dark[1])}


def report_dark() -> dict[str, str]:
    css = (RESOURCES / "report.css").read_text(encoding="utf-8")
    block = re.search(r"prefers-color-scheme: dark\) \{\s*\.pw-root\.pw-report \{(.*?)\}", css, re.S)
    assert block
    return variables(block[1])


def ts_table(name: str) -> dict[str, str]:
    """A `Record<StateType, string>` constant of js/src/states.ts, \\u escapes decoded."""
    source = (ROOT / "js" / "src" / "states.ts").read_text(encoding="utf-8")
    body = re.search(rf"export const {name}\b[^=]*= \{{(.*?)\}};", source, re.S)
    assert body, name
    return {k: v.encode().decode("unicode_escape") for k, v in
            re.findall(r'([A-Z]+): "([^"]*)"', body[1])}


def badge_text_colour(background: str) -> str:
    """`badgeTextColor` of js/src/states.ts: white or near-black, whichever contrasts more."""
    return WHITE if contrast(WHITE, background) >= contrast(NEAR_BLACK, background) \
        else NEAR_BLACK


PALETTES = {"light": STATE_COLORS, "dark": STATE_COLORS_DARK}


# --------------------------------------------------------------------------- one palette


def test_the_stylesheets_hold_the_one_palette():
    blocks = repr_css()
    for theme, palette in PALETTES.items():
        held = {s: blocks[theme][f"pw-{s.lower()}"].strip() for s in STATE_TYPES}
        assert held == palette, theme
    dark = report_dark()
    shared = [k for k in blocks["dark"] if k.startswith(("pw-log-", "pw-badge-"))
              or k == "pw-failed-text" or k[3:].upper() in STATE_TYPES]
    assert shared and {k: dark[k] for k in shared} == {k: blocks["dark"][k] for k in shared}


def test_the_widget_holds_the_one_palette_and_glyphs():
    for name, table in (("LIGHT_PALETTE", STATE_COLORS), ("DARK_PALETTE", STATE_COLORS_DARK)):
        assert {k: v.lower() for k, v in ts_table(name).items()} == table, name
    assert ts_table("STATE_GLYPHS") == STATE_GLYPHS


# --------------------------------------------------------------------------- badges


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_repr_and_report_badges_reach_aa(theme):
    css = repr_css()[theme]
    for state in STATE_TYPES:
        background = PALETTES[theme][state]
        text = css["pw-badge-fg-amber" if state == "SCHEDULED" else "pw-badge-fg"]
        assert contrast(text, background) >= AA, (theme, state, text, background)
    unknown = css["pw-cancelling"]  # a state type Prefect 3.8 does not define
    assert contrast(css["pw-badge-fg"], unknown) >= AA


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_widget_badges_and_bar_labels_reach_aa(theme):
    """The header badge and the labels on timeline bars both take `badgeTextColor`."""
    for state, background in PALETTES[theme].items():
        text = badge_text_colour(background)
        assert contrast(text, background) >= AA, (theme, state, background)


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_fixed_text_colours_reach_aa_on_every_background(theme):
    """Colours the package fixes (failure text, log levels) on its own backgrounds, the
    standalone report's and JupyterLab's."""
    css = repr_css()[theme]
    backgrounds = {fallback(css["pw-bg"]), fallback(css["pw-bg2"]), *JUPYTERLAB[theme]}
    if theme == "dark":
        backgrounds |= {fallback(report_dark()["pw-bg"]), fallback(report_dark()["pw-bg2"])}
    levels = ["pw-log-info", "pw-log-warning", "pw-log-error", "pw-log-critical"]
    for name in ["pw-failed-text", *levels]:
        value = css.get(name) or repr_css()["light"][name]
        for background in backgrounds:
            assert contrast(value, background) >= AA, (theme, name, value, background)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_fallback_text_colours_reach_aa_on_fallback_backgrounds(theme):
    """Outside JupyterLab (plain HTML, nbviewer) the stylesheet's fallbacks meet each other:
    body text, muted text, links and muted log lines on both backgrounds."""
    css = repr_css()[theme]
    backgrounds = [fallback(css["pw-bg"]), fallback(css["pw-bg2"])]
    for name in ("pw-fg", "pw-fg2", "pw-link"):
        for background in backgrounds:
            text = rgb(fallback(css[name]), rgb(background))
            hex_text = "#" + "".join(f"{round(c):02x}" for c in text)
            assert contrast(hex_text, background) >= AA, (theme, name, background)


def test_widget_fallback_colours_reach_aa():
    """The widget's stylesheet and canvas theme fallbacks (no JupyterLab variables)."""
    css = (ROOT / "js" / "src" / "widget.css").read_text(encoding="utf-8")
    root = variables(re.search(r"^\.pw-widget \{(.*?)^\}", css, re.S | re.M)[1])
    dark = variables(re.search(r"^\.pw-widget\.pw-dark \{(.*?)^\}", css, re.S | re.M)[1])
    for background in (fallback(root["pw-bg"]), fallback(root["pw-bg2"])):
        for name in ("pw-fg", "pw-muted", "pw-accent"):
            assert contrast(fallback(root[name]), background) >= AA, (name, background)
    assert contrast(fallback(root["pw-error-fg"]), fallback(root["pw-error-bg"])) >= AA
    assert contrast(fallback(dark["pw-error-fg"]), fallback(dark["pw-error-bg"])) >= AA
    theme = (ROOT / "js" / "src" / "theme.ts").read_text(encoding="utf-8")
    background = re.search(r'prefersDark \? "(#\w+)" : "(#\w+)"', theme)
    assert background
    for name in ("fg", "muted", "accent"):
        colours = re.search(rf'const {name} =.*?\(dark \? "(#\w+)" : "(#\w+)"\)', theme)
        assert colours, name
        assert contrast(colours[1], background[1]) >= AA, (name, "dark")
        assert contrast(colours[2], background[2]) >= AA, (name, "light")


def test_contrast_is_computed_as_wcag_defines_it():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the AA grey
    assert contrast("rgba(0, 0, 0, 0.6)", "#ffffff") == pytest.approx(contrast("#666666", "#ffffff"),
                                                                      abs=0.02)
    assert contrast("#16a34a", "#ffffff") < AA  # the old Completed failed with white text
