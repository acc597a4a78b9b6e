"""The disk cache of finished runs (issue 21 item 2), on the real server: a second view costs
one request; two processes at once; servers never mix; a run that finishes between views; a
finished run changed afterwards; corrupted files; private permissions; eviction; opt-out;
the CLI. Runs are made over the REST API here (the library itself never writes)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import httpx
import pandas as pd
import pytest
from conftest import CountingTransport
from typer.testing import CliRunner
from writer import force_state, post, writer

from prefect_widgets.cache import RunCache, disk_cache, server_key
from prefect_widgets.cli import app
from prefect_widgets.client import Client
from prefect_widgets.errors import ConfigurationError
from prefect_widgets.views import FlowRunView

TASKS = 12


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch, _configured) -> Path:
    """A private cache for each test, on (whatever the suite's default), admitting runs as
    soon as they finish."""
    path = tmp_path / "cache"
    monkeypatch.setenv("PREFECT_WIDGETS_CACHE_DIR", str(path))
    monkeypatch.setenv("PREFECT_WIDGETS_CACHE_SETTLE_SECONDS", "0")
    monkeypatch.delenv("PREFECT_WIDGETS_CACHE", raising=False)
    monkeypatch.delenv("PREFECT_WIDGETS_CACHE_MAX_BYTES", raising=False)
    return path


def _make_run(api_url: str, *, finished: bool = True, tasks: int = TASKS
              ) -> tuple[str, list[str]]:
    """A flow run with `tasks` task runs (the first retried once) and a few log lines;
    finished (COMPLETED, every task run COMPLETED) or left RUNNING."""
    with writer(api_url) as http:
        flow = post(http, "/flows/", {"name": "cache-test"})
        run = post(http, "/flow_runs/", {"flow_id": flow["id"], "name": f"c-{uuid.uuid4().hex[:6]}",
                                          "state": {"type": "RUNNING", "name": "Running"}})
        ids = []
        for i in range(tasks):
            task = post(http, "/task_runs/", {
                "flow_run_id": run["id"], "task_key": "work", "dynamic_key": str(i),
                "name": f"work-{i}", "state": {"type": "RUNNING", "name": "Running"}})
            ids.append(task["id"])
        if tasks:
            force_state(http, "task", ids[0], "FAILED")
            force_state(http, "task", ids[0], "RUNNING")
        post(http, "/logs/", [{"name": "test", "level": 20, "message": f"line {i}",
                                "flow_run_id": run["id"], "timestamp": "2026-01-01T00:00:00Z"}
                               for i in range(5)])
        if finished:
            _finish(http, run["id"], ids)
    return run["id"], ids


def _finish(http: httpx.Client, flow_run_id: str, task_ids: list[str]) -> None:
    for task_id in task_ids:
        force_state(http, "task", task_id, "COMPLETED")
    force_state(http, "flow", flow_run_id, "COMPLETED")


def _everything(view: FlowRunView) -> dict:
    """What a view shows of its run: rows, frames, histories, log tail, its own states."""
    data = view.data
    rows = data.task_rows(progress=False)
    histories = data.histories(r["id"] for r in rows)
    return {"rows": sorted(rows, key=lambda r: r["id"]), "tasks": data.tasks(False),
            "timeline": data.timeline(False),
            "histories": {i: [(s.type, s.name, s.timestamp) for s in h]
                          for i, h in sorted(histories.items())},
            "log_tail": [e.message for e in data.log_tail(3)[0]],
            "states": [(s.type, s.name, s.timestamp) for s in view.states]}


def _assert_same(a: dict, b: dict) -> None:
    assert a["rows"] == b["rows"]
    pd.testing.assert_frame_equal(a["tasks"], b["tasks"])
    pd.testing.assert_frame_equal(a["timeline"], b["timeline"])
    assert a["histories"] == b["histories"]
    assert a["log_tail"] == b["log_tail"]
    assert a["states"] == b["states"]


def _counting(api_url: str) -> tuple[Client, CountingTransport]:
    transport = CountingTransport()
    return Client(api_url, transport=transport), transport


def _entry_of(api_url: str, flow_run_id: str):
    """The cache entry of a run as the server holds it now."""
    with writer(api_url) as http:
        run = http.get(f"/flow_runs/{flow_run_id}").json()
    return RunCache.from_env().entry(api_url, flow_run_id, run["updated"], run["state_id"])


def _blobs(cache_dir: Path) -> list[Path]:
    return sorted(p for p in cache_dir.rglob("*") if p.is_file() and p.name != ".lock")


# ---------------------------------------------------------------- the second view


def test_second_view_costs_one_request_and_equals_the_first(api_url, cache_dir):
    flow_run_id, _ = _make_run(api_url)
    first = _everything(FlowRunView.from_flow_run_id(flow_run_id))
    assert _blobs(cache_dir), "a finished, settled run is admitted"
    client, transport = _counting(api_url)
    with client:
        second = _everything(FlowRunView.from_flow_run_id(flow_run_id, client=client))
    assert transport.paths == [f"/api/flow_runs/{flow_run_id}"]
    _assert_same(first, second)
    entry = _entry_of(api_url, flow_run_id)
    pd.testing.assert_frame_equal(entry.read_frame("tasks"), first["tasks"])
    pd.testing.assert_frame_equal(entry.read_frame("timeline"), first["timeline"])
    fresh = _everything(FlowRunView.from_flow_run_id(flow_run_id, cache=False))
    _assert_same(fresh, second)
    assert any(len(h) > 2 for h in second["histories"].values()), "the retried task's history"


def test_settle_window_keeps_a_just_finished_run_out(api_url, cache_dir, monkeypatch):
    monkeypatch.setenv("PREFECT_WIDGETS_CACHE_SETTLE_SECONDS", "3600")
    flow_run_id, _ = _make_run(api_url)
    _everything(FlowRunView.from_flow_run_id(flow_run_id))
    assert _blobs(cache_dir) == []


def test_run_that_finishes_between_views(api_url, cache_dir):
    flow_run_id, task_ids = _make_run(api_url, finished=False)
    running = _everything(FlowRunView.from_flow_run_id(flow_run_id))
    assert set(running["tasks"]["state_type"]) == {"RUNNING"}
    assert _blobs(cache_dir) == [], "an unfinished run is never admitted"
    with writer(api_url) as http:
        _finish(http, flow_run_id, task_ids)
    done = _everything(FlowRunView.from_flow_run_id(flow_run_id))
    assert set(done["tasks"]["state_type"]) == {"COMPLETED"}
    assert _blobs(cache_dir)
    client, transport = _counting(api_url)
    with client:
        again = _everything(FlowRunView.from_flow_run_id(flow_run_id, client=client))
    assert transport.paths == [f"/api/flow_runs/{flow_run_id}"]
    _assert_same(done, again)


def test_finished_run_with_unfinished_task_runs_is_not_admitted(api_url, cache_dir):
    """Dropped events: the flow run says COMPLETED while a task run still says RUNNING."""
    flow_run_id, task_ids = _make_run(api_url, finished=False)
    with writer(api_url) as http:
        _finish(http, flow_run_id, task_ids[1:])
    view = _everything(FlowRunView.from_flow_run_id(flow_run_id))
    assert "RUNNING" in set(view["tasks"]["state_type"])
    client, transport = _counting(api_url)
    with client:
        _everything(FlowRunView.from_flow_run_id(flow_run_id, client=client))
    assert any(p.endswith("/task_runs/filter") for p in transport.paths)


def test_finished_run_changed_afterwards_is_read_again(api_url, cache_dir):
    """A run retried from the UI: its state (and `updated`) change, the cache notices."""
    flow_run_id, task_ids = _make_run(api_url)
    _everything(FlowRunView.from_flow_run_id(flow_run_id))
    with writer(api_url) as http:
        force_state(http, "flow", flow_run_id, "SCHEDULED")
        force_state(http, "task", task_ids[3], "FAILED")
        force_state(http, "flow", flow_run_id, "FAILED")
    client, transport = _counting(api_url)
    with client:
        after = _everything(FlowRunView.from_flow_run_id(flow_run_id, client=client))
    assert any(p.endswith("/task_runs/filter") for p in transport.paths)
    assert after["tasks"].loc[task_ids[3], "state_type"] == "FAILED"
    fresh = _everything(FlowRunView.from_flow_run_id(flow_run_id, cache=False))
    _assert_same(fresh, after)
    client, transport = _counting(api_url)
    with client:  # the new final state is cached in its turn
        _assert_same(fresh, _everything(FlowRunView.from_flow_run_id(flow_run_id, client=client)))
    assert transport.paths == [f"/api/flow_runs/{flow_run_id}"]


# ---------------------------------------------------------------- corruption


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupted_file_is_detected_and_read_again(api_url, cache_dir, damage):
    flow_run_id, _ = _make_run(api_url)
    first = _everything(FlowRunView.from_flow_run_id(flow_run_id))
    for blob in _blobs(cache_dir):
        data = blob.read_bytes()
        if damage == "truncate":
            blob.write_bytes(data[: len(data) // 2])
        elif damage == "flip":
            at = len(data) - 10  # inside the payload, after the header line
            blob.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:])
        else:
            blob.write_bytes(b"\x00garbage\n" + os.urandom(64))
    client, transport = _counting(api_url)
    with client:
        second = _everything(FlowRunView.from_flow_run_id(flow_run_id, client=client))
    _assert_same(first, second)
    assert any(p.endswith("/task_runs/filter") for p in transport.paths)
    client, transport = _counting(api_url)
    with client:  # rewritten whole
        _assert_same(first, _everything(FlowRunView.from_flow_run_id(flow_run_id, client=client)))
    assert transport.paths == [f"/api/flow_runs/{flow_run_id}"]


# ---------------------------------------------------------------- processes, servers


_VIEWER = textwrap.dedent("""
    import hashlib, json, sys
    sys.path.insert(0, {tests!r})
    from conftest import CountingTransport
    from prefect_widgets.client import Client
    from prefect_widgets.views import FlowRunView
    transport = CountingTransport()
    with Client(sys.argv[1], transport=transport) as client:
        view = FlowRunView.from_flow_run_id(sys.argv[2], client=client)
        tasks = view.data.tasks(False)
        rows = view.data.task_rows(False)
    print(json.dumps({{"digest": hashlib.sha256(tasks.to_json().encode()).hexdigest(),
                      "rows": len(rows), "requests": len(transport.paths)}}))
""").format(tests=str(Path(__file__).parent))


def _viewer(api_url: str, flow_run_id: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _VIEWER, api_url, flow_run_id],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())


def _result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_two_processes_at_once(api_url, cache_dir):
    flow_run_id, _ = _make_run(api_url, tasks=300)
    both = [_viewer(api_url, flow_run_id) for _ in range(2)]
    first, second = (_result(p) for p in both)
    assert first["digest"] == second["digest"] and first["rows"] == second["rows"] == 300
    third = _result(_viewer(api_url, flow_run_id))
    assert third == {**first, "requests": 1}
    assert not [p for p in cache_dir.rglob(".tmp-*")], "no temporary file left behind"


def test_servers_never_mix(api_url, cache_dir):
    """The same server under another URL is another server to the cache: never read from
    the first URL's entries."""
    other_url = api_url.replace("127.0.0.1", "localhost")
    assert server_key(other_url) != server_key(api_url)
    flow_run_id, _ = _make_run(api_url)
    first = _everything(FlowRunView.from_flow_run_id(flow_run_id))
    client, transport = _counting(other_url)
    with client:
        other = _everything(FlowRunView.from_flow_run_id(flow_run_id, client=client))
    assert any(p.endswith("/task_runs/filter") for p in transport.paths)
    _assert_same(first, other)
    assert len([p for p in (cache_dir / "v1").iterdir() if p.is_dir()]) == 2


def test_no_credentials_on_disk(api_url, cache_dir):
    secret = "pnu_" + uuid.uuid4().hex
    flow_run_id, _ = _make_run(api_url)
    with Client(api_url, api_key=secret) as client:
        _everything(FlowRunView.from_flow_run_id(flow_run_id, client=client))
    blobs = _blobs(cache_dir)
    assert blobs
    for path in cache_dir.rglob("*"):
        assert secret not in str(path) and "127.0.0.1" not in str(path.relative_to(cache_dir))
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and api_url.encode() not in data


# ---------------------------------------------------------------- files


def test_files_are_private(api_url, cache_dir):
    old = os.umask(0)
    try:
        flow_run_id, _ = _make_run(api_url)
        _everything(FlowRunView.from_flow_run_id(flow_run_id))
    finally:
        os.umask(old)
    paths = [cache_dir, *cache_dir.rglob("*")]
    assert any(p.is_file() for p in paths)
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_eviction_keeps_the_cache_within_its_bound(api_url, cache_dir, monkeypatch):
    runs = [_make_run(api_url)[0] for _ in range(3)]
    _everything(FlowRunView.from_flow_run_id(runs[0]))
    one_run = RunCache.from_env().info().bytes
    bound = int(one_run * 2.5)
    monkeypatch.setenv("PREFECT_WIDGETS_CACHE_MAX_BYTES", str(bound))
    _everything(FlowRunView.from_flow_run_id(runs[1]))
    _everything(FlowRunView.from_flow_run_id(runs[0]))  # used again: runs[1] is now the oldest
    _everything(FlowRunView.from_flow_run_id(runs[2]))
    info = RunCache.from_env().info()
    assert info.bytes <= bound
    held = {p.name for p in (cache_dir / "v1").glob("*/*")}
    assert runs[2] in held and runs[0] in held
    client, transport = _counting(api_url)
    with client:  # the most recently used run is still whole
        _everything(FlowRunView.from_flow_run_id(runs[2], client=client))
    assert transport.paths == [f"/api/flow_runs/{runs[2]}"]


def test_bad_settings_say_what_to_do(monkeypatch):
    monkeypatch.setenv("PREFECT_WIDGETS_CACHE_MAX_BYTES", "lots")
    with pytest.raises(ConfigurationError, match="PREFECT_WIDGETS_CACHE_MAX_BYTES"):
        disk_cache()


# ---------------------------------------------------------------- opting out


def test_opt_out_by_argument_and_by_environment(api_url, cache_dir, monkeypatch):
    flow_run_id, _ = _make_run(api_url)
    _everything(FlowRunView.from_flow_run_id(flow_run_id, cache=False))
    assert _blobs(cache_dir) == []
    monkeypatch.setenv("PREFECT_WIDGETS_CACHE", "0")
    _everything(FlowRunView.from_flow_run_id(flow_run_id))
    assert _blobs(cache_dir) == []
    monkeypatch.delenv("PREFECT_WIDGETS_CACHE")
    _everything(FlowRunView.from_flow_run_id(flow_run_id))
    assert _blobs(cache_dir)
    client, transport = _counting(api_url)
    with client:  # cache=False also reads past what the cache holds
        _everything(FlowRunView.from_flow_run_id(flow_run_id, client=client, cache=False))
    assert any(p.endswith("/task_runs/filter") for p in transport.paths)


# ---------------------------------------------------------------- the CLI


def test_cli_info_and_clear(api_url, cache_dir):
    flow_run_id, _ = _make_run(api_url)
    _everything(FlowRunView.from_flow_run_id(flow_run_id))
    info = CliRunner().invoke(app, ["cache", "info", "--output", "json"])
    assert info.exit_code == 0, info.output
    shown = json.loads(info.output)
    assert shown["path"] == str(cache_dir) and shown["runs"] == 1 and shown["bytes"] > 0
    assert shown["enabled"] is True
    cleared = CliRunner().invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0 and "Cleared the cache" in cleared.output
    assert _blobs(cache_dir) == []
    assert json.loads(CliRunner().invoke(app, ["cache", "info", "--output", "json"]).output
                      )["runs"] == 0
    table = CliRunner().invoke(app, ["cache", "info", "--output", "table"])
    assert table.exit_code == 0 and "0 runs" in table.output
