"""Load persisted results from the metadata Prefect 3 keeps on the server.

Prefect 3 stores only a result record's *address* in `state.data`; the value lives in
the user's storage. JSON results on local file storage load directly; pickled ones only
with `allow_pickle=True` (unpickling runs code) and `cloudpickle` installed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from .errors import ResultNotAvailable
from .settings import prefect_home
from .states import State

__all__ = ["load_result"]

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
    return str(data["storage_key"])


def _resolve(key: str, storage_path: str | None) -> Path:
    path = Path(key)
    if not path.is_absolute():
        path = Path(storage_path or prefect_home() / "storage") / key
    return path


def _serializer_and_payload(state: State, content: bytes) -> tuple[str | None, Any]:
    """A result file holds either a whole record or, with separate metadata, the bare value."""
    try:
        record = json.loads(content)
        if isinstance(record, dict) and set(record) >= {"metadata", "result"}:
            return record["metadata"]["serializer"]["type"], record["result"]
    except (ValueError, KeyError, TypeError):
        pass
    serializer = (state.data or {}).get("serializer") or {}
    return (serializer.get("type") if isinstance(serializer, dict) else None), content


def load_result(state: State, what: str, *, storage_path: str | None = None,
                allow_pickle: bool = False) -> Any:
    """The value of a Completed state's persisted result, or `ResultNotAvailable`."""
    path = _resolve(_storage_key(state, what), storage_path)
    if not path.is_file():
        raise ResultNotAvailable(
            f"The {what}'s result file {path} does not exist here. Pass storage_path= to point "
            "at the result storage folder, or load it where the flow ran.")
    serializer, payload = _serializer_and_payload(state, path.read_bytes())
    if serializer is None:
        raise ResultNotAvailable(f"The {what}'s result file {path} is not a Prefect result "
                                 "record and the server does not say how it was serialized.")
    if serializer == "json":
        return json.loads(payload)
    if serializer == "pickle":
        if not allow_pickle:
            raise ResultNotAvailable(
                f"The {what}'s result is pickled; unpickling runs arbitrary code. Pass "
                "allow_pickle=True only if you trust whoever wrote it.")
        try:
            import cloudpickle
        except ImportError:
            raise ResultNotAvailable(
                "Loading a pickled result needs `pip install cloudpickle`.") from None
        return cloudpickle.loads(base64.b64decode(payload))
    raise ResultNotAvailable(f"The {what}'s result uses the {serializer!r} serializer, which "
                             "prefect-widgets cannot read; load it with Prefect itself.")
