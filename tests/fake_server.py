"""A small in-process HTTP server that answers like Prefect 3, but odd on request.

For faults a real server cannot produce: missing endpoints, odd timestamps, rows without
ids, lying counts, unknown state types. It serves one flow run and its task runs.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FLOW_RUN_ID = "0190b6d6-6a50-7c1e-9d52-4f1c3b2a1000"
FLOW_ID = "0190b6d6-6a50-7c1e-9d52-4f1c3b2a2000"


def task_run(n: int, state_type: str | None = "COMPLETED", **fields: Any) -> dict[str, Any]:
    """A task-run record as the server sends it (start n s after midnight, 1 s long)."""
    row: dict[str, Any] = {
        "id": f"0190b6d6-6a50-7c1e-9d52-{n:012x}", "name": f"work-{n:03x}",
        "flow_run_id": FLOW_RUN_ID, "task_key": "work-1234abcd", "dynamic_key": f"{n:03x}",
        "state_type": state_type, "state_name": (state_type or "Pending").title(),
        "state": {"type": state_type, "name": (state_type or "Pending").title(),
                  "id": str(uuid.uuid4())} if state_type else None,
        "start_time": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "end_time": f"2026-01-01T00:{(n + 1) // 60 % 60:02d}:{(n + 1) % 60:02d}Z",
        "expected_start_time": "2026-01-01T00:00:00Z", "run_count": 1, "tags": [],
        "task_inputs": {}, "empirical_policy": {}, "total_run_time": 1.0,
    }
    row.update(fields)
    return row


def flow_run(state_type: str = "COMPLETED") -> dict[str, Any]:
    return {"id": FLOW_RUN_ID, "flow_id": FLOW_ID, "name": "odd-run", "state_type": state_type,
            "state_name": state_type.title(), "state": {"type": state_type,
                                                        "name": state_type.title()},
            "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T01:00:00Z",
            "run_count": 1, "tags": [], "parameters": {}}


@dataclass
class Behaviour:
    """What the fake server does: its rows, and how it is odd."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    #: added to the true count (positive: counts rows that are not there)
    count_error: int = 0
    #: answer these path patterns with this status (e.g. {"graph-v2": 404})
    missing: dict[str, int] = field(default_factory=dict)
    flow_run: dict[str, Any] = field(default_factory=flow_run)
    seen: list[str] = field(default_factory=list)


class FakePrefect:
    """`with FakePrefect(behaviour) as fake: Client(fake.api_url)`."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    def __enter__(self) -> FakePrefect:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        b = self.behaviour
        b.seen.append(f"{method} {path}")
        for pattern, status in b.missing.items():
            if re.search(pattern, path):
                return status, {"detail": "Not Found" if status == 404 else "Method Not Allowed"}
        if path == "/api/csrf-token":
            return 422, {"detail": "CSRF protection is disabled."}
        if method == "GET" and path == f"/api/flow_runs/{FLOW_RUN_ID}":
            return 200, b.flow_run
        if method == "GET" and path.startswith("/api/flow_runs/"):
            return 404, {"detail": "Flow run not found"}
        if path == f"/api/flow_runs/{FLOW_RUN_ID}/graph-v2":
            nodes = [[r.get("id"), {"id": r.get("id"), "kind": "task-run",
                                    "state_type": r.get("state_type"),
                                    "start_time": r.get("start_time"),
                                    "end_time": r.get("end_time")}] for r in b.rows]
            return 200, {"nodes": nodes, "artifacts": [], "states": []}
        if path == "/api/task_runs/count":
            return 200, max(0, len(b.rows) + b.count_error)
        if path == "/api/task_runs/filter":
            offset, limit = body.get("offset", 0), body.get("limit", 200)
            return 200, b.rows[offset:offset + limit]
        if path == "/api/task_run_states/":
            return 200, []
        return 404, {"detail": "Not Found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                status, answer = fake._answer(method, self.path.split("?")[0], body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply("GET")

            def do_POST(self) -> None:
                self._reply("POST")

        return Handler
