"""`prefect-widgets cache info|clear`: what the disk cache of finished runs holds; empty it."""

from __future__ import annotations

from typing import Any

import typer

from .app import Group, OutputOpt, app, command, current_state
from .output import Column, detail_table

cache_app = typer.Typer(
    cls=Group, no_args_is_help=True,
    help="The disk cache of finished runs' data (PREFECT_WIDGETS_CACHE_DIR; off with "
         "PREFECT_WIDGETS_CACHE=0).")
app.add_typer(cache_app, name="cache")


def _record() -> dict[str, Any]:
    from prefect_widgets.cache import RunCache, disk_cache

    cache = RunCache.from_env()
    info = cache.info()
    return {"path": str(info.path), "enabled": disk_cache() is not None, "bytes": info.bytes,
            "max_bytes": info.max_bytes, "servers": info.servers, "runs": info.runs,
            "files": info.files}


@command(cache_app, "info")
def info(output: OutputOpt = None) -> None:
    """Where the cache is, whether it is on, and how much it holds."""
    record = _record()
    out = current_state().out(output)
    if out.format == "json":
        out.json(record)
    elif out.is_table:
        out.print(detail_table([
            ("Path", record["path"]),
            ("Enabled", "yes" if record["enabled"] else "no (PREFECT_WIDGETS_CACHE=0)"),
            ("Size", f"{_mib(record['bytes'])} of {_mib(record['max_bytes'])}"),
            ("Holds", f"{record['runs']} runs of {record['servers']} servers, "
                      f"{record['files']} files"),
        ]))
    else:
        out.rows([Column(key, key.upper()) for key in record], [record])


@command(cache_app, "clear")
def clear() -> None:
    """Delete every cached run (of every server); the next views read the server again."""
    from prefect_widgets.cache import RunCache

    cache = RunCache.from_env()
    freed = cache.clear()
    typer.echo(f"Cleared the cache at {cache.root} ({_mib(freed)} freed).")


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"
