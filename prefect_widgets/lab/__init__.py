"""JupyterLab's "Prefect runs" panel: the Jupyter server extension that serves it, and where
its prebuilt front end lives (shipped in the wheel under `share/jupyter/labextensions`).

`pip install prefect-widgets` enables both (`jupyter-config/` in the wheel's shared data). The
routes (`_handlers`, imported only by a running Jupyter server) read the Prefect server with
the library's read-only client and settings, so the browser never sees the API key or the
auth string.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LABEXTENSION", "_jupyter_labextension_paths", "_jupyter_server_extension_points",
           "_load_jupyter_server_extension"]

#: the front end's npm name: its folder under share/jupyter/labextensions
LABEXTENSION = "prefect-widgets-frontend"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": LABEXTENSION}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "prefect_widgets.lab"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Add the panel's routes to the running Jupyter server."""
    from ._handlers import PanelBackend, route_handlers

    web_app = server_app.web_app
    web_app.settings["prefect_widgets_backend"] = PanelBackend()
    web_app.add_handlers(".*$", route_handlers(web_app.settings["base_url"]))
    server_app.log.info("prefect_widgets: the Prefect runs panel's routes are at %s",
                        f"{web_app.settings['base_url']}prefect-widgets/")
