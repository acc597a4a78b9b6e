"""The typer app of the command line: global options, the state of one invocation, library
errors turned into one stderr line and an exit code, and option types and parsers the
commands share.

Exit codes: 0 ok, 1 not found or bad input, 2 usage (an ambiguous run name, id prefix or
task slug too: `AmbiguousRun`), 3 server unreachable, auth refused or server failing.
Errors are one line on stderr, terminal-safe like every other output (`output.clean`);
`--debug` adds the traceback. The API key is never printed.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from typer.core import TyperGroup

from prefect_widgets._version import __version__
from prefect_widgets.errors import (
    AmbiguousRun,
    BadResponse,
    ConfigurationError,
    InvalidRequest,
    NotFound,
    PrefectWidgetsError,
    ResultNotAvailable,
    ServerError,
    ServerUnreachable,
    Unauthorized,
    WatchTimeout,
)
from prefect_widgets.formatting import clock, visible

if TYPE_CHECKING:
    from prefect_widgets.client import Client

    from .output import Output

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_SERVER = 0, 1, 2, 3
_INPUT_ERRORS = (NotFound, InvalidRequest, ConfigurationError, ResultNotAvailable,
                 WatchTimeout)
_SERVER_ERRORS = (ServerUnreachable, Unauthorized, ServerError, BadResponse)

STATE_HELP = ("State type; repeat or comma-separate for several: SCHEDULED, PENDING, RUNNING, "
              "PAUSED, CANCELLING, COMPLETED, FAILED, CANCELLED, CRASHED (any case).")
OutputFormat = Literal["table", "tsv", "csv", "json"]

#: a command's own `--output`, overriding the global one
OutputOpt = Annotated[OutputFormat | None, typer.Option(
    "--output", case_sensitive=False, metavar="FORMAT",
    help="Output format (overrides the global --output): table, tsv, csv or json.")]
#: `--state TYPE`, repeatable (see `parse_states`)
StateOpt = Annotated[list[str] | None, typer.Option("--state", metavar="TYPE", help=STATE_HELP)]
#: `--utc/--local`: the zone of the times a command prints
TimesOpt = Annotated[bool, typer.Option(
    "--utc/--local", metavar="",
    help="Show times in UTC (the default, the same on every machine) or in this machine's "
         "time zone; either way with date and zone.")]
#: `--wide`: full ids and uncut cells in tables
WideOpt = Annotated[bool, typer.Option(
    "--wide", metavar="",
    help="Full ids and every cell whole (wrapped onto more lines) instead of short ids and "
         "cells cut with an ellipsis to fit the terminal.")]


class Group(TyperGroup):
    """A typer group whose `--help` rows, its own and its commands', show no `<bool>` type."""

    def get_help_option(self, ctx: Any) -> Any:
        return _quiet(super().get_help_option(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None and not isinstance(found, Group):
            _quiet(found.get_help_option(ctx))
        return found


def _quiet(option: Any) -> Any:
    if option is not None:
        option.metavar = ""
    return option


app = typer.Typer(
    cls=Group,
    name="prefect-widgets",  # the program name in --help, however the app is invoked
    help="Look up, export and report on Prefect runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# --------------------------------------------------------------------------- shared state


@dataclass
class State:
    """What the global options decided, shared by every command of one invocation."""

    output: str | None = None
    debug: bool = False
    retries: int = 2
    timeout: float = 30.0
    secrets: tuple[str, ...] = ()
    local_times: bool = False
    wide: bool = False
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            from prefect_widgets.client import Client, RetryPolicy

            self._client = Client(timeout=self.timeout,
                                  retry=RetryPolicy(max_retries=self.retries, max_total=30.0))
            self.secrets = tuple({*self.secrets, *self._client.settings.secrets})
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def out(self, override: str | None = None) -> Output:
        from .output import Output

        fmt = override or self.output
        if fmt is None:
            fmt = "table" if sys.stdout.isatty() else "tsv"
        return Output(fmt.lower(), wide=self.wide)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


_current: ContextVar[State | None] = ContextVar("prefect_widgets_cli_state", default=None)


def current_state() -> State:
    """This invocation's options (set by the `options` callback, which always runs first)."""
    state = _current.get()
    if state is None:
        state = State()
        _current.set(state)
    return state


# --------------------------------------------------------------------------- errors


def _fail(state: State, exc: BaseException, code: int, prefix: str = "Error") -> None:
    """One stderr line (run data in it made visible and cut, like a table cell), then exit;
    with --debug the whole traceback first (made visible, not cut)."""
    from .output import clean

    message = " ".join(str(exc).split()) or type(exc).__name__
    if state.debug:
        sys.stderr.write(visible(state.scrub("".join(traceback.format_exception(exc)))))
    sys.stderr.write(clean(state.scrub(f"{prefix}: {message}"), multiline=False) + "\n")
    sys.stderr.flush()
    raise typer.Exit(code)


F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(func: F) -> F:
    """Turn library errors into one stderr line and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = current_state()
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except ConfigurationError as exc:
            hint = str(exc).replace("pass api_url=...", "pass --api-url URL")
            _fail(state, ConfigurationError(hint), EXIT_INPUT)
        except AmbiguousRun as exc:
            _fail(state, exc, EXIT_USAGE)
        except _INPUT_ERRORS as exc:
            _fail(state, exc, EXIT_INPUT)
        except _SERVER_ERRORS as exc:
            _fail(state, exc, EXIT_SERVER)
        except PrefectWidgetsError as exc:
            _fail(state, exc, EXIT_INPUT)
        except KeyboardInterrupt:
            sys.stderr.write("Interrupted.\n")
            raise typer.Exit(130) from None
        except BrokenPipeError:  # `prefect-widgets ... | head`
            sys.stderr.close()
            raise typer.Exit(EXIT_OK) from None
        except Exception as exc:  # noqa: BLE001 - one line, traceback with --debug
            detail = f"{type(exc).__name__}: {exc}. Run with --debug for the traceback."
            _fail(state, RuntimeError(detail), EXIT_INPUT, prefix="Error (unexpected)")
        finally:
            state.close()

    return wrapper  # type: ignore[return-value]


def command(group: typer.Typer, name: str) -> Callable[[F], F]:
    """Register a function as command `name` of `group`, its errors handled by
    `handles_errors`."""

    def register(func: F) -> F:
        wrapped = handles_errors(func)
        group.command(name)(wrapped)
        return wrapped

    return register


# --------------------------------------------------------------------------- global options


def _version(value: bool) -> None:
    if value:
        typer.echo(f"prefect-widgets {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    ctx: typer.Context,
    api_url: Annotated[str | None, typer.Option(
        "--api-url", metavar="URL",
        help="Prefect API URL, e.g. http://127.0.0.1:4200/api (default: PREFECT_API_URL, "
             "then the active Prefect profile).")] = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", metavar="KEY", show_default=False,
        help="Prefect Cloud API key (default: PREFECT_API_KEY or the profile). Never printed.",
    )] = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", metavar="NAME",
        help="Prefect profile from $PREFECT_HOME/profiles.toml to take settings from.")] = None,
    output: Annotated[OutputFormat | None, typer.Option(
        "--output", case_sensitive=False, metavar="FORMAT",
        help="Output format: table (default on a terminal), tsv (default when piped: "
             "tab-separated, no header), csv (with header) or json.")] = None,
    debug: Annotated[bool, typer.Option(
        "--debug", metavar="", help="Print the full traceback with errors.")] = False,
    retries: Annotated[int, typer.Option(
        "--retries", min=0, max=20, metavar="N",
        help="Retries of a failed or refused request before giving up.")] = 2,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.1, metavar="SECONDS",
        help="Deadline of each request: connecting, the whole answer, retries and their waits."
    )] = 30.0,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, metavar="",
        help="Print the version and exit.")] = False,
) -> None:
    """Look up, export and report on Prefect runs.

    Connection settings resolve like Prefect's own client: options, then PREFECT_API_URL and PREFECT_API_KEY, then the active profile.

    A run is named by its id, a unique start of its id (4 or more characters, as the short ids of the tables show) or its name.

    Exit codes: 0 ok, 1 not found or bad input, 2 usage or an ambiguous run, 3 server unreachable or refusing.
    """  # noqa: E501 - one line per paragraph: rich wraps it to the terminal
    from prefect_widgets.settings import configure

    if api_url or api_key or profile:  # otherwise keep this process's configure()/env/profile
        configure(api_url=api_url, api_key=api_key, profile=profile)
    ctx.obj = state = State(output=output, debug=debug, retries=retries, timeout=timeout,
                            secrets=tuple(s for s in (api_key,) if s))
    _current.set(state)


# --------------------------------------------------------------------------- shared helpers


def parse_states(values: list[str] | None) -> list[str] | None:
    """`--state failed --state crashed` or `--state failed,crashed` → upper-case types."""
    if not values:
        return None
    found = [part.strip().upper() for value in values for part in value.split(",")]
    found = [value for value in found if value]
    if not found:
        raise InvalidRequest("--state needs a state type such as FAILED.")
    from prefect_widgets.states import STATE_TYPES

    bad = [value for value in found if value not in STATE_TYPES]
    if bad:
        raise InvalidRequest(f"Unknown state type {bad[0]!r}; use one of "
                             f"{', '.join(STATE_TYPES)}.")
    return found


def limit_or_none(value: int) -> int | None:
    """`--limit 0` means no limit."""
    return None if value == 0 else value


def interactive() -> bool:
    """Whether a person watches stderr (progress bars and hints make sense there)."""
    return sys.stderr.isatty()


def flow_run_arg(help: str) -> Any:
    """The FLOW_RUN argument of a command (an id, id prefix or name), with what it is for."""
    return typer.Argument(metavar="FLOW_RUN", show_default=False,
                          help=f"{help} An id, a unique id prefix or a run name.")


def view_options(*, utc: bool, wide: bool = False) -> State:
    """This invocation's state, with the command's `--utc/--local` and `--wide` applied."""
    state = current_state()
    state.local_times, state.wide = not utc, wide
    return state


def shown_time(value: datetime | str | None) -> str:
    """A time as this invocation shows it: date, time and zone, UTC unless `--local`."""
    return clock(value, local=current_state().local_times)
