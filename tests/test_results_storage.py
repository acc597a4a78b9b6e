"""Results are read only from inside the local result storage folder (issue 17, item 5).

The result address (`storage_key`) comes from the server; these states are built the way
the server sends them, pointing at files this test writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prefect_widgets.errors import InvalidRequest, ResultNotAvailable
from prefect_widgets.results import load_result, storage_root
from prefect_widgets.states import State


def completed(key: str, **data: object) -> State:
    return State.from_json({"type": "COMPLETED", "name": "Completed",
                            "data": {"storage_key": key, **data}})


def record(value: object) -> bytes:
    return json.dumps({"metadata": {"serializer": {"type": "json"}},
                       "result": json.dumps(value)}).encode()


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "storage"
    folder.mkdir()
    monkeypatch.setenv("PREFECT_LOCAL_STORAGE_PATH", str(folder))
    return folder


def test_a_result_inside_the_root_loads_by_absolute_or_relative_key(root):
    (root / "abc").write_bytes(record({"rows": 3}))
    assert load_result(completed(str(root / "abc")), "task run") == {"rows": 3}
    assert load_result(completed("abc"), "task run") == {"rows": 3}


@pytest.mark.parametrize("where", ["absolute", "dotdot", "symlink"])
def test_a_key_outside_the_root_is_refused_unread(root, tmp_path, where):
    secret = tmp_path / "secret.json"
    secret.write_bytes(record({"password": "hunter2"}))
    if where == "absolute":
        key = str(secret)
    elif where == "dotdot":
        key = "../secret.json"
    else:
        (root / "link").symlink_to(secret)
        key = "link"
    with pytest.raises(ResultNotAvailable, match="outside the result storage folder") as info:
        load_result(completed(key), "task run")
    assert "hunter2" not in str(info.value) and "storage_path=" in str(info.value)


def test_system_files_are_never_read(root):
    for key in ("/etc/passwd", "../../../../../../etc/passwd", "~/.ssh/id_rsa"):
        with pytest.raises(ResultNotAvailable, match="outside|does not exist"):
            load_result(completed(key), "task run")


def test_default_root_is_prefect_home_storage(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_LOCAL_STORAGE_PATH", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    assert storage_root() == (tmp_path / "home" / "storage").resolve()


def test_root_from_the_active_profile(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_LOCAL_STORAGE_PATH", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PREFECT_HOME", str(home))
    (home / "profiles.toml").write_text(
        'active = "dev"\n[profiles.dev]\n'
        f'PREFECT_LOCAL_STORAGE_PATH = "{tmp_path / "results"}"\n')
    assert storage_root() == (tmp_path / "results").resolve()


def test_explicit_storage_path_wins(root, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "r").write_bytes(record([1, 2]))
    assert load_result(completed(str(elsewhere / "r")), "x", storage_path=str(elsewhere)) == [1, 2]
    with pytest.raises(ResultNotAvailable, match="outside"):
        load_result(completed(str(elsewhere / "r")), "x")
    with pytest.raises(InvalidRequest, match="storage_path must be"):
        load_result(completed("r"), "x", storage_path=3)  # type: ignore[arg-type]


@pytest.mark.parametrize("content, serializer", [
    (b"\x00\xffnot json at all", "json"),
    (json.dumps({"metadata": {"serializer": {"type": "json"}}, "result": "{oops"}).encode(), None),
    (b"plain text", None),
    (b"%%%", "pickle"),
    (json.dumps({"metadata": {"serializer": {"type": 7}}, "result": "1"}).encode(), None),
])
def test_undecodable_files_are_typed(root, content, serializer):
    (root / "bad").write_bytes(content)
    extra = {"serializer": {"type": serializer}} if serializer else {}
    with pytest.raises(ResultNotAvailable):
        load_result(completed("bad", **extra), "task run", allow_pickle=True)


def test_odd_addresses_are_typed(root):
    (root / "dir").mkdir()
    for key in ("dir", "a\x00b", 42):
        with pytest.raises(ResultNotAvailable):
            load_result(completed(key), "task run")  # type: ignore[arg-type]
