"""HTTP access to a Prefect 3 server: sync and async clients, retries, typed errors.

Operations are written once as generators that yield `Call`s (or a `Batch` of calls that
may be sent at once, at most the client's `Pace` in flight) and receive decoded JSON (see
`run_sync` / `run_async`), so the sync and async APIs share every line of logic.
The clients are read-only by construction: a request leaves only if its method and full URL
match `ALLOWED_REQUESTS`, checked on the URL httpx is about to send. Every call has one
deadline, the client's `timeout=` (connect, the whole answer, retries and their waits).

The deadline's socket-level machinery is in `_deadline`, the sending of batches (`Pace`)
in `concurrency`.

Long module: both clients share one base (headers, auth, CSRF, the allow-list, the deadline,
the retry loop, the mapping of answers to typed errors); splitting it further would spread
one protocol, and what may leave the process, over several files.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import email.utils
import html
import random
import re
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, urlsplit

import anyio
import httpx

from ._deadline import (
    DeadlineTransport,
    Progress,
    seconds_left,
    sockets_bounded_by,
    whole_response,
)
from ._version import __version__
from .concurrency import (
    AUTO_CONCURRENCY,
    PROBE_CALLS,
    THROTTLE_STATUSES,
    Pace,
    gather_paced,
    send_paced,
)
from .errors import (
    BadResponse,
    DeadlineExceeded,
    InvalidRequest,
    NotFound,
    RateLimited,
    RedirectRefused,
    ServerError,
    ServerUnreachable,
    Unauthorized,
)
from .settings import Settings, redact_url, resolve_settings
from .settings import generation as settings_generation

__all__ = ["ALLOWED_REQUESTS", "Batch", "Call", "Client", "AsyncClient", "Operation", "api_path",
           "refusal", "run_sync", "run_async", "get_client",
           # re-exported from `concurrency`
           "AUTO_CONCURRENCY", "PROBE_CALLS", "Pace"]

T = TypeVar("T")
#: a decoded JSON answer
JSONValue = dict[str, Any] | list[Any] | str | int | float | bool | None

# Every call is a read, so retrying is safe; 500 included (SQLite "database is locked").
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
API_VERSION = "0.8.4"

#: one path segment as `api_path` writes it: unreserved characters or %XX, never "." or ".."
_SEGMENT = r"(?!\.\.?(?:/|$))(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})+"

#: Everything prefect-widgets may send: (method, path below the API URL as a regex, why).
#: A request outside this list is refused before it leaves (`refusal`); only GETs carry a query.
ALLOWED_REQUESTS: tuple[tuple[str, str, str], ...] = (
    ("GET", rf"(?:/{_SEGMENT})+/?", "reads of runs, flows, states, logs and run graphs"),
    ("POST", r"(?:/[a-z_-]+)+/(?:filter|count|history)", "read-only queries"),
    ("GET", r"/csrf-token", "the token a CSRF-protected server asks for before a POST"),
    ("GET", r"/events/out", "the read-only event stream (websocket, for live updates)"),
    ("GET", r"/logs/out", "the read-only log stream (websocket, for live updates)"),
)
_WEBSOCKET_PATHS = ("/events/out", "/logs/out")
_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}


def refusal(method: str, url: httpx.URL, api_url: str) -> str | None:
    """Why `method url` may not be sent to the API at `api_url`, or None if it is on
    `ALLOWED_REQUESTS`: the same origin, below the API path, a listed method and path."""
    base = httpx.URL(api_url)
    root = base.raw_path.rstrip(b"/")
    raw_path, _, query = url.raw_path.partition(b"?")
    if url.userinfo or (url.host, url.port) != (base.host, base.port):
        return f"it does not go to the configured API URL ({base.host})"
    if not raw_path.startswith(root + b"/"):
        return "its path is not below the configured API URL"
    relative = raw_path[len(root):].decode("ascii", "replace")
    for allowed_method, pattern, _why in ALLOWED_REQUESTS:
        schemes = {base.scheme}
        if relative in _WEBSOCKET_PATHS:
            schemes.add(_WEBSOCKET_SCHEMES[base.scheme])
        if (method == allowed_method and url.scheme in schemes and not url.fragment
                and (method == "GET" or not query) and re.fullmatch(pattern, relative)):
            return None
    return (f"{method} {relative[:80]} is not on its allow-list (GET, POST to .../filter, "
            ".../count or .../history without a query)")


def api_path(*segments: str) -> str:
    """An API path from its segments, each percent-encoded whole: ('flows', 'name', 'etl?v=2')
    → '/flows/name/etl%3Fv%3D2'. A value can never add a segment, a query or a fragment."""
    quoted = (quote(str(s), safe="").replace(".", "%2E") if str(s) in (".", "..")
              else quote(str(s), safe="") for s in segments)
    return "/" + "/".join(quoted)


@dataclass(frozen=True)
class Call:
    """One read request: GET, or POST to a /filter, /count or /history endpoint."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    not_found: str | None = None  # message for a 404, naming what was looked up


@dataclass(frozen=True)
class Batch:
    """Calls an operation lets the client send at once; it receives their answers, in order.

    `Client` sends them from a thread pool, `AsyncClient` with `asyncio.gather`, at most the
    client's current concurrency (`Pace`) in flight; the first error is raised as a lone
    call's would be (see `concurrency`)."""

    calls: tuple[Call, ...]


Operation = Generator[Call | Batch, Any, T]


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


def _html_page(response: httpx.Response) -> str | None:
    """'an HTML page titled ...' for an HTML body (a proxy's or login page), else None."""
    text = response.text
    if "html" not in response.headers.get("content-type", "") \
            and not text.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        return None
    found = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    title = " ".join(html.unescape(found.group(1)).split())[:80] if found else ""
    named = f" titled {title!r}" if title else ""
    return f"an HTML page{named} ({len(response.content)} bytes), not JSON"


def _detail(response: httpx.Response, scrub: Any) -> str:
    """The server's error detail, secrets scrubbed *before* truncating (no partial leaks)."""
    try:
        body = response.json()
    except ValueError:
        page = _html_page(response)
        return scrub(page) if page else scrub(" ".join(response.text.split()))[:200]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return scrub(str(detail))[:300]


class _Base:
    """What both clients share: settings, headers, CSRF, the retry loop, typed errors.

    `timeout` is each call's whole deadline in seconds: connecting, sending, the answer's
    headers and its whole body, every retry and every wait between retries. A call that
    outlives it raises `DeadlineExceeded`; `retry.max_total` bounds the retrying within it.
    """

    #: the httpx client class each client is built on
    _httpx: ClassVar[Callable[..., Any]]
    #: the request event hook: the last look at method and URL before a request leaves
    _final_check: Callable[[httpx.Request], Any]

    def __init__(self, api_url: str | None = None, api_key: str | None = None,
                 auth_string: str | None = None, *, profile: str | None = None,
                 timeout: float = 30.0, retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
                 max_concurrency: int | None = None) -> None:
        self.settings: Settings = resolve_settings(api_url, api_key, auth_string, profile)
        self.timeout = timeout
        self.pace = Pace(max_concurrency)
        self.retry = retry or RetryPolicy()
        self._csrf_token: str | None = None
        self._csrf_enabled: bool | None = None
        self._lock = threading.Lock()
        self._http: Any = self._httpx(transport=transport or self._deadline_transport(),
                                      event_hooks={"request": [self._final_check]},
                                      **self._http_options())

    def _deadline_transport(self) -> httpx.BaseTransport | httpx.AsyncBaseTransport | None:
        """The default transport, or one that bounds every socket wait by the deadline."""
        return None

    def _refuse_outside_allow_list(self, request: httpx.Request) -> None:
        reason = refusal(request.method, request.url, self.api_url)
        if reason is not None:
            raise InvalidRequest(f"prefect-widgets is read-only and did not send "
                                 f"{request.method} {request.url.path[:80]}: {reason}.")

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
        # Prefect's own client sends the auth string when both are set (prefect 3.8.8,
        # prefect/client/orchestration/__init__.py, PrefectClient.__init__: "Prioritize
        # auth_string if provided, otherwise use api_key"): so does this one (`_auth`).
        if self.settings.api_key and not self.settings.auth_string:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        if httpx.URL(self.settings.api_url).host in ("127.0.0.1", "localhost", "::1"):
            headers["Accept-Encoding"] = "identity"  # gzip costs a local server CPU, saves nothing
        return headers

    def _http_options(self) -> dict[str, Any]:
        """What both httpx clients are built with."""
        return {"base_url": self.settings.api_url, "headers": self._headers(),
                "auth": self._auth(), "timeout": self.timeout}

    def _auth(self) -> tuple[str, str] | None:
        if self.settings.auth_string:
            user, _, password = self.settings.auth_string.partition(":")
            return (user, password)
        return None

    def _check(self, call: Call) -> None:
        parts = urlsplit(call.path)
        segments = parts.path.split("/")
        if (parts.scheme or parts.netloc or parts.query or parts.fragment or "#" in call.path
                or "?" in call.path or not call.path.startswith("/") or "." in segments
                or ".." in segments):
            # an absolute URL would carry the credentials to another host; "?", "#" or dot
            # segments could smuggle a write past the allow-list's /filter-style suffix
            raise InvalidRequest(f"prefect-widgets only sends API paths like '/flow_runs/filter' "
                                 f"(query parameters go in params=), got {call.path[:80]!r}.")
        try:
            request = self._http.build_request(call.method, call.path, params=call.params)
        except (httpx.InvalidURL, ValueError, TypeError):
            raise InvalidRequest(f"prefect-widgets cannot build a URL from {call.path[:80]!r} "
                                 "and its parameters.") from None
        self._refuse_outside_allow_list(request)

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
            hint = ("The request timed out: the server may be overloaded; try again, or pass a "
                    f"larger timeout= to Client (now {self.timeout:g} s for the whole call).")
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

    def _late(self, call: Call, phase: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{call.method} {call.path} to the Prefect API at {self.api_url} did not finish "
            f"within its {self.timeout:g} s deadline: it timed out {phase}. The server is slow, "
            "overloaded or stuck: check it, or pass a larger timeout= to Client/AsyncClient "
            "(CLI: --timeout SECONDS); the deadline covers connecting, the whole answer and "
            "every retry."
        )

    def _credentials_sent(self) -> str:
        settings = self.settings
        if settings.auth_string:
            user = settings.auth_string.partition(":")[0]
            both = (" PREFECT_API_KEY is set too; like Prefect's own client, the auth string "
                    "is the one sent." if settings.api_key else "")
            return (f"PREFECT_API_AUTH_STRING was sent as HTTP basic auth for user {user!r}: "
                    "check it against the server's PREFECT_SERVER_API_AUTH_STRING." + both)
        if settings.api_key:
            return ("PREFECT_API_KEY was sent as a bearer token: check that the key is valid, "
                    "not expired, and belongs to this workspace.")
        return ("No credentials were sent: set PREFECT_API_AUTH_STRING (a self-hosted server "
                "with basic auth) or PREFECT_API_KEY (Prefect Cloud).")

    def _error(self, call: Call, response: httpx.Response, retries: int) -> Exception:
        status = response.status_code
        detail = _detail(response, self._scrub)
        where = f"{call.method} {call.path}"
        if 300 <= status < 400:
            location = self._scrub(redact_url(response.headers.get("location", "")))[:200]
            pointed = f"to {location}" if location else "without saying where (no Location)"
            return RedirectRefused(
                f"The Prefect API at {self.api_url} answered {where} with a redirect ({status}) "
                f"{pointed}. prefect-widgets does not follow redirects, so credentials are "
                "never sent to another address: set PREFECT_API_URL to the API's own URL "
                "(often https:// instead of http://, or with /api at the end).",
                location,
            )
        if status == 404:
            return NotFound(call.not_found or (
                f"Not found on {self.api_url}: {where}. Check that PREFECT_API_URL is the API "
                "URL of a Prefect 3 server (ending in /api, or a Cloud workspace URL)."))
        if status == 401:
            return Unauthorized(
                f"The Prefect API at {self.api_url} rejected the credentials (401). "
                + self._credentials_sent(),
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
            return self._rate_limited(response, retries)
        if status >= 500 or status in RETRY_STATUSES:
            return ServerError(
                f"The Prefect API at {self.api_url} answered {status} to {where} after "
                f"{retries} retries: {detail}. Try again later or check the server's logs.",
                status,
            )
        return InvalidRequest(f"The Prefect API rejected {where} ({status}): {detail}")

    def _rate_limited(self, response: httpx.Response, retries: int) -> RateLimited:
        after = _retry_after(response)
        if after is not None and after > self.timeout:
            hint = (f" The server asks to wait {after:.0f} s, longer than this call's "
                    f"{self.timeout:g} s deadline (timeout=), so it was not retried: wait that "
                    "long, then try again.")
        else:
            asks = f" The server asks to wait {after:.0f} s." if after is not None else ""
            hint = f" Retries were exhausted ({retries}).{asks} Wait and try again, or fetch less."
        return RateLimited(
            f"The Prefect API at {self.api_url} is rate limiting requests (429).{hint}", after)

    def _answer(self, call: Call, response: httpx.Response, retries: int) -> JSONValue:
        if not response.is_success:
            raise self._error(call, response, retries)
        try:
            return response.json()  # type: ignore[no-any-return]
        except ValueError:
            what = (_html_page(response)
                    or f"a body that is not JSON ({len(response.content)} bytes)")
            raise BadResponse(
                f"The Prefect API at {self.api_url} answered {call.method} {call.path} with "
                f"{what}. Is PREFECT_API_URL the API URL (ending in /api) of a Prefect 3 server?"
            ) from None

    def _request(self, call: Call, deadline: float) -> httpx.Request:
        return self._http.build_request(call.method, call.path, json=call.json,
                                        params=call.params, headers=self._csrf_headers(),
                                        timeout=seconds_left(deadline))

    def _csrf_request(self, deadline: float) -> httpx.Request:
        return self._http.build_request("GET", "/csrf-token", params={"client": _CSRF_CLIENT},
                                        timeout=seconds_left(deadline))

    def _retrying(self, call: Call, deadline: float
                  ) -> Generator[Any, Any, tuple[httpx.Response, int]]:
        """The retry loop, written once for both clients: yields what to do next
        (`_FETCH_CSRF`, `_REQUEST`, or seconds to sleep) and receives the outcome (a
        response, an `httpx.HTTPError`, or None); returns the final response and how many
        retries it took. It never sleeps past the call's deadline."""
        started = time.monotonic()
        attempt = 0
        refreshed = False
        while True:
            outcome = None
            if self._csrf_needed(call) and self._csrf_token is None:
                outcome = yield _FETCH_CSRF  # None, or the token endpoint's 401 to raise
            if outcome is None:
                outcome = yield _REQUEST
            if isinstance(outcome, httpx.HTTPError):
                wait = self.retry.delay(attempt, None)
                if not isinstance(outcome, _TRANSIENT) \
                        or not self._may_retry(attempt, started, deadline, wait):
                    raise self._unreachable(outcome) from None
                yield wait
                attempt += 1
                continue
            response: httpx.Response = outcome
            if response.status_code in THROTTLE_STATUSES:
                self.pace.throttled()
            if _is_csrf_rejection(response) and not refreshed and self._csrf_enabled is not False:
                self._csrf_token = None  # expired or rotated: fetch a new token once
                self._csrf_enabled = None
                refreshed = True
                continue
            if response.status_code in RETRY_STATUSES:
                wait = self.retry.delay(attempt, _retry_after(response))
                if self._may_retry(attempt, started, deadline, wait):
                    yield wait
                    attempt += 1
                    continue
            return response, attempt

    def _may_retry(self, attempt: int, started: float, deadline: float, wait: float) -> bool:
        now = time.monotonic()
        return (attempt < self.retry.max_retries and now - started + wait <= self.retry.max_total
                and now + wait < deadline)

    def _csrf_needed(self, call: Call) -> bool:
        return call.method == "POST" and self._csrf_enabled is not False

    def _csrf_headers(self) -> dict[str, str]:
        if self._csrf_token:
            return {"Prefect-Csrf-Token": self._csrf_token, "Prefect-Csrf-Client": _CSRF_CLIENT}
        return {}

    def _accept_csrf(self, response: httpx.Response) -> httpx.Response | None:
        """Learn the CSRF setting from the token endpoint; return its answer if it is a 401.

        A Prefect server checks CSRF before credentials (its CsrfMiddleware wraps the API app
        whose basic-auth middleware answers 401), so with a wrong password the POST says
        "invalid CSRF token" while the token GET says 401, the real cause."""
        if response.status_code == 200:
            try:
                self._csrf_token = response.json()["token"]
                self._csrf_enabled = True
            except (ValueError, KeyError, TypeError):
                self._csrf_enabled = False
        elif response.status_code in (404, 405, 422):
            # 422 "CSRF protection is disabled", or an older server without the route
            self._csrf_enabled = False
        elif response.status_code == 401:
            return response
        # anything else (a transient 5xx, a 429) leaves it unknown: ask again next time
        return None


_CSRF_CLIENT = f"prefect-widgets-{random.getrandbits(64):016x}"


def _advance(steps: Generator[Any, Any, tuple[httpx.Response, int]], outcome: Any
             ) -> tuple[Any, tuple[httpx.Response, int] | None]:
    """Hand an outcome to the retry loop: (its next step, None), or (None, its result)."""
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
    retry=None, transport=None, max_concurrency=None)`: settings resolve like Prefect's
    (arguments, `configure()`, environment, profile). `timeout` is each call's whole deadline
    (connect, the whole answer, retries and their waits): past it, `DeadlineExceeded`.
    `transport` is an `httpx.BaseTransport`; with one, the deadline is checked between
    attempts and chunks. `max_concurrency` bounds the pages of an export read at once
    (default: measured on the first big export, 1 for a server that serves one at a time).
    """

    _httpx = httpx.Client

    def _deadline_transport(self) -> httpx.BaseTransport:
        return DeadlineTransport()

    def _final_check(self, request: httpx.Request) -> None:
        self._refuse_outside_allow_list(request)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _receive(self, request: httpx.Request, deadline: float, progress: Progress
                 ) -> httpx.Response:
        response = self._http.send(request, stream=True)
        progress.headers = True
        try:
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                progress.got(chunk, deadline, request)
        finally:
            response.close()
        return whole_response(response, chunks)

    def _fetch_csrf(self, deadline: float, progress: Progress) -> httpx.Response | None:
        if not self._lock.acquire(timeout=seconds_left(deadline)):  # one fetch for all threads
            raise httpx.PoolTimeout("waiting for another thread's CSRF token request")
        try:
            if self._csrf_token is None and self._csrf_enabled is not False:
                return self._accept_csrf(self._receive(self._csrf_request(deadline), deadline,
                                                       progress))
            return None
        finally:
            self._lock.release()

    def _send(self, call: Call, deadline: float) -> tuple[httpx.Response, int]:
        steps = self._retrying(call, deadline)
        step, done = next(steps), None
        while done is None:
            progress = Progress()
            try:
                if step is _FETCH_CSRF:
                    outcome: Any = self._fetch_csrf(deadline, progress)
                elif step is _REQUEST:
                    outcome = self._receive(self._request(call, deadline), deadline, progress)
                else:
                    time.sleep(step)
                    outcome = None
            except httpx.TimeoutException as exc:
                if time.monotonic() >= deadline - 0.01:
                    raise self._late(call, progress.phase(exc)) from None
                outcome = exc
            except httpx.HTTPError as exc:
                outcome = exc
            step, done = _advance(steps, outcome)
        return done

    def call(self, call: Call) -> JSONValue:
        """Send one `Call` within the deadline, retrying transient failures; return decoded
        JSON or raise a `PrefectWidgetsError`."""
        self._check(call)
        deadline = time.monotonic() + self.timeout
        with sockets_bounded_by(deadline):
            response, retries = self._send(call, deadline)
        return self._answer(call, response, retries)

    def call_batch(self, batch: Batch) -> list[JSONValue]:
        """Send a `Batch`'s calls, up to `pace` in flight from a thread pool; their answers
        in order, or the first call's error that failed."""
        return send_paced(self.call, batch.calls, self.pace)

    def run(self, operation: Operation[T]) -> T:
        return run_sync(self, operation)


class AsyncClient(_Base):
    """The asyncio twin of `Client`, for code already inside an event loop (same arguments,
    the same deadline per call, enforced by cancellation; `transport` is an
    `httpx.AsyncBaseTransport`)."""

    _httpx = httpx.AsyncClient

    async def _final_check(self, request: httpx.Request) -> None:
        self._refuse_outside_allow_list(request)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _receive(self, request: httpx.Request, deadline: float, progress: Progress
                       ) -> httpx.Response:
        response = await self._http.send(request, stream=True)
        progress.headers = True
        try:
            chunks = []
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                progress.got(chunk, deadline, request)
        finally:
            await response.aclose()
        return whole_response(response, chunks)

    async def _send(self, call: Call, deadline: float, progress: list[Progress]
                    ) -> tuple[httpx.Response, int]:
        steps = self._retrying(call, deadline)
        step, done = next(steps), None
        while done is None:
            progress[0] = Progress()
            try:
                if step is _FETCH_CSRF:
                    outcome: Any = self._accept_csrf(await self._receive(
                        self._csrf_request(deadline), deadline, progress[0]))
                elif step is _REQUEST:
                    outcome = await self._receive(self._request(call, deadline), deadline,
                                                  progress[0])
                else:
                    await asyncio.sleep(step)
                    outcome = None
            except httpx.HTTPError as exc:
                outcome = exc
            step, done = _advance(steps, outcome)
        return done

    async def call(self, call: Call) -> JSONValue:
        self._check(call)
        deadline = time.monotonic() + self.timeout
        progress = [Progress()]
        try:
            with anyio.fail_after(self.timeout):
                response, retries = await self._send(call, deadline, progress)
        except TimeoutError:
            raise self._late(call, progress[0].phase(None)) from None
        return self._answer(call, response, retries)

    async def call_batch(self, batch: Batch) -> list[JSONValue]:
        """`Client.call_batch` with `asyncio.gather`."""
        return await gather_paced(self.call, batch.calls, self.pace)

    async def run(self, operation: Operation[T]) -> T:
        return await run_async(self, operation)


def run_sync(client: Client, operation: Operation[T]) -> T:
    """Drive an operation generator with a sync client."""
    try:
        step = next(operation)
        while True:
            step = operation.send(client.call_batch(step) if isinstance(step, Batch)
                                  else client.call(step))
    except StopIteration as stop:
        return stop.value


async def run_async(client: AsyncClient, operation: Operation[T]) -> T:
    """Drive an operation generator with an async client."""
    try:
        step = next(operation)
        while True:
            step = operation.send(await client.call_batch(step) if isinstance(step, Batch)
                                  else await client.call(step))
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
