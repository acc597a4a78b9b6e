"""A loopback HTTP proxy that forwards to the real test server and injects faults on request.

Tests arm `Fault`s per path; every request the proxy sees is recorded (method, path, query,
headers) so tests can assert what the library sent. It can also emulate a Prefect server with
CSRF protection enabled (`csrf=True`), which the real test server has turned off, and with basic
auth (`auth_string="user:pass"`), checked inside the CSRF check as Prefect 3.8.8 does it
(`CsrfMiddleware` wraps the API app whose `token_validation` middleware answers 401).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host", "content-length",
              "content-encoding"}


@dataclass
class Fault:
    """What to do with requests whose path contains `path` (and whose method is `method`).

    kind: "status" (answer `status` with `body`/`headers`), "delay" (sleep `delay` s, then
    forward), "truncate" (forward, then cut the JSON body in half), "malform" (answer 200
    with a non-JSON body), "short" (forward, keep only the first `keep` rows of a list),
    "drop" (close the connection without answering), "echo_auth" (answer `status` with the
    request's Authorization header in the error detail), "drip_headers" / "drip_body" (forward,
    then send the answer's head / body one byte every `delay` s), "kill" (the proxy stops
    listening and drops the connection: every later request is refused, as if the server died).
    `skip` matching requests pass untouched first; then the fault fires `times` times
    (None: forever) and later requests pass again.
    """

    kind: str
    path: str = "/api/"
    method: str | None = None
    status: int = 503
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    keep: int = 0
    skip: int = 0
    times: int | None = None
    seen: int = 0
    fired: int = 0

    def take(self, method: str, path: str) -> bool:
        if self.path not in path or (self.method and self.method != method):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float


class FaultProxy:
    """`with FaultProxy("http://127.0.0.1:4200") as proxy:` then use `proxy.api_url`."""

    def __init__(self, upstream: str, *, csrf: bool = False,
                 auth_string: str | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream = f"{parts.scheme}://{parts.netloc}"
        self.faults: list[Fault] = []
        self.requests: list[Seen] = []
        self.csrf = csrf
        self.auth_string = auth_string
        self.csrf_tokens: dict[str, str] = {}  # client id -> current token
        self.csrf_issued = 0
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.upstream, timeout=60)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # clients hang up on delays
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)

    # ---- lifecycle

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.kill()
        self._http.close()

    def kill(self) -> None:
        """Stop listening: connections are refused from now on."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- arming

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()

    def rotate_csrf(self) -> None:
        """Invalidate every issued CSRF token (as an expiry would)."""
        with self._lock:
            self.csrf_tokens = {client: f"rotated-{uuid.uuid4().hex}"
                                for client in self.csrf_tokens}

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    # ---- hooks for stand-ins built on this proxy (tests/cloud_standin.py): by default none

    def refuse(self, method: str, path: str, headers: dict[str, str]
               ) -> tuple[int, dict[str, str], bytes] | None:
        """An answer (status, headers, body) given instead of forwarding, or None."""
        return None

    def upstream_path(self, path: str) -> str:
        """The upstream server's path (with query) for the path a client asked for."""
        return path

    def upgrade(self, handler: BaseHTTPRequestHandler) -> bool:
        """Take over a websocket upgrade request's connection; False: not handled here."""
        return False

    # ---- handling

    def _pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.take(method, path):
                    return fault
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                        content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                with proxy._lock:
                    proxy.requests.append(Seen(self.command, split.path, parse_qs(split.query),
                                               {k.lower(): v for k, v in self.headers.items()},
                                               time.monotonic()))
                refused = proxy.refuse(self.command, split.path,
                                       {k.lower(): v for k, v in self.headers.items()})
                if refused is not None:
                    return self._answer(refused[0], refused[2], refused[1])
                if self.headers.get("Upgrade", "").lower() == "websocket" \
                        and proxy.upgrade(self):
                    self.close_connection = True
                    return None
                fault = proxy._pick(self.command, split.path)
                if fault is not None and fault.kind == "kill":
                    proxy.kill()
                if fault is not None and fault.kind in ("drop", "kill"):
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if fault is not None and fault.kind == "status":
                    body = fault.body if fault.body is not None else json.dumps(
                        {"detail": f"Injected {fault.status}"}).encode()
                    return self._answer(fault.status, body, fault.headers)
                if fault is not None and fault.kind == "echo_auth":
                    seen = self.headers.get("Authorization", "<none>")
                    body = json.dumps({"detail": f"Bad credentials: Authorization: {seen}"})
                    return self._answer(fault.status, body.encode(), fault.headers)
                if fault is not None and fault.kind == "malform":
                    return self._answer(200, fault.body or b"<html><body>Welcome to nginx"
                                        b"</body></html>", content_type="text/html")
                if fault is not None and fault.kind == "delay":
                    time.sleep(fault.delay)
                if proxy.csrf and self._csrf_refused(split):
                    return None
                if proxy.auth_string is not None and not self._authorized():
                    return self._answer(401, b'{"exception_message": "Unauthorized"}')
                if proxy.csrf and self._csrf_token_issued(split):
                    return None
                upstream = proxy._http.request(
                    self.command, proxy.upstream_path(self.path), content=payload,
                    headers={k: v for k, v in self.headers.items()
                             if k.lower() not in HOP_BY_HOP})
                body = upstream.content
                if fault is not None and fault.kind == "truncate":
                    body = body[: max(1, len(body) // 2)]
                if fault is not None and fault.kind == "short":
                    body = json.dumps(json.loads(body)[: fault.keep]).encode()
                content_type = upstream.headers.get("content-type", "application/json")
                if fault is not None and fault.kind in ("drip_headers", "drip_body"):
                    return self._drip(upstream.status_code, body, content_type, fault)
                self._answer(upstream.status_code, body, content_type=content_type)

            def _drip(self, status: int, body: bytes, content_type: str, fault: Fault) -> None:
                head = (f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode()
                slow = head + body if fault.kind == "drip_headers" else body
                self.close_connection = True
                try:
                    if fault.kind == "drip_body":
                        self.wfile.write(head)
                        self.wfile.flush()
                    for i in range(len(slow)):
                        time.sleep(fault.delay)
                        self.wfile.write(slow[i:i + 1])
                        self.wfile.flush()
                except OSError:  # the client gave up: that is the point
                    pass

            def _authorized(self) -> bool:
                header = self.headers.get("Authorization", "")
                scheme, _, creds = header.partition(" ")
                try:
                    decoded = base64.b64decode(creds).decode()
                except ValueError:
                    return False
                return scheme == "Basic" and decoded == proxy.auth_string

            def _csrf_token_issued(self, split) -> bool:
                """Emulate Prefect's /csrf-token route; True if this request was answered."""
                if split.path.endswith("/csrf-token") and self.command == "GET":
                    client = (parse_qs(split.query).get("client") or [""])[0]
                    if not client:
                        self._answer(422, b'{"detail": "Missing client identifier."}')
                        return True
                    with proxy._lock:
                        proxy.csrf_issued += 1
                        token = f"t{proxy.csrf_issued}"
                        proxy.csrf_tokens[client] = token
                    expires = datetime.now(timezone.utc) + timedelta(hours=1)
                    self._answer(200, json.dumps({"token": token, "client": client,
                                                  "expiration": expires.isoformat()}).encode())
                    return True
                return False

            def _csrf_refused(self, split) -> bool:
                """Emulate Prefect's CSRF middleware; True if this request was refused."""
                if self.command in ("POST", "PUT", "PATCH", "DELETE"):
                    client = self.headers.get("Prefect-Csrf-Client", "")
                    token = self.headers.get("Prefect-Csrf-Token", "")
                    with proxy._lock:
                        valid = bool(token) and proxy.csrf_tokens.get(client) == token
                    if not valid:
                        self._answer(403, b'{"detail": "Invalid CSRF token or client '
                                          b'identifier."}')
                        return True
                return False

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler
