"""HTTP access to a Prefect 3 server: sync and async clients, retries, typed errors.

Operations are written once as generators that yield `Call`s and receive decoded JSON
(see `run_sync` / `run_async`), so the sync and async APIs share every line of logic.
The clients are read-only: they refuse any write to the server.

Long module: both clients share one base (headers, auth, CSRF, the retry loop, the mapping of
answers to typed errors); splitting it would spread one protocol over several files.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import email.utils
import random
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import httpx

from ._version import __version__
from .errors import (
    BadResponse,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    ServerUnreachable,
    Unauthorized,
)
from .settings import Settings, resolve_settings
from .settings import generation as settings_generation

__all__ = ["Call", "Client", "AsyncClient", "Operation", "run_sync", "run_async", "get_client"]

T = TypeVar("T")
#: a decoded JSON answer
JSONValue = dict[str, Any] | list[Any] | str | int | float | bool | None

# Every call is a read, so retrying is safe; 500 included (SQLite "database is locked").
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_READ_ONLY_POSTS = ("/filter", "/count", "/history", "/paginate")
API_VERSION = "0.8.4"


@dataclass(frozen=True)
class Call:
    """One read request: GET, or POST to a /filter, /count or /history endpoint."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    not_found: str | None = None  # message for a 404, naming what was looked up


Operation = Generator[Call, Any, T]


@dataclass
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter; honours Retry-After."""

    max_retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 10.0
    max_total: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:  # the server knows best; max_total bounds the wait
            return retry_after
        return random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):  # not a number nor an HTTP-date: ignore it
        return None
    if parsed.tzinfo is None:  # "-0000" means UTC
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, parsed.timestamp() - time.time())


def _detail(response: httpx.Response, scrub: Any) -> str:
    """The server's error detail, secrets scrubbed *before* truncating (no partial leaks)."""
    try:
        body = response.json()
    except ValueError:
        return scrub(response.text)[:200]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return scrub(str(detail))[:300]


class _Base:
    """What both clients share: settings, headers, CSRF, the retry loop, typed errors."""

    #: the httpx client class each client is built on
    _httpx: ClassVar[Callable[..., Any]]

    def __init__(self, api_url: str | None = None, api_key: str | None = None,
                 auth_string: str | None = None, *, profile: str | None = None,
                 timeout: float = 30.0, retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None
                 ) -> None:
        self.settings: Settings = resolve_settings(api_url, api_key, auth_string, profile)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._csrf_token: str | None = None
        self._csrf_enabled: bool | None = None
        self._lock = threading.Lock()
        self._http: Any = self._httpx(transport=transport, **self._http_options())

    @property
    def api_url(self) -> str:
        return self.settings.api_url

    @property
    def ui_url(self) -> str | None:
        return self.settings.ui_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self.api_url!r})"

    def _headers(self) -> dict[str, str]:
        headers = {
            "X-PREFECT-API-VERSION": API_VERSION,
            "User-Agent": f"prefect-widgets/{__version__}",
        }
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        if httpx.URL(self.settings.api_url).host in ("127.0.0.1", "localhost", "::1"):
            headers["Accept-Encoding"] = "identity"  # gzip costs a local server CPU, saves nothing
        return headers

    def _http_options(self) -> dict[str, Any]:
        """What both httpx clients are built with."""
        return {"base_url": self.settings.api_url, "headers": self._headers(),
                "auth": self._auth(), "timeout": self.timeout}

    def _auth(self) -> tuple[str, str] | None:
        if self.settings.auth_string and not self.settings.api_key:
            user, _, password = self.settings.auth_string.partition(":")
            return (user, password)
        return None

    def _check(self, call: Call) -> None:
        parts = urlsplit(call.path)
        segments = parts.path.split("/")
        if (parts.scheme or parts.netloc or parts.query or parts.fragment or "#" in call.path
                or not call.path.startswith("/") or "." in segments or ".." in segments):
            # an absolute URL would carry the credentials to another host; "?", "#" or dot
            # segments could smuggle a write past the /filter-style suffix check below
            raise InvalidRequest(f"prefect-widgets only sends API paths like '/flow_runs/filter' "
                                 f"(query parameters go in params=), got {call.path[:80]!r}.")
        if call.method not in ("GET", "POST"):
            raise InvalidRequest(f"prefect-widgets is read-only and will not send {call.method}.")
        if call.method == "POST" and not call.path.endswith(_READ_ONLY_POSTS):
            raise InvalidRequest(f"prefect-widgets is read-only and will not POST to {call.path}.")

    def _scrub(self, text: str) -> str:
        secrets = set(self.settings.secrets)
        if self.settings.auth_string:  # as sent in "Authorization: Basic ...", and the password
            secrets.add(base64.b64encode(self.settings.auth_string.encode()).decode())
            password = self.settings.auth_string.partition(":")[2]
            if len(password) >= 4:
                secrets.add(password)
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def _unreachable(self, exc: Exception) -> ServerUnreachable:
        kind = type(exc).__name__
        reason = self._scrub(str(exc)) or kind
        low = reason.lower()
        if isinstance(exc, httpx.TimeoutException):
            hint = (f"The request timed out after {self.timeout:g} s: the server may be "
                    "overloaded; try again, or pass a larger timeout= to Client.")
        elif "ssl" in low or "certificate" in low or "tls" in low:
            hint = ("The TLS handshake failed: check http:// versus https:// in PREFECT_API_URL, "
                    "and the server's certificate.")
        elif any(w in low for w in ("name or service", "resolution", "nodename", "getaddrinfo")):
            hint = "The host name does not resolve: check the host in PREFECT_API_URL."
        else:
            hint = "Check that the server is running and that PREFECT_API_URL points at it."
        return ServerUnreachable(
            f"Cannot reach the Prefect API at {self.api_url} ({kind}: {reason}). {hint}"
        )

    def _error(self, call: Call, response: httpx.Response) -> Exception:
        status = response.status_code
        detail = _detail(response, self._scrub)
        where = f"{call.method} {call.path}"
        if status == 404:
            return NotFound(call.not_found or (
                f"Not found on {self.api_url}: {where}. Check that PREFECT_API_URL is the API "
                "URL of a Prefect 3 server (ending in /api, or a Cloud workspace URL)."))
        if status == 401:
            return Unauthorized(
                f"The Prefect API at {self.api_url} rejected the credentials (401). Check "
                "PREFECT_API_KEY (Prefect Cloud) or PREFECT_API_AUTH_STRING (self-hosted).",
                401,
            )
        if _is_csrf_rejection(response):
            return Unauthorized(
                f"The Prefect API at {self.api_url} refused the CSRF token even after fetching "
                f"a new one (403: {detail}). Check that nothing between you and the server "
                "strips the Prefect-Csrf-Token / Prefect-Csrf-Client headers.",
                403,
            )
        if status == 403:
            return Unauthorized(
                f"The Prefect API at {self.api_url} refused access (403: {detail}). Check that "
                "your key has access to this workspace.",
                403,
            )
        if status == 429:
            after = _retry_after(response)
            hint = f" The server asks to wait {after:.0f} s." if after is not None else ""
            return RateLimited(
                f"The Prefect API at {self.api_url} is rate limiting requests (429) and retries "
                f"were exhausted.{hint} Wait and try again, or fetch less.",
                after,
            )
        if status >= 500 or status in RETRY_STATUSES:
            return ServerError(
                f"The Prefect API at {self.api_url} answered {status} to {where} after "
                f"{self.retry.max_retries} retries: {detail}. Try again later or check the "
                "server's logs.",
                status,
            )
        return InvalidRequest(f"The Prefect API rejected {where} ({status}): {detail}")

    def _decode(self, call: Call, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise BadResponse(
                f"The Prefect API at {self.api_url} answered {call.method} {call.path} with "
                f"a body that is not JSON ({len(response.content)} bytes). Is PREFECT_API_URL "
                "the API URL (ending in /api) of a Prefect 3 server?"
            ) from None

    def _retrying(self, call: Call) -> Generator[Any, Any, httpx.Response]:
        """The retry loop, written once for both clients: yields what to do next
        (`_FETCH_CSRF`, `_REQUEST`, or seconds to sleep) and receives the outcome (the
        response, an `httpx.HTTPError`, or None); returns the final response."""
        started = time.monotonic()
        attempt = 0
        refreshed = False
        while True:
            outcome = None
            if self._csrf_needed(call) and self._csrf_token is None:
                outcome = yield _FETCH_CSRF
            if outcome is None:
                outcome = yield _REQUEST
            if isinstance(outcome, httpx.HTTPError):
                spent = time.monotonic() - started > self.retry.max_total
                if not isinstance(outcome, _TRANSIENT) or attempt >= self.retry.max_retries \
                        or spent:
                    raise self._unreachable(outcome) from None
                yield self.retry.delay(attempt, None)
                attempt += 1
                continue
            response: httpx.Response = outcome
            if _is_csrf_rejection(response) and not refreshed and self._csrf_enabled is not False:
                self._csrf_token = None  # expired or rotated: fetch a new token once
                self._csrf_enabled = None
                refreshed = True
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.retry.max_retries:
                wait = self.retry.delay(attempt, _retry_after(response))
                if time.monotonic() - started + wait <= self.retry.max_total:
                    yield wait
                    attempt += 1
                    continue
            return response

    def _csrf_needed(self, call: Call) -> bool:
        return call.method == "POST" and self._csrf_enabled is not False

    def _csrf_headers(self) -> dict[str, str]:
        if self._csrf_token:
            return {"Prefect-Csrf-Token": self._csrf_token, "Prefect-Csrf-Client": _CSRF_CLIENT}
        return {}

    def _accept_csrf(self, response: httpx.Response) -> None:
        if response.status_code == 200:
            try:
                self._csrf_token = response.json()["token"]
                self._csrf_enabled = True
            except (ValueError, KeyError, TypeError):
                self._csrf_enabled = False
        elif response.status_code in (404, 405, 422):
            # 422 "CSRF protection is disabled", or an older server without the route
            self._csrf_enabled = False
        # anything else (a transient 5xx, a 429) leaves it unknown: ask again next time


_CSRF_CLIENT = f"prefect-widgets-{random.getrandbits(64):016x}"


def _advance(steps: Generator[Any, Any, httpx.Response], outcome: Any
             ) -> tuple[Any, httpx.Response | None]:
    """Hand an outcome to the retry loop: (its next step, None), or (None, the response)."""
    try:
        return steps.send(outcome), None
    except StopIteration as done:
        return None, done.value
#: steps of `_Base._retrying` (a number is a sleep in seconds)
_FETCH_CSRF, _REQUEST = object(), object()


def _is_csrf_rejection(response: httpx.Response) -> bool:
    return response.status_code == 403 and "csrf" in response.text.lower()


_TRANSIENT = (httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError,
              httpx.WriteError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout)


class Client(_Base):
    """A synchronous, thread-safe, read-only client for the Prefect 3 REST API.

    `Client(api_url=None, api_key=None, auth_string=None, *, profile=None, timeout=30.0,
    retry=None, transport=None)`: settings resolve like Prefect's (arguments, `configure()`,
    environment, profile); `transport` is an `httpx.BaseTransport`.
    """

    _httpx = httpx.Client

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fetch_csrf(self) -> None:
        with self._lock:  # one fetch for all threads sharing this client
            if self._csrf_token is None and self._csrf_enabled is not False:
                self._accept_csrf(self._http.get("/csrf-token", params={"client": _CSRF_CLIENT}))

    def _send(self, call: Call) -> httpx.Response:
        steps = self._retrying(call)
        step, response = next(steps), None
        while response is None:
            try:
                if step is _FETCH_CSRF:
                    self._fetch_csrf()
                    outcome: Any = None
                elif step is _REQUEST:
                    outcome = self._http.request(call.method, call.path, json=call.json,
                                                 params=call.params, headers=self._csrf_headers())
                else:
                    time.sleep(step)
                    outcome = None
            except httpx.HTTPError as exc:
                outcome = exc
            step, response = _advance(steps, outcome)
        return response

    def call(self, call: Call) -> JSONValue:
        """Send one `Call`, retrying transient failures; return decoded JSON or raise."""
        self._check(call)
        response = self._send(call)
        if response.is_success:
            return self._decode(call, response)
        raise self._error(call, response)

    def run(self, operation: Operation[T]) -> T:
        return run_sync(self, operation)


class AsyncClient(_Base):
    """The asyncio twin of `Client`, for code already inside an event loop (same arguments;
    `transport` is an `httpx.AsyncBaseTransport`)."""

    _httpx = httpx.AsyncClient

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> httpx.Response:
        steps = self._retrying(call)
        step, response = next(steps), None
        while response is None:
            try:
                if step is _FETCH_CSRF:
                    self._accept_csrf(await self._http.get("/csrf-token",
                                                           params={"client": _CSRF_CLIENT}))
                    outcome: Any = None
                elif step is _REQUEST:
                    outcome = await self._http.request(call.method, call.path, json=call.json,
                                                       params=call.params,
                                                       headers=self._csrf_headers())
                else:
                    await asyncio.sleep(step)
                    outcome = None
            except httpx.HTTPError as exc:
                outcome = exc
            step, response = _advance(steps, outcome)
        return response

    async def call(self, call: Call) -> JSONValue:
        self._check(call)
        response = await self._send(call)
        if response.is_success:
            return self._decode(call, response)
        raise self._error(call, response)

    async def run(self, operation: Operation[T]) -> T:
        return await run_async(self, operation)


def run_sync(client: Client, operation: Operation[T]) -> T:
    """Drive an operation generator with a sync client."""
    try:
        call = next(operation)
        while True:
            call = operation.send(client.call(call))
    except StopIteration as stop:
        return stop.value


async def run_async(client: AsyncClient, operation: Operation[T]) -> T:
    """Drive an operation generator with an async client."""
    try:
        call = next(operation)
        while True:
            call = operation.send(await client.call(call))
    except StopIteration as stop:
        return stop.value


_default: Client | None = None
_default_generation = -1
_default_lock = threading.Lock()


def get_client(client: Client | None = None) -> Client:
    """The given client, or a shared one built from `configure()` / env / profile (built
    anew after each `configure()`; views already holding the old one keep it)."""
    global _default, _default_generation
    if client is not None:
        return client
    with _default_lock:
        if _default is None or _default_generation != settings_generation():
            _default = Client()
            _default_generation = settings_generation()
        return _default


def reset_default_client() -> None:
    """Forget the shared client; views already holding it keep working with it."""
    global _default
    with _default_lock:
        _default = None
