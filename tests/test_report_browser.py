"""The standalone report in headless Chromium: offline, every bar drawn, filters, themes."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab import offline_page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from test_report import hostile_artifacts_run

from prefect_widgets import FlowRunView
from prefect_widgets.report import flow_run_report
from prefect_widgets.samples import HOSTILE, MAPPED_SIZE

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def report_page(browser, tmp_path):
    """`report_page(flow_run_id, scheme=, javascript=)`: the run's report written once and
    opened offline (`lab.offline_page`) → (page, view, path); pages closed after the test."""
    contexts = []

    def open_report(flow_run_id: str, *, scheme: str = "light", javascript: bool = True):
        view = FlowRunView.from_flow_run_id(flow_run_id)
        path = tmp_path / f"{flow_run_id}.html"
        if not path.exists():
            flow_run_report(view, path)
        page = offline_page(browser, path, scheme=scheme, javascript=javascript)
        contexts.append(page.context)
        return page, view, path

    yield open_report
    for context in contexts:
        context.close()


def canvas_bars(page) -> int:
    page.wait_for_selector(".pw-timeline canvas[data-bars]", state="attached", timeout=10_000)
    return int(page.get_attribute(".pw-timeline canvas", "data-bars"))


#: where the canvas holds a painted bar (CSS pixels, the centre of its first opaque pixel), found
#: by reading its pixels; rows opaque at x = 0 are the group separators, which span the gutter
PAINTED_BAR = """() => {
  const c = document.querySelector('.pw-timeline canvas');
  const ratio = c.width / c.getBoundingClientRect().width;
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const alpha = (x, y) => data[4 * (y * c.width + x) + 3];
  const plotBottom = c.height - 22 * ratio;  // above the time axis
  for (let y = 0; y < plotBottom; y++) {
    if (alpha(0, y) === 255) continue;
    for (let x = Math.ceil(200 * ratio); x < c.width; x++) {
      if (alpha(x, y) === 255) return [(x + 0.5) / ratio, (y + 0.5) / ratio];
    }
  }
  return null;
}"""


def hover_painted_bar(page, tries: int = 5) -> tuple[float, float]:
    """Move the mouse over a painted bar of the timeline until its tooltip shows; that point
    (page pixels). The pixels are read again on each try: a filter's redraw may have moved
    the bars after they were read."""
    canvas = page.locator(".pw-timeline canvas")
    for _ in range(tries):
        canvas.scroll_into_view_if_needed()  # a search box's fill may have scrolled it away
        x, y = page.evaluate(PAINTED_BAR)
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + x, box["y"] + y)
        try:
            page.locator(".pw-tip").wait_for(state="visible", timeout=1000)
        except PlaywrightTimeout:
            page.mouse.move(0, 0)
            continue
        return box["x"] + x, box["y"] + y
    raise AssertionError(f"no tooltip over a painted bar after {tries} tries (last point "
                         f"{x:.1f}, {y:.1f} in the canvas at {box}, viewport "
                         f"{page.viewport_size})")


def visible_rows(page) -> int:
    return page.locator(".pw-all-tasks tbody tr:visible").count()


def test_ten_task_run_report_offline_drawn_and_themed(report_page, runs):
    ARTIFACTS.mkdir(exist_ok=True)
    colours = {}
    for scheme in ("light", "dark"):
        page, view, path = report_page(runs["slow"], scheme=scheme)
        assert canvas_bars(page) == len(view.task_runs())
        assert page.requests == [path.as_uri()]  # the file itself, nothing else
        colours[scheme] = page.evaluate("""() => {
          const c = document.querySelector('.pw-timeline canvas');
          const ctx = c.getContext('2d');
          const data = ctx.getImageData(0, 0, c.width, c.height).data;
          let painted = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
          return {painted, bg: getComputedStyle(document.querySelector('.pw-report'))
                  .backgroundColor};
        }""")
        assert colours[scheme]["painted"] > 1_000
        page.screenshot(path=str(ARTIFACTS / f"report-{scheme}.png"), full_page=False)
        page.locator(".pw-timeline").screenshot(
            path=str(ARTIFACTS / f"report-timeline-{scheme}.png"))
        assert page.errors == []
    assert colours["light"]["bg"] == "rgb(255, 255, 255)"
    assert colours["dark"]["bg"] == "rgb(11, 17, 32)"


def test_search_state_filter_hover_and_click(report_page, runs):
    page, view, _ = report_page(runs["mapped"])
    assert canvas_bars(page) == MAPPED_SIZE
    assert visible_rows(page) == MAPPED_SIZE
    page.locator(".pw-timeline").screenshot(path=str(ARTIFACTS / "report-timeline-mapped.png"))
    task_runs = view.task_runs()
    names = [t.name for t in task_runs]  # Prefect's "square-5fa" suffixes repeat among 450
    target = next(t for t in task_runs if names.count(t.name) == 1)
    page.fill(".pw-task-search", target.name)
    assert visible_rows(page) == 1
    assert page.inner_text(".pw-all-tasks tbody tr:visible td:nth-child(2)") == target.name
    assert page.inner_text(".pw-task-shown") == f"1 of {MAPPED_SIZE} task runs"
    page.fill(".pw-task-search", "")
    options = page.eval_on_selector_all(".pw-state option", "os => os.map(o => o.value)")
    assert options == ["", "completed"]  # the states the run's task runs are in
    page.select_option(".pw-state", "completed")
    assert visible_rows(page) == MAPPED_SIZE
    x, y = hover_painted_bar(page)
    found = page.inner_text(".pw-tip")
    assert found.splitlines()[0].startswith("square-"), found
    page.mouse.click(x, y)
    hit = page.locator("tr.pw-hit")
    assert hit.count() == 1 and hit.locator("td").nth(1).inner_text() == found.splitlines()[0]
    assert page.errors == []


def test_log_filters_by_task_run_and_level(report_page, runs):
    page, _, _ = report_page(runs["failing"])
    lines = page.locator(".pw-log-line:visible")
    total = lines.count()
    assert total >= 3
    page.locator(".pw-log-link").first.click()
    only = lines.count()
    assert 0 < only < total
    assert all("write_to_warehouse" in t or "load_rows" in t
               for t in page.locator(".pw-log-line:visible .pw-log-task").all_inner_texts())
    page.click(".pw-log-only button")
    assert lines.count() == total
    page.select_option(".pw-level", "40")
    assert page.locator(".pw-log-line:visible .pw-log-level").all_inner_texts() == \
        ["ERROR"] * lines.count()
    assert page.errors == []


def test_without_javascript_everything_is_readable(report_page, runs):
    page, _, _ = report_page(runs["mapped"], javascript=False)
    assert visible_rows(page) == MAPPED_SIZE
    assert page.locator(".pw-filter:visible").count() == 0  # no dead controls
    assert "The timeline needs JavaScript" in page.inner_text(".pw-timeline")


def test_hostile_report_executes_nothing(report_page, runs):
    page, _, path = report_page(runs["hostile"])
    assert canvas_bars(page) >= 1
    x, y = hover_painted_bar(page)
    assert page.inner_text(".pw-tip").splitlines()[0] == HOSTILE["img"]  # as text
    page.mouse.click(x, y)
    for selector in (".pw-title", ".pw-badge", "td", ".pw-log-msg"):
        for element in page.locator(selector).all()[:20]:
            element.hover()
    page.fill(".pw-task-search", HOSTILE["img"])
    assert visible_rows(page) >= 1
    page.screenshot(path=str(ARTIFACTS / "report-hostile.png"))
    assert page.evaluate("() => typeof window.__pw_xss") == "undefined"
    assert page.locator("img").count() == 0
    assert page.requests == [path.as_uri()]
    assert page.errors == []


def test_failing_run_report_shows_errors_and_artifacts_in_both_themes(report_page, debug_runs):
    """Issue 18: the user's frame and exception line are visible and copyable text; the
    folded frames open on a click; screenshots kept (report-errors-{light,dark}.png)."""
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme in ("light", "dark"):
        page, _, _ = report_page(debug_runs["task_error"], scheme=scheme)
        errors = page.locator(".pw-errors")
        errors.scroll_into_view_if_needed()
        shown = errors.inner_text()
        assert "in check_row" in shown
        assert "ValueError: boom: row 'x' is not a number" in shown
        colour = page.evaluate("""() => getComputedStyle(
            document.querySelector('.pw-tb-exception')).color""")
        # the palette's failure text (`--pw-failed-text`: AA on either background, test_contrast)
        assert colour == ("rgb(185, 28, 28)" if scheme == "light" else "rgb(252, 165, 165)")
        page.evaluate("() => document.querySelector('h3.pw-state-failed').scrollIntoView()")
        page.screenshot(path=str(ARTIFACTS / f"report-errors-{scheme}.png"))
        folded = page.locator("details.pw-tb-folded").first
        assert not folded.locator("pre").is_visible()
        folded.locator("summary").click()
        assert "site-packages" in folded.locator("pre").inner_text()
        assert page.errors == []
    for scheme in ("light", "dark"):
        page, _, artifacts = report_page(debug_runs["artifacts"], scheme=scheme)
        page.evaluate("() => document.querySelector('.pw-artifacts').scrollIntoView()")
        assert page.locator(".pw-artifacts img").evaluate_all(
            "imgs => imgs.map(i => i.naturalWidth)") == [1, 1]  # drawn, offline
        page.screenshot(path=str(ARTIFACTS / f"report-artifacts-{scheme}.png"))
        assert page.requests == [artifacts.as_uri()]


def test_hostile_artifacts_in_the_report_execute_nothing(report_page, api_url):
    page, _, path = report_page(hostile_artifacts_run(api_url))
    for element in page.locator(".pw-artifacts *").all()[:400]:
        if element.is_visible():
            element.hover()
    for anchor in page.locator(".pw-artifacts a").all():
        href = anchor.get_attribute("href")
        assert href is None or href.startswith(("https://", "http://")), href
        assert anchor.get_attribute("rel") == "noopener noreferrer"
    assert page.locator("img").count() == 0  # none of them came from an allowed URL
    assert page.locator(".pw-artifacts script, iframe, object, embed").count() == 0
    assert page.evaluate("() => typeof window.__pw_xss") == "undefined"
    assert page.requests == [path.as_uri()]
    assert page.errors == []
