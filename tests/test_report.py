"""The standalone HTML report against the real server: light, complete, bounded, inert."""

from __future__ import annotations

import json
import re
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from test_debug_display import FAILING, HOSTILE_MARKDOWN
from test_debug_display import _assert_inert as assert_markdown_inert
from test_html import assert_inert, audit
from writer import post, writer

from prefect_widgets import FlowRunView
from prefect_widgets.html import escape
from prefect_widgets.report import LOG_LIMIT, flow_run_report, write_report
from prefect_widgets.report.debugging import ARTIFACT_CHARS
from prefect_widgets.report.sections import LOG_MESSAGE_CHARS
from prefect_widgets.report.timeline import json_script
from prefect_widgets.samples import HOSTILE, MAPPED_SIZE, PIXEL_PNG

ARTIFACTS = Path(__file__).parent / "artifacts"
BLOB = re.compile(r'<script type="application/json" class="pw-report-data">(.*?)</script>', re.S)


def blobs(text: str) -> list[dict]:
    return [json.loads(found) for found in BLOB.findall(text)]


def task_rows(text: str) -> list[str]:
    return re.findall(r'<tr id="run-[0-9a-f-]+-t(\d+)" data-s="', text)


def test_ten_task_run_report_is_small_complete_and_offline(runs, tmp_path):
    view = FlowRunView.from_flow_run_id(runs["slow"])
    text = flow_run_report(view, tmp_path / "slow.html")
    tasks = view.task_runs()
    assert 10 <= len(tasks) <= 12
    assert len(text.encode("utf-8")) <= 100_000  # issue 18: ≤ 500 KB (was 4.8 MB)
    assert "plotly" not in text.lower()
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)  # no fetch
    assert not re.search(r"url\(|@import|https?://(?!docs)", text.split("<body", 1)[0])
    assert len(task_rows(text)) == len(tasks)  # every task run, one row each
    for task in tasks:
        assert f">{task.name}<" in text
    (data,) = blobs(text)
    assert data["names"] == [t.name for t in tasks]
    assert len(data["bars"]) // 7 == len(tasks)  # one bar per task run, none retried
    assert {data["bars"][7 * i] for i in range(len(tasks))} == set(range(len(tasks)))
    assert data["groups"] == [["stage", 0, 1]]  # one task, run in sequence: one lane
    assert text.count("<script") == 2  # the data blob and the report's own code


def test_logs_are_tagged_with_their_task_runs(runs):
    view = FlowRunView.from_flow_run_id(runs["failing"])
    text = flow_run_report(view)
    failed = next(t for t in view.task_runs() if t.task_name == "write_to_warehouse")
    index = [t.task_run_id for t in view.task_runs()].index(failed.task_run_id)
    line = re.search(r'<div class="pw-log-line" data-l="40" data-t="(\d+)">.*?</div>',
                     text.split("<h3>Logs</h3>", 1)[1])
    assert line and int(line.group(1)) == index
    assert f">{failed.name}</span>" in line.group(0)
    assert "Warehouse connection refused" in line.group(0)
    assert "Could not connect to warehouse at db.internal:5432" in text  # failed task message
    assert f'data-task="{index}">' in text  # the task table links to its lines
    assert ">flow run</span>" in text  # the flow's own lines are tagged as such
    assert 'class="pw-badge pw-state-failed"' in text and ">flow nightly-etl<" in text


def test_mapped_run_lists_every_task_run(runs):
    view = FlowRunView.from_flow_run_id(runs["mapped"])
    text = flow_run_report(view)
    assert sorted(map(int, task_rows(text))) == list(range(MAPPED_SIZE))
    assert "more task runs" not in text.split('class="pw-all"', 1)[1]
    (data,) = blobs(text)
    assert len(data["names"]) == MAPPED_SIZE == len({data["bars"][i]
                                                      for i in range(0, len(data["bars"]), 7)})
    assert [g[0] for g in data["groups"]] == ["square"]
    lanes = {}
    for i in range(0, len(data["bars"]), 7):
        lanes.setdefault(data["bars"][i + 1], []).append((data["bars"][i + 2],
                                                          data["bars"][i + 3]))
    for spans in lanes.values():  # concurrent runs of a task never share a lane
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert len(text.encode("utf-8")) < 400_000


def test_retried_task_run_draws_each_attempt(runs):
    text = flow_run_report(FlowRunView.from_flow_run_id(runs["retrying"]))
    (data,) = blobs(text)
    attempts = [data["bars"][i:i + 7] for i in range(0, len(data["bars"]), 7)]
    assert [a[6] for a in attempts] == [1, 2, 3]
    keys = [data["keys"][a[4]] for a in attempts]
    assert keys == ["RETRIED", "RETRIED", "COMPLETED"]
    assert "Failed attempt (retried)" in text


def test_critical_path_slowest_and_subflows_stay(runs):
    diamond = flow_run_report(FlowRunView.from_flow_run_id(runs["diamond"]))
    path = diamond.split("<h3>Critical path</h3>", 1)[1].split("<h3>", 1)[0]
    assert "3 task runs;" in path and ">slow_branch-" in path and ">fast_branch-" not in path
    (data,) = blobs(diamond)
    assert len(data["critical"]) == 3
    slowest = diamond.split("<h3>Slowest task runs</h3>", 1)[1].split("</table>", 1)[0]
    assert slowest.index(">slow_branch-") < slowest.index(">load-")
    parent = FlowRunView.from_flow_run_id(runs["subflow"])
    text = flow_run_report(parent)
    subflows = text.split("<h3>Subflow runs</h3>", 1)[1].split("<details", 1)[0]
    child = next(t for t in parent.task_runs() if t.kind == "subflow-run")
    assert f">{child.name}<" in subflows and 'class="pw-chip pw-subflow"' in subflows


def test_write_report_covers_several_runs(runs, tmp_path):
    views = [FlowRunView.from_flow_run_id(runs[n]) for n in ("hello", "failing", "mapped")]
    text = write_report(views, tmp_path / "all.html").read_text(encoding="utf-8")
    for view in views:
        assert f'href="#run-{view.flow_run_id}"' in text and f'id="run-{view.flow_run_id}"' in text
    assert len(blobs(text)) == 3 and text.count("<script>") == 1  # the code once per file
    assert len(task_rows(text)) == sum(len(v.task_runs()) for v in views)


def test_hostile_report_is_inert(runs, tmp_path):
    view = FlowRunView.from_flow_run_id(runs["hostile"])
    text = flow_run_report(view, tmp_path / "hostile.html")
    found = audit(text)
    assert found.event_attrs == [] and "img" not in found.tags
    assert found.tags.count("script") == text.count("<script") == 2
    assert "&lt;script&gt;window.__pw_xss=1&lt;/script&gt;" in text
    assert_inert(BLOB.sub("", text.split("<body", 1)[1].rsplit("<script>", 1)[0]))
    (data,) = blobs(text)  # the blob holds the raw name; the page never parses it as markup
    assert HOSTILE["img"] in data["names"]
    assert "</" not in BLOB.search(text).group(1)


def test_json_script_cannot_be_broken_out_of():
    payload = {"a": "</script><script>alert(1)</script>", "b": "<!--", "c": "\u2028&"}
    markup = json_script(payload, "x")
    inner = markup.split(">", 1)[1].rsplit("</script>", 1)[0]
    assert "<" not in inner and ">" not in inner and "&" not in inner
    assert json.loads(inner) == payload


def test_huge_names_and_messages_stay_bounded(api_url, tmp_path):
    """Issue 17 item 6: a 5 MB name and message made a 14.8 MB report."""
    huge = "<b>" + "A" * 5_000_000
    now = datetime.now(timezone.utc).isoformat()
    with writer(api_url) as api:
        flow = api.post("/flows/", json={"name": f"huge-report-{uuid.uuid4().hex[:6]}"}).json()
        failed = {"type": "FAILED", "name": "Failed", "message": huge}
        run = api.post("/flow_runs/", json={"flow_id": flow["id"], "name": huge,
                                            "state": failed}).json()
        task = api.post("/task_runs/", json={
            "flow_run_id": run["id"], "task_key": "huge", "dynamic_key": "0", "name": huge,
            "state": failed}).json()
        api.post("/logs/", json=[{"name": "huge", "level": 40, "message": huge,
                                  "timestamp": now, "flow_run_id": run["id"],
                                  "task_run_id": task["id"]}]).raise_for_status()
    text = flow_run_report(FlowRunView.from_flow_run_id(run["id"]), tmp_path / "huge.html")
    assert len(text.encode("utf-8")) < 200_000
    assert f"… ({len(huge):,} characters)" in text  # the log line's visible marker
    assert "A" * (LOG_MESSAGE_CHARS + 1) not in text
    assert "<b>" not in text.split("<body", 1)[1]


def test_three_thousand_task_runs_measured(api_url, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bigrun import build_run

    made = build_run(api_url, 3_000, seed=3, timeout=240)
    text = flow_run_report(FlowRunView.from_flow_run_id(made.flow_run_id))
    size = len(text.encode("utf-8"))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report-3000-bytes.json").write_text(json.dumps({"bytes": size}))
    assert len(task_rows(text)) == 3_000
    assert size < 2_500_000, size
    assert LOG_LIMIT >= 1_000


# ---------------------------------------------------------------- debugging (issue 18)

FOLDED = re.compile(r'<details class="pw-tb-folded">.*?</details>', re.S)


def errors_part(text: str) -> str:
    return text.split('<div class="pw-errors">', 1)[1].split("<h3>Task runs</h3>", 1)[0]


@pytest.mark.parametrize(("sample", "function", "line"), FAILING)
def test_failing_samples_show_the_user_frame_and_final_line(debug_runs, sample, function,
                                                            line, tmp_path):
    view = FlowRunView.from_flow_run_id(debug_runs[sample])
    text = flow_run_report(view, tmp_path / f"{sample}.html")
    errors = errors_part(text)
    shown = FOLDED.sub("", errors.split("Whole traceback text", 1)[0])
    assert f"in {function}" in shown  # the user's frame, outside every fold
    assert re.search(f'<pre class="pw-tb-exception">[^<]*{re.escape(str(escape(line)))}', shown)
    assert "site-packages/prefect/" not in shown  # Prefect's frames are folded
    assert re.search(r'<details class="pw-tb-folded"><summary>\d+ (internal|library)', errors)
    whole = errors.split("Whole traceback text", 1)[1]
    assert "Traceback (most recent call last)" in whole and str(escape(line)) in whole
    assert "title=" not in shown  # nothing tooltip-only
    failure = errors.split('<div class="pw-report-failure">')[1]
    assert "State history" in failure  # the failed task run's own history
    assert len(text.encode("utf-8")) <= 500_000


def test_failed_task_run_history_shows_each_attempt(debug_runs):
    text = flow_run_report(FlowRunView.from_flow_run_id(debug_runs["retries_error"]))
    history = errors_part(text).split("State history", 1)[1].split("</table>", 1)[0]
    assert history.count(">Retrying<") == 2 and history.count(">Failed<") == 1
    assert "attempt 3: the warehouse refused" in history
    assert "<h3>State history</h3><details open><summary>Flow run" in text  # its own


def test_artifacts_of_each_kind_appear_in_the_report(debug_runs, tmp_path):
    view = FlowRunView.from_flow_run_id(debug_runs["artifacts"])
    text = flow_run_report(view, tmp_path / "artifacts.html")
    part = text.split('<div class="pw-artifacts">', 1)[1].split("<h3>", 1)[0]
    task = view.get_task_run("report_artifacts")
    assert f'<h4 class="pw-artifact-owner">task run {task.name}</h4>' in part
    for kind in ("markdown", "table", "link", "progress", "image"):
        assert f'<span class="pw-chip">{kind}</span>' in part, kind
    assert "<h1>Summary</h1>" in part  # markdown rendered
    assert ('<a href="https://docs.prefect.io/" target="_blank" '
            'rel="noopener noreferrer">Prefect docs</a>') in part
    assert part.count("<td>eu</td>") == 2 and part.count("<td>us</td>") == 2  # both tables
    assert '<progress class="pw-progress" max="100" value="42.0">' in part
    assert f'<img class="pw-artifact-img" src="{PIXEL_PNG}"' in part
    assert '<div class="pw-errors">' not in text  # a run that did not fail has no errors


def hostile_artifacts_run(api_url: str) -> str:
    """A failed flow run whose task run made an artifact of each kind, all hostile."""
    with writer(api_url) as api:
        flow = post(api, "/flows/", {"name": f"hostile-artifacts-{uuid.uuid4().hex[:6]}"})
        failed = {"type": "FAILED", "name": "Failed", "message": HOSTILE["script"]}
        run = post(api, "/flow_runs/", {"flow_id": flow["id"], "name": HOSTILE["img"],
                                          "state": failed})
        task = post(api, "/task_runs/", {"flow_run_id": run["id"], "task_key": "t",
                                          "dynamic_key": "0", "name": HOSTILE["img"],
                                          "state": failed})
        contents = [("markdown", HOSTILE_MARKDOWN),
                    ("table", json.dumps([{HOSTILE["img"]: HOSTILE["script"],
                                           "u": HOSTILE["url"]}])),
                    ("markdown", f"[{HOSTILE['img']}]({HOSTILE['url']})"),
                    ("image", HOSTILE["url"]), ("image", "http://insecure.example/a.png"),
                    ("progress", HOSTILE["attr"])]
        for i, (kind, data) in enumerate(contents):
            post(api, "/artifacts/", {"type": kind, "data": data, "flow_run_id": run["id"],
                                       "task_run_id": task["id"] if i % 2 else None,
                                       "description": HOSTILE["img"] + HOSTILE["attr"]})
    return str(run["id"])


def test_hostile_artifacts_in_the_report_are_inert(api_url, tmp_path):
    view = FlowRunView.from_flow_run_id(hostile_artifacts_run(api_url))
    text = flow_run_report(view, tmp_path / "hostile-artifacts.html")
    part = text.split('<div class="pw-artifacts">', 1)[1].split("<h3>", 1)[0]
    assert part.count('class="pw-artifact"') == 6
    assert "image not shown" in part and "&lt;script&gt;" in part
    assert_markdown_inert(part)  # parsed as a browser would: no active element or URL
    body = BLOB.sub("", text.split("<body", 1)[1].rsplit("<script>", 1)[0])
    assert audit(body).event_attrs == []
    assert_inert(body.replace(part, ""))


def test_artifact_content_is_bounded_in_all(api_url):
    with writer(api_url) as api:
        flow = post(api, "/flows/", {"name": f"big-artifacts-{uuid.uuid4().hex[:6]}"})
        run = post(api, "/flow_runs/", {"flow_id": flow["id"], "name": "big",
                                          "state": {"type": "COMPLETED", "name": "Completed"}})
        for _ in range(6):
            post(api, "/artifacts/", {"type": "markdown", "data": "word " * 20_000,
                                       "flow_run_id": run["id"]})
    text = flow_run_report(FlowRunView.from_flow_run_id(run["id"]))
    assert text.count('class="pw-artifact"') == 6
    assert text.count("content left out to keep the report small (100,000 characters)") == 3
    assert len(text.encode("utf-8")) < ARTIFACT_CHARS + 150_000
