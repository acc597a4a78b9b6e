"""HTTP access to a Prefect 3 server: sync and async clients, retries, typed errors.

Operations are written once as generators that yield `Call`s (or a `Batch` of calls that
may be sent at once, at most the client's `Pace` in flight) and receive decoded JSON (see
`run_sync` / `run_async`), so the sync and async APIs share every line of logic.
The clients are read-only by construction: a request leaves only if its method and full URL
match `ALLOWED_REQUESTS`, checked on the URL httpx is about to send. Every call has one
deadline, the client's `timeout=` (connect, the whole answer, retries and their waits).

Long module: both clients share one base (headers, auth, CSRF, the allow-list, the deadline,
the retry loop, the mapping of answers to typed errors, the sending of batches); splitting it
would spread one protocol, and what may leave the process, over several files.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import datetime
import email.utils
import html
import random
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, urlsplit

import anyio
import httpcore
import httpx

from ._version import __version__
from .errors import (
    BadResponse,
    ConfigurationError,
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
           "refusal", "run_sync", "run_async", "get_client"]

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
    call's would be."""

    calls: tuple[Call, ...]


Operation = Generator[Call | Batch, Any, T]

#: the most calls in flight when `max_concurrency` is not given and parallel paging pays
AUTO_CONCURRENCY = 4
#: calls timed one at a time, then twice as many two at a time, to learn whether the server
#: answers in parallel (a SQLite-backed server serves one request at a time)
PROBE_CALLS = 3
#: two calls at once must cost at most this share of one call's time to be worth it
PARALLEL_GAIN = 0.8
#: answers that mean "slow down": each one halves the concurrency
THROTTLE_STATUSES = frozenset({429, 503})


class Pace:
    """How many calls of a `Batch` a client sends at once.

    Given `max_concurrency`, that; without, the first batch large enough probes the server
    (`PROBE_CALLS` one at a time against twice as many two at a time) and settles on
    `AUTO_CONCURRENCY` if two at a time were served faster, else on 1. A 429 or 503 halves
    the concurrency (not below 1); a batch without one adds one back, up to what was settled.
    """

    def __init__(self, max_concurrency: int | None) -> None:
        if max_concurrency is not None and (isinstance(max_concurrency, bool) or not isinstance(
                max_concurrency, int) or max_concurrency < 1):
            raise ConfigurationError(f"max_concurrency must be a whole number ≥ 1 (1: pages "
                                     f"one at a time), got {max_concurrency!r}.")
        #: the concurrency settled on (None until the probe ran), and the one in force now
        self.ceiling: int | None = max_concurrency
        self.limit = max_concurrency or 1
        self.throttles = 0
        self._one_at_a_time: float | None = None
        self._lock = threading.Lock()

    def segments(self, size: int) -> list[tuple[int, int, int | None]]:
        """A batch of `size` calls as runs of (start, stop, width); width None: `limit`."""
        if self.ceiling is not None or size < 3 * PROBE_CALLS:
            return [(0, size, None)]
        return [(0, PROBE_CALLS, 1), (PROBE_CALLS, 3 * PROBE_CALLS, 2),
                (3 * PROBE_CALLS, size, None)]

    def timed(self, start: int, stop: int, seconds: float) -> None:
        """Learn from the run of calls `start:stop` of `segments`: while probing, the first
        run is one at a time, the second two at a time; then settle the concurrency."""
        if self.ceiling is not None or stop <= start:
            return
        per_call = seconds / (stop - start)
        if start == 0:
            self._one_at_a_time = per_call
        elif self._one_at_a_time is not None:
            with self._lock:
                parallel = per_call <= PARALLEL_GAIN * self._one_at_a_time
                self.ceiling = self.limit = AUTO_CONCURRENCY if parallel else 1

    def throttled(self) -> None:
        with self._lock:
            self.throttles += 1
            self.limit = max(1, self.limit // 2)

    def recovered(self, throttles_before: int) -> None:
        """After a batch that nothing throttled: one more call in flight, up to `ceiling`."""
        with self._lock:
            if self.throttles == throttles_before and self.ceiling is not None:
                self.limit = min(self.ceiling, self.limit + 1)

    def allows(self, in_flight: int, width: int | None) -> bool:
        return in_flight < (width or self.limit)


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
                                        timeout=_left(deadline))

    def _csrf_request(self, deadline: float) -> httpx.Request:
        return self._http.build_request("GET", "/csrf-token", params={"client": _CSRF_CLIENT},
                                        timeout=_left(deadline))

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

# --------------------------------------------------------------------------- the deadline

#: the deadline (time.monotonic()) of the sync call running in this thread, if any
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "prefect_widgets_deadline", default=None)


def _left(deadline: float) -> float:
    """Seconds until `deadline`, never zero (a zero socket timeout would mean non-blocking)."""
    return max(deadline - time.monotonic(), 0.001)


def _bounded(timeout: float | None) -> float | None:
    """A socket wait of `timeout` cut to what is left of the running call's deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    return _left(deadline) if timeout is None else min(timeout, _left(deadline))


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


class _DeadlineTransport(httpx.BaseTransport):
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
class _Progress:
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


def _whole(response: httpx.Response, chunks: list[bytes]) -> httpx.Response:
    """The answer with its whole (already decoded) body."""
    headers = [(key, value) for key, value in response.headers.multi_items()
               if key.lower() not in ("content-encoding", "content-length")]
    return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks),
                          request=response.request)


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
        return _DeadlineTransport()

    def _final_check(self, request: httpx.Request) -> None:
        self._refuse_outside_allow_list(request)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _receive(self, request: httpx.Request, deadline: float, progress: _Progress
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
        return _whole(response, chunks)

    def _fetch_csrf(self, deadline: float, progress: _Progress) -> httpx.Response | None:
        if not self._lock.acquire(timeout=_left(deadline)):  # one fetch for all threads
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
            progress = _Progress()
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
        token = _DEADLINE.set(deadline)
        try:
            response, retries = self._send(call, deadline)
        finally:
            _DEADLINE.reset(token)
        return self._answer(call, response, retries)

    def call_batch(self, batch: Batch) -> list[JSONValue]:
        """Send a `Batch`'s calls, up to `pace` in flight from a thread pool; their answers
        in order, or the first call's error that failed."""
        answers: list[JSONValue] = []
        throttles = self.pace.throttles
        for start, stop, width in self.pace.segments(len(batch.calls)):
            began = time.monotonic()
            answers += self._concurrently(batch.calls[start:stop], width)
            self.pace.timed(start, stop, time.monotonic() - began)
        self.pace.recovered(throttles)
        return answers

    def _concurrently(self, calls: Sequence[Call], width: int | None) -> list[JSONValue]:
        if len(calls) <= 1 or (width or self.pace.limit) <= 1:
            return [self.call(call) for call in calls]
        slots = threading.Condition()
        in_flight = 0

        def one(call: Call) -> JSONValue:
            nonlocal in_flight
            with slots:
                slots.wait_for(lambda: self.pace.allows(in_flight, width))
                in_flight += 1
            try:
                return self.call(call)
            finally:
                with slots:
                    in_flight -= 1
                    slots.notify_all()

        pool = ThreadPoolExecutor(max_workers=min(len(calls), width or self.pace.ceiling or 1),
                                  thread_name_prefix="prefect-widgets-page")
        try:
            futures = [pool.submit(contextvars.copy_context().run, one, call) for call in calls]
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

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

    async def _receive(self, request: httpx.Request, deadline: float, progress: _Progress
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
        return _whole(response, chunks)

    async def _send(self, call: Call, deadline: float, progress: list[_Progress]
                    ) -> tuple[httpx.Response, int]:
        steps = self._retrying(call, deadline)
        step, done = next(steps), None
        while done is None:
            progress[0] = _Progress()
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
        progress = [_Progress()]
        try:
            with anyio.fail_after(self.timeout):
                response, retries = await self._send(call, deadline, progress)
        except TimeoutError:
            raise self._late(call, progress[0].phase(None)) from None
        return self._answer(call, response, retries)

    async def call_batch(self, batch: Batch) -> list[JSONValue]:
        """`Client.call_batch` with `asyncio.gather`."""
        answers: list[JSONValue] = []
        throttles = self.pace.throttles
        for start, stop, width in self.pace.segments(len(batch.calls)):
            began = time.monotonic()
            answers += await self._concurrently(batch.calls[start:stop], width)
            self.pace.timed(start, stop, time.monotonic() - began)
        self.pace.recovered(throttles)
        return answers

    async def _concurrently(self, calls: Sequence[Call], width: int | None
                            ) -> list[JSONValue]:
        if len(calls) <= 1 or (width or self.pace.limit) <= 1:
            return [await self.call(call) for call in calls]
        slots = asyncio.Condition()
        in_flight = 0

        async def one(call: Call) -> JSONValue:
            nonlocal in_flight
            async with slots:
                await slots.wait_for(lambda: self.pace.allows(in_flight, width))
                in_flight += 1
            try:
                return await self.call(call)
            finally:
                async with slots:
                    in_flight -= 1
                    slots.notify_all()

        tasks = [asyncio.ensure_future(one(call)) for call in calls]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

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
