"""The exceptions prefect-widgets raises: catch `PrefectWidgetsError` for all of them."""

from __future__ import annotations

__all__ = [
    "PrefectWidgetsError",
    "ConfigurationError",
    "InvalidRequest",
    "NotFound",
    "Unauthorized",
    "ServerUnreachable",
    "DeadlineExceeded",
    "RedirectRefused",
    "RateLimited",
    "ServerError",
    "BadResponse",
    "IncompleteData",
    "AmbiguousRun",
    "AmbiguousTaskRun",
    "ResultNotAvailable",
    "WatchTimeout",
    "DependencyCycle",
    "DisplayLate",
    "StreamUnavailable",
    "UnsupportedByServer",
]


class PrefectWidgetsError(Exception):
    """Base class of every error raised by prefect-widgets."""


class ConfigurationError(PrefectWidgetsError, ValueError):
    """The API URL, key or profile settings are missing or invalid."""


class InvalidRequest(PrefectWidgetsError, ValueError):
    """The request was rejected as malformed (locally, or by the server with 400/422)."""


class NotFound(PrefectWidgetsError, LookupError, ValueError):
    """The flow run, task run, flow or deployment does not exist on this server.

    Also a `ValueError`, as Prefect 1's `prefect.backend` raised for a missing run.
    """


class Unauthorized(PrefectWidgetsError):
    """The server refused the credentials (401) or the permission (403)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ServerUnreachable(PrefectWidgetsError, ConnectionError):
    """The server could not be reached: refused, DNS, TLS, or timed out after retries."""


class DeadlineExceeded(ServerUnreachable, TimeoutError):
    """One call (connect, the whole answer, retries and their waits) outlived its deadline,
    the client's `timeout=`; the message says what was slow."""


class RedirectRefused(ConfigurationError):
    """The server answered with a redirect, which is never followed (credentials stay with
    the configured URL); `location` is where it pointed, credentials removed."""

    def __init__(self, message: str, location: str) -> None:
        super().__init__(message)
        self.location = location


class ServerError(PrefectWidgetsError):
    """The server kept answering with a 5xx status after the retries were spent."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class RateLimited(ServerError):
    """The server kept answering 429 Too Many Requests after the retries were spent."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class BadResponse(PrefectWidgetsError):
    """The server's answer was not the JSON shape expected from a Prefect 3 API."""


class IncompleteData(BadResponse):
    """Paging ended with fewer rows than the server counted: no partial result is returned."""


class AmbiguousRun(PrefectWidgetsError, LookupError):
    """A name, id prefix or slug matched several runs; the message lists them and says how
    to pick one, `candidates` holds them (the CLI exits with code 2)."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


class AmbiguousTaskRun(AmbiguousRun):
    """A task slug matched several task runs of a flow run."""


class ResultNotAvailable(PrefectWidgetsError):
    """A task or flow run result cannot be loaded; the message says why and what to do."""


class WatchTimeout(PrefectWidgetsError, TimeoutError):
    """`watch_flow_run` ran longer than its `max_duration`."""


class DependencyCycle(BadResponse):
    """The task runs' `upstream_task_run_ids` form a cycle: the server's data is inconsistent.

    `task_run_ids` lists one cycle, in dependency order (upstream first).
    """

    def __init__(self, message: str, task_run_ids: list[str]) -> None:
        super().__init__(message)
        self.task_run_ids = task_run_ids


class DisplayLate(PrefectWidgetsError, TimeoutError):
    """A display's load did not finish within its deadline; the message says so."""


class StreamUnavailable(ServerUnreachable):
    """The server's event or log stream (a websocket) cannot be opened or ended abnormally:
    a proxy that blocks websockets, an older server, or a dropped connection. The REST API
    may still work: poll instead. `refused` is True when the server or a proxy answered the
    upgrade with an HTTP status (retrying soon will not help)."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class UnsupportedByServer(InvalidRequest):
    """The server's Prefect version is too old for what was asked; `feature`,
    `minimum_version` and `server_version` say which and what would work."""

    def __init__(self, feature: str, minimum_version: str, server_version: str) -> None:
        super().__init__(f"{feature} needs a Prefect server {minimum_version} or newer; this "
                         f"server is {server_version}. Upgrade the server, or leave it out.")
        self.feature = feature
        self.minimum_version = minimum_version
        self.server_version = server_version
