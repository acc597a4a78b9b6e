"""prefect-widgets: Prefect flow runs as first-class citizens of Jupyter notebooks.

Prefect 1's `prefect.backend` view API (`FlowRunView`, `TaskRunView`, `FlowView`) on the
Prefect 3 REST API, with rich displays, live widgets, DataFrames and a CLI. Importing this
package never imports `prefect`.
"""

from __future__ import annotations

from . import options  # noqa: E402
from ._version import __version__  # noqa: E402
from .artifacts import (  # noqa: E402
    Artifact,
    ArtifactList,
    ImageArtifact,
    LinkArtifact,
    MarkdownArtifact,
    ProgressArtifact,
    TableArtifact,
)
from .client import AsyncClient, Client  # noqa: E402
from .errors import *  # noqa: E402,F403
from .errors import __all__ as _errors_all  # noqa: E402
from .logs import LogEntry, LogList, watch_flow_run  # noqa: E402
from .queries import FlowRunList, TaskRunList  # noqa: E402
from .settings import configure  # noqa: E402
from .state_history import StateHistory, StateSpan  # noqa: E402
from .states import State  # noqa: E402
from .sync import sync_history  # noqa: E402  (pyarrow only when it runs)
from .tracebacks import Failure, Frame, Traceback, parse_traceback  # noqa: E402
from .views import FlowRunView, FlowView, TaskRunView  # noqa: E402

__all__ = [
    "__version__", "options", "Client", "AsyncClient", "configure", "State",
    "FlowView", "FlowRunView", "TaskRunView", "FlowRunList", "TaskRunList",
    "LogEntry", "LogList", "watch_flow_run", "FlowRunWidget", "Artifact", "ArtifactList",
    "MarkdownArtifact", "LinkArtifact", "TableArtifact", "ProgressArtifact", "ImageArtifact",
    "StateHistory", "StateSpan", "Failure", "Frame", "Traceback", "parse_traceback",
    "sync_history",
    *_errors_all,
]


def __getattr__(name: str):
    if name == "FlowRunWidget":  # imported on first use: anywidget is only needed for widgets
        from .widget import FlowRunWidget

        return FlowRunWidget
    raise AttributeError(f"module 'prefect_widgets' has no attribute {name!r}")


def load_ipython_extension(ipython):  # pragma: no cover - thin shim
    from .extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):  # pragma: no cover - thin shim
    from .extension import unload_ipython_extension as unload

    unload(ipython)
