"""The server extension's routes under `<base_url>/prefect-widgets/`: authenticated reads only.

Every answer is JSON. A failure is `{"error": {"type": ..., "message": ...}}` with the
library's typed error (`prefect_widgets.errors`) and a status that says whose fault it was;
the Prefect credentials stay in this process and are scrubbed from every message.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from prefect_widgets._version import __version__
from prefect_widgets.client import Client, RetryPolicy
from prefect_widgets.errors import (
    ConfigurationError,
    InvalidRequest,
    NotFound,
    PrefectWidgetsError,
    ServerUnreachable,
    Unauthorized,
)
from prefect_widgets.settings import redact_url

from .runs import PanelQuery, recent_runs, state_counts

__all__ = ["NAMESPACE", "PanelBackend", "route_handlers", "error_body"]

#: the URL namespace below the Jupyter server's base URL
NAMESPACE = "prefect-widgets"
#: each Prefect call's whole deadline (s): the panel polls, a slow answer is a late one
CALL_TIMEOUT = 10.0


class PanelBackend:
    """The one read-only client of the server extension, built on first use from the
    library's settings (arguments none: `configure`, environment, profile)."""

    def __init__(self) -> None:
        self._client: Client | None = None
        self._lock = threading.Lock()

    def client(self) -> Client:
        """The client; `ConfigurationError` (each time) while the settings are unusable."""
        with self._lock:
            if self._client is None:
                self._client = Client(timeout=CALL_TIMEOUT,
                                      retry=RetryPolicy(max_retries=2, max_total=CALL_TIMEOUT))
            return self._client

    def secrets(self) -> tuple[str, ...]:
        return self._client.settings.secrets if self._client is not None else ()


_STATUS: tuple[tuple[type[PrefectWidgetsError], int], ...] = (
    (InvalidRequest, 400), (NotFound, 404), (ConfigurationError, 500),
    (ServerUnreachable, 503), (Unauthorized, 502),
)


def error_body(exc: PrefectWidgetsError, secrets: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of a typed error, any secret in its message replaced."""
    message = redact_url(str(exc))
    for secret in secrets:
        message = message.replace(secret, "***")
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 502)
    return status, {"error": {"type": type(exc).__name__, "message": message}}


class _Handler(APIHandler):
    """GET only (tornado answers 405 for any other verb); JSON in every case."""

    @property
    def backend(self) -> PanelBackend:
        return self.settings["prefect_widgets_backend"]

    async def _answer(self, work: Callable[[], dict[str, Any]]) -> None:
        self.set_header("Cache-Control", "no-store")
        try:
            body = await asyncio.get_running_loop().run_in_executor(None, work)
        except PrefectWidgetsError as exc:
            status, body = error_body(exc, self.backend.secrets())
            self.set_status(status)
        self.finish(json.dumps(body))

    def _query(self) -> PanelQuery:
        """The filters of the query string, less the bare number `ServerConnection` appends
        to bust caches."""
        args = {k: [v.decode("utf-8", "replace") for v in vs]
                for k, vs in self.request.query_arguments.items()
                if not (k.isdigit() and vs == [b""])}
        return PanelQuery.from_args(args)


class HealthHandler(_Handler):
    """The server part's version and where it reads (no Prefect call, no secret)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        def work() -> dict[str, Any]:
            client = self.backend.client()
            return {"version": __version__, "api_url": redact_url(client.api_url),
                    "ui_url": client.ui_url}
        await self._answer(work)


class FlowRunsHandler(_Handler):
    """Recent flow runs matching the query's filters, newest first."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(lambda: recent_runs(self.backend.client(), self._query()))


class CountsHandler(_Handler):
    """Flow-run counts per state type for the query's filters (its `state` ignored)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(lambda: state_counts(self.backend.client(),
                                                replace(self._query(), states=())))


def route_handlers(base_url: str) -> list[tuple[str, type[_Handler]]]:
    """The routes, below `base_url`."""
    return [(url_path_join(base_url, NAMESPACE, path), handler) for path, handler in
            (("health", HealthHandler), ("flow-runs", FlowRunsHandler),
             ("counts", CountsHandler))]
