"""The IPython extension: `%load_ext prefect_widgets`, the notebook entry point.

Loading it does two things:

* registers display formatters for Prefect's own objects (`formatters`), by type name, so
  `prefect` stays unimported until the user's code imports it;
* registers the magics `%prefect_runs`, `%prefect_run`, `%%prefect_watch` (`watch`) and
  `%prefect_widgets config` (`magics`).

`%unload_ext prefect_widgets` removes exactly what loading added and puts back any formatter
or magic it replaced. This module only wires those together, once per shell.
"""

from __future__ import annotations

from typing import Any

from .formatters import (
    FormatterRegistration,
    close_display_clients,
    display_client,
    format_html,
    format_list_html,
    install_formatters,
)
from .magics import MagicsRegistration, PrefectMagics, install_magics
from .watch import watch_cell

__all__ = [
    "load_ipython_extension", "unload_ipython_extension", "PrefectMagics",
    "format_html", "format_list_html", "display_client", "watch_cell",
]

_loaded: dict[int, tuple[FormatterRegistration, MagicsRegistration]] = {}


def load_ipython_extension(ipython: Any) -> None:
    """Register the formatters (by type name: `prefect` is not imported) and the magics."""
    if id(ipython) in _loaded:
        return
    _loaded[id(ipython)] = (install_formatters(ipython), install_magics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """Remove what loading added; restore replaced formatters and magics."""
    loaded = _loaded.pop(id(ipython), None)
    if loaded is None:
        return
    for registration in loaded:
        registration.remove()
    if not _loaded:
        close_display_clients()
