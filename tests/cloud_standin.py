"""A loopback stand-in that answers like Prefect Cloud, in front of the real test server.

Built on `FaultProxy` (so faults can still be armed): workspace URLs
`/api/accounts/{account}/workspaces/{workspace}/...` are forwarded to the real server's
`/api/...`; every request needs `Authorization: Bearer <key>` (401 without or with an unknown
key, 403 with a key of another workspace); POSTs to `.../filter` and `.../count` are rate limited
like Cloud's (429 with `Retry-After` past `rate_limit` requests per `rate_window` seconds); the
websockets `/events/out` and `/logs/out` need Prefect Cloud's handshake: the "prefect"
subprotocol, then `{"type": "auth", "token": <key>}` answered by `{"type": "auth_success"}` or a
close with code 1008 — as Prefect 3.8.8's own subscribers expect
(`prefect/events/clients.py`, `PrefectEventSubscriber._reconnect`) — and only then the filter,
which is relayed to the real server's socket.
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from fault_proxy import FaultProxy
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.server import ServerConnection, serve

WORKSPACE_PATH = re.compile(r"/api/accounts/([^/]+)/workspaces/([^/]+)(/.*)?")
SOCKET_PATHS = ("/events/out", "/logs/out")
POLICY_VIOLATION = 1008  # the close code Prefect's servers use for a refused auth message


@dataclass
class SocketSeen:
    """One websocket the stand-in accepted: its path and the messages the client sent."""

    path: str
    messages: list[dict]


class CloudStandin(FaultProxy):
    """`with CloudStandin(api_url, keys={"pnu_a": ("acct", "ws")}) as cloud:` then use
    `cloud.workspace_url("acct", "ws")` with one of the keys."""

    def __init__(self, upstream: str, *, keys: dict[str, tuple[str, str]],
                 rate_limit: int | None = None, rate_window: float = 1.0) -> None:
        super().__init__(upstream)
        self.keys = keys
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.limited = 0  # how many requests were answered 429
        self.sockets: list[SocketSeen] = []
        self._window: tuple[float, int] = (0.0, 0)  # (start, requests counted in it)
        self._ws_server = serve(self._relay, "127.0.0.1", 0, subprotocols=["prefect"],
                                ping_interval=None)
        self._ws_thread = threading.Thread(target=self._ws_server.serve_forever, daemon=True)

    def workspace_url(self, account: str, workspace: str) -> str:
        return f"{self.base_url}/api/accounts/{account}/workspaces/{workspace}"

    def start(self) -> CloudStandin:
        self._ws_thread.start()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self._ws_server.shutdown()

    # ---- HTTP

    def _key_refusal(self, path: str, token: str | None) -> tuple[int, str] | None:
        """(status, detail) if `token` may not read `path`, else None."""
        found = WORKSPACE_PATH.fullmatch(path)
        if found is None:
            return 404, "Not Found"
        if token is None or token not in self.keys:
            return 401, "Invalid authentication credentials"
        if self.keys[token] != (found.group(1), found.group(2)):
            return 403, "Forbidden"
        return None

    def refuse(self, method: str, path: str, headers: dict[str, str]
               ) -> tuple[int, dict[str, str], bytes] | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        refused = self._key_refusal(path, token if scheme.lower() == "bearer" else None)
        if refused is not None and headers.get("upgrade", "").lower() == "websocket" \
                and refused[0] != 404:
            return None  # sockets authenticate with their first message, not a header
        if refused is not None:
            return refused[0], {}, json.dumps({"detail": refused[1]}).encode()
        if self.rate_limit is not None and method == "POST" \
                and path.endswith(("/filter", "/count")):
            wait = self._rate_limited()
            if wait is not None:
                body = json.dumps({"detail": "Rate limit exceeded"}).encode()
                return 429, {"Retry-After": str(max(1, math.ceil(wait)))}, body
        return None

    def _rate_limited(self) -> float | None:
        """Count one request in the window; the seconds until the window ends if over."""
        assert self.rate_limit is not None
        with self._lock:
            now = time.monotonic()
            start, count = self._window
            if now - start >= self.rate_window:
                start, count = now, 0
            self._window = (start, count + 1)
            if count < self.rate_limit:
                return None
            self.limited += 1
            return start + self.rate_window - now

    def upstream_path(self, path: str) -> str:
        found = WORKSPACE_PATH.fullmatch(path.partition("?")[0])
        assert found is not None, path  # refused before forwarding otherwise
        query = path.partition("?")[2]
        return "/api" + (found.group(3) or "") + (f"?{query}" if query else "")

    # ---- websockets: splice the connection to an internal websocket server

    def upgrade(self, handler: BaseHTTPRequestHandler) -> bool:
        head = f"{handler.requestline}\r\n" + "".join(
            f"{key}: {value}\r\n" for key, value in handler.headers.items()) + "\r\n"
        inner = socket.create_connection(("127.0.0.1", self._ws_server.socket.getsockname()[1]))
        inner.sendall(head.encode("latin-1"))
        outer = handler.connection
        handler.wfile.flush()
        pump = threading.Thread(target=_pipe, args=(inner, outer), daemon=True)
        pump.start()
        _pipe(outer, inner)
        pump.join(timeout=5)
        inner.close()
        return True

    def _relay(self, client: ServerConnection) -> None:
        """Cloud's socket: the auth message first, then relay to the real server's socket."""
        assert client.request is not None
        path = client.request.path
        seen = SocketSeen(path, [])
        with self._lock:
            self.sockets.append(seen)
        found = WORKSPACE_PATH.fullmatch(path)
        if found is None or found.group(3) not in SOCKET_PATHS:
            client.close(POLICY_VIOLATION, "Not a Prefect Cloud stream")
            return
        try:
            first = json.loads(client.recv(timeout=10))
        except (TimeoutError, ValueError, ConnectionClosed):
            client.close(POLICY_VIOLATION, "Expected 'auth' message")
            return
        seen.messages.append(first)
        if not isinstance(first, dict) or first.get("type") != "auth":
            client.close(POLICY_VIOLATION, "Expected 'auth' message")
            return
        refused = self._key_refusal(path, first.get("token"))
        if refused is not None:
            client.close(POLICY_VIOLATION, refused[1])
            return
        client.send(json.dumps({"type": "auth_success"}))
        url = self.upstream.replace("http", "ws", 1) + "/api" + found.group(3)
        with connect(url, subprotocols=["prefect"], open_timeout=10) as server:
            server.send(json.dumps({"type": "auth", "token": None}))
            if json.loads(server.recv(timeout=10)).get("type") != "auth_success":
                client.close(POLICY_VIOLATION, "Upstream refused")
                return
            threading.Thread(target=_forward, args=(server, client, None), daemon=True).start()
            _forward(client, server, seen)


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes until `source` ends, then end `target`'s writing side."""
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    try:
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _forward(source, target, seen: SocketSeen | None) -> None:
    """Relay websocket messages from `source` to `target` until either closes."""
    try:
        for message in source:
            if seen is not None:
                seen.messages.append(json.loads(message))
            target.send(message)
    except ConnectionClosed:
        pass
    finally:
        target.close()
