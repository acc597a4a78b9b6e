"""The tests' own writes to a Prefect server (the library never writes): a raw httpx client
that waits out a busy SQLite (503, a 500 "database is locked", a dropped connection), which any
write can meet while the server records other runs."""
from __future__ import annotations

import time
from typing import Any

import httpx

#: how long a write waits for SQLite to be free before its 503 is the answer
BUSY_BUDGET = 60.0


BUSY = (500, 503)


class _WaitWhileBusy(httpx.HTTPTransport):
    """Sends a request again, backing off, while the server is busy."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + BUSY_BUDGET
        delay = 0.05
        while True:
            last_try = time.monotonic() + delay > deadline
            try:
                response = super().handle_request(request)
            except httpx.TransportError:
                if last_try:
                    raise
            else:
                if response.status_code not in BUSY or last_try:
                    return response
                response.close()
            time.sleep(delay)
            delay = min(2.0, delay * 2)


def writer(api_url: str, timeout: float = 60) -> httpx.Client:
    """A client for a test's writes to the server at `api_url`."""
    return httpx.Client(base_url=api_url, timeout=timeout, transport=_WaitWhileBusy())


def post(http: httpx.Client, path: str, body: object) -> Any:
    """One write; its JSON answer (an empty dict for none). A refusal fails the test with the
    server's reason."""
    response = http.post(path, json=body)
    if response.is_error:
        answer = response.json() if response.content else {}
        detail = answer.get("exception_detail", []) if isinstance(answer, dict) else []
        raise AssertionError((path, response.status_code,
                              [{k: v for k, v in d.items() if k != "input"} for d in detail]))
    return response.json() if response.content else {}


def force_state(http: httpx.Client, kind: str, run_id: str, state_type: str) -> None:
    """Set a `kind` ("flow" or "task") run's state, whatever its current one."""
    post(http, f"/{kind}_runs/{run_id}/set_state",
         {"state": {"type": state_type, "name": state_type.title()}, "force": True})
