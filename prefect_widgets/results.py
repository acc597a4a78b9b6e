"""Load persisted results from the metadata Prefect 3 keeps on the server.

Prefect 3 stores only a result record's *address* in `state.data`; the value lives in
the user's storage. JSON results on local file storage load directly; pickled ones only
with `allow_pickle=True` (unpickling runs code) and `cloudpickle` installed.

The address comes from the server, so it is trusted only inside the local result storage
folder (`storage_root`): a key pointing elsewhere (absolute, `../`, or through a symlink) is
refused, never read.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any

from .errors import InvalidRequest, ResultNotAvailable
from .settings import _profile_values, prefect_home
from .states import State

__all__ = ["load_result", "storage_root"]

_HOW_TO_PERSIST = ("Persist it with @task(persist_result=True, result_serializer='json') (or "
                   "PREFECT_RESULTS_PERSIST_BY_DEFAULT=true) and run it again.")


def _storage_key(state: State, what: str) -> str:
    data = state.data
    if not state.is_completed():
        raise ResultNotAvailable(f"The {what} is {state.name}, not Completed: it has no result.")
    if not isinstance(data, dict) or not data.get("storage_key"):
        raise ResultNotAvailable(f"The {what} has no persisted result. {_HOW_TO_PERSIST}")
    block = data.get("storage_block_id")
    if block:
        raise ResultNotAvailable(
            f"The {what}'s result is stored in a remote storage block ({block}); load it with "
            "Prefect itself (e.g. `prefect.results.ResultRecord`) where that storage is reachable.")
    key = data["storage_key"]
    if not isinstance(key, str):
        raise ResultNotAvailable(f"The {what}'s result address from the server is not a "
                                 f"string: {key!r:.60}.")
    return key


def storage_root(storage_path: str | os.PathLike[str] | None = None) -> Path:
    """The folder results are read from, symlinks resolved: `storage_path`, else
    `PREFECT_LOCAL_STORAGE_PATH` (environment, then the active profile), else
    `$PREFECT_HOME/storage` (Prefect's own default)."""
    if storage_path is not None and not isinstance(storage_path, (str, os.PathLike)):
        raise InvalidRequest(f"storage_path must be a folder path (str or Path), not "
                             f"{type(storage_path).__name__}.")
    configured = storage_path or os.environ.get("PREFECT_LOCAL_STORAGE_PATH") \
        or _profile_values(None)[1].get("PREFECT_LOCAL_STORAGE_PATH")
    try:
        return Path(configured or prefect_home() / "storage").expanduser().resolve()
    except (OSError, ValueError) as exc:
        raise ResultNotAvailable(f"The result storage folder {configured!r} is not a usable "
                                 f"path ({exc}).") from None


def _resolve(key: str, what: str, storage_path: str | None) -> Path:
    """The result file `key` names, only if it lies inside `storage_root`."""
    root = storage_root(storage_path)
    try:
        path = (root / key).resolve()  # an absolute key replaces the root
    except (OSError, ValueError) as exc:
        raise ResultNotAvailable(f"The {what}'s result address {key[:200]!r} is not a usable "
                                 f"path ({exc}).") from None
    if not path.is_relative_to(root):
        raise ResultNotAvailable(
            f"The {what}'s result address {key[:200]!r} points outside the result storage "
            f"folder {root}; prefect-widgets reads results only inside it. If the result "
            "really lives there, pass storage_path= (or set PREFECT_LOCAL_STORAGE_PATH) to "
            "that folder.")
    return path


def _serializer_and_payload(state: State, content: bytes) -> tuple[str | None, Any]:
    """A result file holds either a whole record or, with separate metadata, the bare value."""
    try:
        record = json.loads(content)
        if isinstance(record, dict) and set(record) >= {"metadata", "result"}:
            serializer = record["metadata"]["serializer"]["type"]
            return (serializer if isinstance(serializer, str) else None), record["result"]
    except (ValueError, KeyError, TypeError, RecursionError):
        pass
    serializer = (state.data or {}).get("serializer") or {}
    return (serializer.get("type") if isinstance(serializer, dict) else None), content


def load_result(state: State, what: str, *, storage_path: str | None = None,
                allow_pickle: bool = False) -> Any:
    """The value of a Completed state's persisted result, or `ResultNotAvailable`."""
    path = _resolve(_storage_key(state, what), what, storage_path)
    if not path.is_file():
        raise ResultNotAvailable(
            f"The {what}'s result file {path} does not exist here. Pass storage_path= to point "
            "at the result storage folder, or load it where the flow ran.")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ResultNotAvailable(f"The {what}'s result file {path} cannot be read "
                                 f"({exc.strerror or exc}).") from None
    serializer, payload = _serializer_and_payload(state, content)
    if serializer is None:
        raise ResultNotAvailable(f"The {what}'s result file {path} is not a Prefect result "
                                 "record and the server does not say how it was serialized.")
    if serializer == "json":
        try:
            return json.loads(payload)
        except (ValueError, TypeError, RecursionError):
            raise ResultNotAvailable(f"The {what}'s result file {path} says it holds JSON, but "
                                     "its value is not valid JSON.") from None
    if serializer == "pickle":
        if not allow_pickle:
            raise ResultNotAvailable(
                f"The {what}'s result is pickled; unpickling runs arbitrary code. Pass "
                "allow_pickle=True only if you trust whoever wrote it.")
        try:
            import cloudpickle
        except ImportError:
            raise ResultNotAvailable("Loading a pickled result needs cloudpickle: "
                                     "`pip install 'prefect-widgets[pickle]'`.") from None
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ResultNotAvailable(f"The {what}'s pickled result in {path} is not valid "
                                     "base64.") from None
        return cloudpickle.loads(raw)
    raise ResultNotAvailable(f"The {what}'s result uses the {serializer!r} serializer, which "
                             "prefect-widgets cannot read; load it with Prefect itself.")
