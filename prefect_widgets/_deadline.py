"""Each call's deadline down to the socket, and the reading of an answer against it.

`Client.call` runs inside `sockets_bounded_by(deadline)`; `DeadlineTransport` (httpx's
defaults over an httpcore pool, `Client`'s default transport) cuts every connect, read and
write wait to what is left, so a server dripping a byte a second cannot keep a call alive.
Both clients read a body chunk by chunk into `Progress` (which stops past the deadline and
says how far a late attempt got) and rebuild the answer with `whole_response`.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

__all__ = ["DeadlineTransport", "Progress", "seconds_left", "sockets_bounded_by",
           "whole_response"]

#: the deadline (time.monotonic()) of the sync call running in this thread, if any
_RUNNING_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "prefect_widgets_deadline", default=None)


def seconds_left(deadline: float) -> float:
    """Seconds until `deadline`, never zero (a zero socket timeout would mean non-blocking)."""
    return max(deadline - time.monotonic(), 0.001)


@contextlib.contextmanager
def sockets_bounded_by(deadline: float) -> Iterator[None]:
    """Bound every socket wait of `DeadlineTransport` in this context by `deadline`."""
    token = _RUNNING_DEADLINE.set(deadline)
    try:
        yield
    finally:
        _RUNNING_DEADLINE.reset(token)


def _bounded(timeout: float | None) -> float | None:
    """A socket wait of `timeout` cut to what is left of the running call's deadline."""
    deadline = _RUNNING_DEADLINE.get()
    if deadline is None:
        return timeout
    return seconds_left(deadline) if timeout is None else min(timeout, seconds_left(deadline))


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every wait ends by the running call's deadline: a server dripping a
    byte a second cannot keep a call alive, neither in the headers nor in the body."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname,
                                                      _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend with `_DeadlineStream`s."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_tcp(host, port, _bounded(timeout),
                                                         local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(path, _bounded(timeout),
                                                                 socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


#: httpcore's errors and the httpx errors the client handles, most specific first (as
#: `httpx.HTTPTransport` maps them)
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError), (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError), (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped = next((to for core, to in _HTTPX_ERRORS if isinstance(exc, core)), None)
        if mapped is None:
            raise
        raise mapped(str(exc)) from exc


class _DeadlineBody(httpx.SyncByteStream):
    """An answer's body from httpcore, its errors as httpx's."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class DeadlineTransport(httpx.BaseTransport):
    """`httpx.HTTPTransport` with its defaults (verified TLS, HTTP/1.1, 100 connections, 20
    kept alive for 5 s) over a connection pool whose sockets are `_DeadlineBackend`'s: no
    connect, read or write waits past the running call's deadline."""

    def __init__(self) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=100,
            max_keepalive_connections=20, keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(httpcore.SyncBackend()))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                             target=url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        with _as_httpx_errors():
            answer = self._pool.handle_request(core)
        assert isinstance(answer.stream, Iterable)
        return httpx.Response(status_code=answer.status, headers=answer.headers,
                              stream=_DeadlineBody(answer.stream),
                              extensions=answer.extensions)

    def close(self) -> None:
        self._pool.close()


@dataclass
class Progress:
    """How far one attempt got, to say what was slow."""

    headers: bool = False
    received: int = 0

    def phase(self, exc: BaseException | None) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return "connecting to the server"
        if self.headers:
            return f"reading the answer's body ({self.received} bytes had arrived)"
        return "waiting for the answer's headers"

    def got(self, chunk: bytes, deadline: float, request: httpx.Request) -> None:
        """Count a chunk of the body; past the deadline, stop reading."""
        self.received += len(chunk)
        if time.monotonic() >= deadline:
            raise httpx.ReadTimeout("the deadline passed while reading the body",
                                    request=request)


def whole_response(response: httpx.Response, chunks: list[bytes]) -> httpx.Response:
    """The answer with its whole (already decoded) body."""
    headers = [(key, value) for key, value in response.headers.multi_items()
               if key.lower() not in ("content-encoding", "content-length")]
    return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks),
                          request=response.request)
