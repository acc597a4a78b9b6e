"""The same run in Prefect's own UI and in the widget, side by side (issue 19's acceptance).

An 8-task ETL run (two extracts in parallel, cleaning, a join, an aggregate, a check, a
load) runs against the session's Prefect 3.8.8 server, which serves its UI at `/`
(`PREFECT_UI_API_URL` points it at the API: `prefect_widgets.server.LocalServer.env`).
Headless Chromium screenshots Prefect's run page (its run graph at the top) and the built
widget on the standalone harness page (`benchmarks/widget_harness.py`, the timeline the
real `FlowRunWidget` encodes); one page shows both and is screenshotted into one PNG.
Artefacts, in `$PW_ARTIFACTS` or tests/artifacts/: side-by-side-prefect-ui.png,
side-by-side-widget.png, side-by-side.html and side-by-side.png.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import PrefectServer

from prefect_widgets.samples import wait_until_recorded
from prefect_widgets.widget import FlowRunWidget

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from widget_harness import harness_html  # noqa: E402

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("PW_ARTIFACTS") or Path(__file__).parent / "artifacts")
TASKS = ["extract_orders", "extract_customers", "clean_orders", "clean_customers",
         "join_tables", "aggregate_by_region", "validate_totals", "load_warehouse"]

ETL_FLOW = '''
import time
from prefect import flow, task

@task
def extract_orders():
    time.sleep(0.6)
    return [{"order": i, "customer": i % 3, "amount": 10.0 * i} for i in range(12)]

@task
def extract_customers():
    time.sleep(0.4)
    return [{"customer": c, "region": r} for c, r in enumerate(["eu", "us", "apac"])]

@task
def clean_orders(orders):
    time.sleep(0.3)
    return [o for o in orders if o["amount"] > 0]

@task
def clean_customers(customers):
    time.sleep(0.2)
    return customers

@task
def join_tables(orders, customers):
    time.sleep(0.5)
    regions = {c["customer"]: c["region"] for c in customers}
    return [{**o, "region": regions[o["customer"]]} for o in orders]

@task
def aggregate_by_region(rows):
    time.sleep(0.4)
    totals = {}
    for row in rows:
        totals[row["region"]] = totals.get(row["region"], 0.0) + row["amount"]
    return totals

@task
def validate_totals(totals):
    time.sleep(0.2)
    return all(v >= 0 for v in totals.values())

@task
def load_warehouse(totals, valid):
    time.sleep(0.3)
    return len(totals) if valid else 0

@flow(name="etl-side-by-side")
def etl():
    orders, customers = extract_orders.submit(), extract_customers.submit()
    joined = join_tables(clean_orders.submit(orders), clean_customers.submit(customers))
    totals = aggregate_by_region(joined)
    return load_warehouse(totals, validate_totals(totals))

print("RUN", etl(return_state=True).state_details.flow_run_id)
'''

SIDE_BY_SIDE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title><style>
  body {{ margin: 0; padding: 16px; background: #fff; font: 15px system-ui, sans-serif; }}
  main {{ display: flex; gap: 16px; align-items: flex-start; width: 2400px; }}
  figure {{ margin: 0; flex: 1; }}
  figcaption {{ font-weight: 600; margin-bottom: 8px; }}
  img {{ width: 100%; border: 1px solid #999; }}
</style></head><body><main>
  <figure><figcaption>Prefect's UI (3.8.8): run page</figcaption><img src="{left}"></figure>
  <figure><figcaption>prefect_widgets: FlowRunWidget</figcaption><img src="{right}"></figure>
</main></body></html>"""


@pytest.fixture(scope="module")
def etl_run(prefect_server) -> str:
    """The 8-task ETL run on the session's server, every task run recorded: its id."""
    if not isinstance(prefect_server, PrefectServer):
        pytest.skip("creates a flow run; a nested run only reads the outer session's server")
    done = subprocess.run([sys.executable, "-c", ETL_FLOW], env=prefect_server.env(),
                          capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.split("RUN ")[-1].strip()
    wait_until_recorded(prefect_server.api_url, [run_id])
    return run_id


def _task_run_names(api_url: str, run_id: str) -> list[str]:
    body = {"flow_runs": {"id": {"any_": [run_id]}}, "limit": 200}
    answer = httpx.post(f"{api_url}/task_runs/filter", json=body, timeout=30)
    answer.raise_for_status()
    return sorted(row["name"] for row in answer.json())


def _prefect_run_page(browser: Any, api_url: str, run_id: str, path: Path) -> dict[str, Any]:
    """Screenshot Prefect's run page for `run_id` into `path`, once its graph has its nodes
    and the logs name every task run; the page's text and the graph's node labels."""
    ui = api_url.removesuffix("/api")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        with page.expect_response(lambda r: r.url.endswith(f"/flow_runs/{run_id}/graph-v2"),
                                  timeout=60_000) as graph:
            page.goto(f"{ui}/runs/flow-run/{run_id}")
        nodes = graph.value.json()["nodes"]
        page.wait_for_selector("canvas", timeout=30_000)
        page.wait_for_function(
            "(names) => names.every((n) => document.body.innerText.includes(n))",
            arg=[node["label"] for _, node in nodes], timeout=30_000, polling=200)
        page.wait_for_timeout(3_000)  # the graph's layout worker and its first frames
        page.screenshot(path=str(path))
        return {"text": page.inner_text("body"), "labels": sorted(n["label"] for _, n in nodes)}
    finally:
        context.close()


def _widget_page(browser: Any, run_id: str, path: Path) -> dict[str, Any]:
    """Screenshot the built widget showing `run_id` (dark theme, like Prefect's page) into
    `path`; its gutter labels and bar count."""
    widget = FlowRunWidget(run_id, live=False)
    try:
        html = harness_html(widget.timeline, widget.header, theme="dark", width=1370,
                            auto_details=False)
    finally:
        widget.close()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.set_content(html)
        page.wait_for_function("() => window.__harness", timeout=30_000)
        page.evaluate("() => window.__harness.mount()")
        page.wait_for_timeout(300)
        page.locator(".pw-widget").screenshot(path=str(path))
        labels = page.locator(".pw-gutter .pw-group-name").all_inner_texts()
        return {"labels": labels, "bars": int(page.locator(".pw-widget").get_attribute("data-bars")),
                "errors": errors}
    finally:
        context.close()


def test_the_same_run_in_prefects_ui_and_in_the_widget(browser, api_url, etl_run):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    names = _task_run_names(api_url, etl_run)
    assert sorted(name.rsplit("-", 1)[0] for name in names) == sorted(TASKS)

    prefect = _prefect_run_page(browser, api_url, etl_run, ARTIFACTS / "side-by-side-prefect-ui.png")
    assert prefect["labels"] == names  # Prefect's graph holds the run's eight task runs
    assert "etl-side-by-side" in prefect["text"] and "8 Task runs" in prefect["text"]
    assert all(name in prefect["text"] for name in names)  # named on the page (its logs)

    ours = _widget_page(browser, etl_run, ARTIFACTS / "side-by-side-widget.png")
    assert ours["errors"] == []
    assert ours["bars"] == 8
    assert sorted(ours["labels"]) == sorted(TASKS)  # one gutter label per task, all readable
    assert ours["labels"][:2] == ["extract_orders", "extract_customers"] or \
        ours["labels"][:2] == ["extract_customers", "extract_orders"]  # first start first
    assert ours["labels"][-1] == "load_warehouse"

    pictures = {side: "data:image/png;base64," + base64.b64encode(
        (ARTIFACTS / f"side-by-side-{side}.png").read_bytes()).decode()
        for side in ("prefect-ui", "widget")}
    title = f"Flow run {etl_run}: Prefect's UI and the widget"
    (ARTIFACTS / "side-by-side.html").write_text(SIDE_BY_SIDE.format(
        title=title, left="side-by-side-prefect-ui.png", right="side-by-side-widget.png"))
    context = browser.new_context(viewport={"width": 2432, "height": 900})
    page = context.new_page()
    try:
        page.set_content(SIDE_BY_SIDE.format(title=title, left=pictures["prefect-ui"],
                                             right=pictures["widget"]))
        page.wait_for_function("() => [...document.images].every((i) => i.complete"
                               " && i.naturalWidth > 0)", timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "side-by-side.png"), full_page=True)
    finally:
        context.close()
    assert (ARTIFACTS / "side-by-side.png").stat().st_size > 50_000
