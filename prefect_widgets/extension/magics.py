"""The magics: `%prefect_runs`, `%prefect_run`, `%%prefect_watch`, `%prefect_widgets config`.

`PrefectMagics` parses each magic's arguments and turns the package's errors into tidy
`UsageError`s; `install_magics` registers it on a shell and remembers what it replaced, so
`MagicsRegistration.remove` can put that back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from prefect_widgets.errors import PrefectWidgetsError
from prefect_widgets.settings import Settings, resolve_settings

from .watch import has_widget, watch_cell

__all__ = ["PrefectMagics", "install_magics", "MagicsRegistration", "settings_summary"]


def _looks_like_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def settings_summary(settings: Settings) -> str:
    """The resolved settings as text, without secrets."""
    auth = ("API key (hidden)" if settings.api_key else
            "basic auth string (hidden)" if settings.auth_string else "none")
    return "\n".join([
        f"API URL: {settings.api_url}",
        f"UI URL:  {settings.ui_url or '—'}",
        f"Profile: {settings.profile or '—'}",
        f"Auth:    {auth}",
    ])


@magics_class
class PrefectMagics(Magics):
    """`%prefect_runs`, `%prefect_run`, `%%prefect_watch` and `%prefect_widgets config`."""

    @magic_arguments()
    @argument("--flow", default=None, help="only runs of the flow with this name")
    @argument("--state", nargs="+", default=None, metavar="TYPE",
              help="only runs in these state types, e.g. FAILED CRASHED")
    @argument("--tag", action="append", default=None, help="only runs with this tag (repeat)")
    @argument("--limit", type=int, default=20, help="how many runs, newest first (default 20)")
    @line_magic
    def prefect_runs(self, line: str) -> Any:
        """Recent flow runs, newest first, as a FlowRunList."""
        from prefect_widgets.views import FlowRunView

        args = parse_argstring(self.prefect_runs, line)
        try:
            return FlowRunView.query(flow_name=args.flow, state_type=args.state, tags=args.tag,
                                     limit=args.limit, sort="START_TIME_DESC")
        except PrefectWidgetsError as exc:
            raise UsageError(str(exc)) from None

    @magic_arguments()
    @argument("run", help="a flow run id, or a flow run name (the newest run with that name)")
    @argument("--live", action="store_true", help="return the live widget instead of a view")
    @line_magic
    def prefect_run(self, line: str) -> Any:
        """One flow run as a FlowRunView (or its live widget with --live)."""
        from prefect_widgets.views import FlowRunView

        args = parse_argstring(self.prefect_run, line)
        ref = args.run.strip("'\"")
        try:
            if _looks_like_uuid(ref):
                view = FlowRunView.from_flow_run_id(ref)
            else:
                view = FlowRunView.from_flow_run_name(ref)
        except PrefectWidgetsError as exc:
            raise UsageError(str(exc)) from None
        if not args.live:
            return view
        try:
            return view.widget(live=True)
        except ImportError as exc:
            raise UsageError(f"Live widgets are not available: {exc}") from None

    @magic_arguments()
    @argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    @argument("--wait", type=float, default=15.0,
              help="after the cell, wait up to this many seconds for runs to settle (default 15)")
    @argument("--max-runs", type=int, default=20, help="show at most this many runs (default 20)")
    @argument("--html", action="store_true", help="HTML reprs even where live widgets work")
    @argument("--widget", action="store_true", help="live widgets (needs a Jupyter kernel)")
    @cell_magic
    def prefect_watch(self, line: str, cell: str) -> Any:
        """Run the cell and show, below it, every flow run it starts, live, ending final."""
        __tracebackhide__ = True
        args = parse_argstring(self.prefect_watch, line)
        if args.html and args.widget:
            raise UsageError("Pass --html or --widget, not both.")
        if args.interval <= 0 or args.wait < 0 or args.max_runs < 1:
            raise UsageError("--interval must be > 0, --wait >= 0 and --max-runs >= 1.")
        use_widget = False if args.html else True if args.widget else None
        if use_widget and not has_widget():
            raise UsageError("Live widgets are not available (prefect_widgets.widget is missing).")
        try:
            resolve_settings()
        except PrefectWidgetsError as exc:
            raise UsageError(str(exc)) from None
        return watch_cell(self.shell, cell, interval=args.interval, wait=args.wait,
                          max_runs=args.max_runs, use_widget=use_widget)

    @magic_arguments()
    @argument("action", choices=["config"], help="config: set or show the connection settings")
    @argument("--api-url", default=None, help="the Prefect API URL, e.g. http://127.0.0.1:4200/api")
    @argument("--profile", default=None, help="a profile from $PREFECT_HOME/profiles.toml")
    @argument("--reset", action="store_true",
              help="forget settings made in this session (back to env and profiles)")
    @line_magic
    def prefect_widgets(self, line: str) -> None:
        """`%prefect_widgets config [--api-url URL] [--profile NAME] [--reset]`."""
        from prefect_widgets import settings as settings_module
        from prefect_widgets.settings import configure

        args = parse_argstring(self.prefect_widgets, line)
        previous = dict(settings_module._configured)
        if args.reset:
            configure()
        elif args.api_url is not None or args.profile is not None:
            given = {k: v for k, v in (("api_url", args.api_url), ("profile", args.profile))
                     if v is not None}
            configure(**{**previous, **given})
        try:
            resolved = resolve_settings()
        except PrefectWidgetsError as exc:
            configure(**previous)  # keep the settings that worked
            raise UsageError(str(exc)) from None
        text = settings_summary(resolved)
        for secret in resolved.secrets:  # belt and braces: never print a secret
            text = text.replace(secret, "***")
        print(text)


# --------------------------------------------------------------------------- registration


@dataclass
class MagicsRegistration:
    """The magics `install_magics` registered on one shell, to undo it exactly."""

    ipython: Any
    magics: PrefectMagics
    replaced: dict[tuple[str, str], Any] = field(default_factory=dict)

    def remove(self) -> None:
        """Unregister our magics; put back the ones they replaced."""
        manager = self.ipython.magics_manager
        for kind, names in self.magics.magics.items():
            for name in names:
                current = manager.magics[kind].get(name)
                if getattr(current, "__self__", None) is self.magics:
                    manager.magics[kind].pop(name)
                    if (kind, name) in self.replaced:
                        manager.magics[kind][name] = self.replaced[(kind, name)]
        if manager.registry.get(type(self.magics).__name__) is self.magics:
            manager.registry.pop(type(self.magics).__name__)


def install_magics(ipython: Any) -> MagicsRegistration:
    """Register `PrefectMagics`, remembering any magic of the same name it replaces."""
    reg = MagicsRegistration(ipython, PrefectMagics(ipython))
    for kind, names in reg.magics.magics.items():
        for name in names:
            existing = ipython.magics_manager.magics[kind].get(name)
            if existing is not None:
                reg.replaced[(kind, name)] = existing
    ipython.register_magics(reg.magics)
    return reg
