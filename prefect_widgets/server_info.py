"""The Prefect version of the server a client talks to, and what older servers lack.

`GET /api/admin/version` answers a plain version string ("3.8.8", "2.20.27") on every
supported server; `server_version(client)` reads it once per client. `require(client, feature)`
raises `UnsupportedByServer` naming the minimum version when the server is older.
"""

from __future__ import annotations

import re
import weakref

from .client import AsyncClient, Call, Client, Operation
from .errors import UnsupportedByServer

__all__ = ["MINIMUM", "read_version", "server_version", "version_tuple", "older_than",
           "require"]

#: the first server version that has each feature the library may ask for
MINIMUM: dict[str, str] = {
    # Prefect 2's task-run filter has no `expected_start_time` (422)
    "task-run expected_start_time filter": "3.0.0",
}


def read_version() -> Operation[str]:
    """The server's version string ("unknown" if it answers something else)."""
    answer = yield Call("GET", "/admin/version", not_found=(
        "The server has no /admin/version endpoint (404): is PREFECT_API_URL the API of a "
        "Prefect server?"))
    return str(answer).strip() if isinstance(answer, str) and answer.strip() else "unknown"


def version_tuple(version: str) -> tuple[int, ...]:
    """(major, minor, patch) of a version string; () when it does not start with digits."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
    return tuple(int(part) for part in match.groups() if part is not None) if match else ()


def older_than(version: str, minimum: str) -> bool:
    """Whether `version` is known to be older than `minimum` (unknown versions are not)."""
    found = version_tuple(version)
    return bool(found) and found < version_tuple(minimum)


_VERSIONS: weakref.WeakKeyDictionary[Client | AsyncClient, str] = weakref.WeakKeyDictionary()


def server_version(client: Client) -> str:
    """The server's version, read once per client."""
    if client not in _VERSIONS:
        _VERSIONS[client] = client.run(read_version())
    return _VERSIONS[client]


def require(client: Client, feature: str) -> None:
    """`UnsupportedByServer` when the server is older than `feature` needs."""
    minimum = MINIMUM[feature]
    version = server_version(client)
    if older_than(version, minimum):
        raise UnsupportedByServer(feature, minimum, version)
