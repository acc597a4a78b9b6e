"""Consistency under change, and where the connection settings come from.

A flow run with ~600 task runs is written through the server's REST API with raw httpx (the
library itself never writes); a background thread keeps adding task runs and changing
states while the library exports the run. Every task run that existed before an export
began must be in it exactly once.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from writer import post, writer

from prefect_widgets import Client, ConfigurationError, FlowRunView, TaskRunView, configure
from prefect_widgets.settings import resolve_settings, ui_url_for

INITIAL = 600


def _new_task_run(http: httpx.Client, flow_run_id: str, i: int, state: str = "COMPLETED") -> str:
    body = {"flow_run_id": flow_run_id, "task_key": "consistency-work", "dynamic_key": str(i),
            "name": f"work-{i}", "state": {"type": state, "name": state.title()}}
    return post(http, "/task_runs/", body)["id"]


@pytest.fixture(scope="module")
def big_run(api_url):
    """A RUNNING flow run with INITIAL completed task runs, written through the REST API."""
    with writer(api_url) as http:
        flow_id = post(http, "/flows/", {"name": "consistency-under-change"})["id"]
        flow_run = post(http, "/flow_runs/", {
            "flow_id": flow_id, "name": f"churn-{uuid.uuid4().hex[:6]}",
            "state": {"type": "RUNNING", "name": "Running"}})
        with ThreadPoolExecutor(4) as pool:
            ids = list(pool.map(lambda i: _new_task_run(http, flow_run["id"], i), range(INITIAL)))
    assert len(set(ids)) == INITIAL
    return flow_run["id"], ids


class Churn(threading.Thread):
    """Adds task runs and forces state changes on existing ones until stopped."""

    def __init__(self, api_url: str, flow_run_id: str, existing: list[str]) -> None:
        super().__init__(daemon=True)
        self.api_url, self.flow_run_id, self.existing = api_url, flow_run_id, list(existing)
        self.stop = threading.Event()
        self.created: list[str] = []
        self.state_changes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with writer(self.api_url) as http:
                i = 10_000
                while not self.stop.is_set():
                    i += 1
                    self.created.append(_new_task_run(http, self.flow_run_id, i, "RUNNING"))
                    target = random.choice(self.existing + self.created)
                    state = random.choice(["RUNNING", "FAILED", "COMPLETED", "CRASHED"])
                    post(http, f"/task_runs/{target}/set_state",
                          {"state": {"type": state, "name": state.title()}, "force": True})
                    self.state_changes += 1
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def test_exports_under_concurrent_writes_keep_every_existing_run_once(api_url, big_run):
    flow_run_id, initial_ids = big_run
    churn = Churn(api_url, flow_run_id, initial_ids)
    churn.start()
    exports = 0
    try:
        with Client(api_url) as client:
            run = FlowRunView.from_flow_run_id(flow_run_id, client=client)
            time.sleep(0.3)  # let the churn get going
            for _ in range(3):
                existing = set(initial_ids) | set(churn.created)  # all committed by now
                run = run.get_latest()  # a view is a snapshot: each export reads anew
                frame = run.to_dataframe()
                ids = run.task_run_ids
                listed = [v.task_run_id for v in
                          TaskRunView.query(client=client, flow_run_id=flow_run_id, limit=None)]
                for got in (list(frame.index), ids, listed):
                    assert len(got) == len(set(got)), "duplicate task runs in an export"
                    missing = existing - set(got)
                    assert not missing, f"{len(missing)} existing task runs missing"
                exports += 1
    finally:
        churn.stop.set()
        churn.join(30)
    assert churn.error is None, churn.error
    assert churn.created and churn.state_changes >= 3  # writes really overlapped the exports
    assert exports == 3
    final = FlowRunView.from_flow_run_id(flow_run_id).task_run_ids
    assert set(final) == set(initial_ids) | set(churn.created)


# --------------------------------------------------------------------------- settings

PROFILES = """
active = "local"

[profiles.local]
PREFECT_API_URL = "http://127.0.0.1:4200/api"

[profiles.cloud]
PREFECT_API_URL = "https://api.prefect.cloud/api/accounts/acc-1/workspaces/ws-2"
PREFECT_API_KEY = "pnu_PROFILE_KEY_456"

[profiles.selfhosted]
PREFECT_API_URL = "https://prefect.example.com/api"
PREFECT_API_AUTH_STRING = "ops:PROFILE-PASS"
PREFECT_UI_URL = "https://ui.example.com"
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    (tmp_path / "profiles.toml").write_text(PROFILES)
    return tmp_path


def test_active_profile_is_used_without_env(home):
    s = resolve_settings()
    assert (s.api_url, s.profile, s.api_key) == ("http://127.0.0.1:4200/api", "local", None)
    assert s.ui_url == "http://127.0.0.1:4200"


def test_prefect_profile_selects_a_profile(home, monkeypatch):
    monkeypatch.setenv("PREFECT_PROFILE", "cloud")
    s = resolve_settings()
    assert s.profile == "cloud" and s.api_key == "pnu_PROFILE_KEY_456"
    assert s.ui_url == "https://app.prefect.cloud/account/acc-1/workspace/ws-2"
    assert "pnu_PROFILE_KEY_456" not in repr(s) and "auth=api_key" in repr(s)
    with Client() as c:
        assert c.api_url.endswith("/workspaces/ws-2")
        assert "pnu_PROFILE_KEY_456" not in repr(c)


def test_env_beats_the_active_profile(home, monkeypatch):
    monkeypatch.setenv("PREFECT_PROFILE", "cloud")
    monkeypatch.setenv("PREFECT_API_URL", "http://env-host:4200/api/")
    s = resolve_settings()
    assert s.api_url == "http://env-host:4200/api"  # trailing slash dropped
    assert s.api_key == "pnu_PROFILE_KEY_456"  # unset in env: still from the profile


def test_explicit_beats_env_and_configure(home, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://env-host:4200/api")
    configure(api_url="http://configured:4200/api")
    assert resolve_settings().api_url == "http://configured:4200/api"
    assert resolve_settings(api_url="http://explicit:1/api").api_url == "http://explicit:1/api"
    configure()
    assert resolve_settings().api_url == "http://env-host:4200/api"


def test_an_explicit_profile_wins_over_env(home, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://env-host:4200/api")
    s = resolve_settings(profile="selfhosted")
    assert s.api_url == "https://prefect.example.com/api"
    assert s.auth_string == "ops:PROFILE-PASS" and "PROFILE-PASS" not in repr(s)
    assert s.ui_url == "https://ui.example.com"  # PREFECT_UI_URL from the profile


def test_unknown_profile_lists_known_ones(home, monkeypatch):
    monkeypatch.setenv("PREFECT_PROFILE", "staging")
    with pytest.raises(ConfigurationError) as info:
        resolve_settings()
    assert "'staging'" in str(info.value)
    assert "cloud, local, selfhosted" in str(info.value)
    monkeypatch.delenv("PREFECT_PROFILE")
    with pytest.raises(ConfigurationError, match="known: cloud, local, selfhosted"):
        Client(profile="prod")


def test_profile_file_problems(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    with pytest.raises(ConfigurationError, match="does not exist"):
        resolve_settings(profile="cloud")
    with pytest.raises(ConfigurationError, match="PREFECT_API_URL"):
        resolve_settings()  # no env, no profile: says how to configure
    (tmp_path / "profiles.toml").write_text("active = [broken")
    with pytest.raises(ConfigurationError, match="Cannot read Prefect profiles"):
        resolve_settings()
    other = tmp_path / "elsewhere.toml"
    other.write_text(PROFILES)
    monkeypatch.setenv("PREFECT_PROFILES_PATH", str(other))
    assert resolve_settings().profile == "local"


@pytest.mark.parametrize("url", ["127.0.0.1:4200/api", "ftp://host/api", "localhost"])
def test_api_url_needs_a_scheme(url, home):
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        resolve_settings(api_url=url)


@pytest.mark.parametrize("api_url, ui_url", [
    ("http://127.0.0.1:4200/api", "http://127.0.0.1:4200"),
    ("http://127.0.0.1:4200/api/", "http://127.0.0.1:4200"),
    ("https://prefect.example.com/base/api", "https://prefect.example.com/base"),
    ("https://api.prefect.cloud/api/accounts/a1/workspaces/w2",
     "https://app.prefect.cloud/account/a1/workspace/w2"),
    ("https://api.prefect.cloud/api/accounts/a1/workspaces/w2/",
     "https://app.prefect.cloud/account/a1/workspace/w2"),
    ("https://api.prefect.cloud/api/accounts/a1", None),
    ("https://prefect.example.com/custom", None),
])
def test_ui_url_for(api_url, ui_url):
    assert ui_url_for(api_url) == ui_url


def test_prefect_ui_url_env_wins(home, monkeypatch):
    monkeypatch.setenv("PREFECT_UI_URL", "https://my-ui.example.com")
    assert resolve_settings().ui_url == "https://my-ui.example.com"
