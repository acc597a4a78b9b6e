"""The `prefect-widgets` command line."""

from __future__ import annotations

from typing import Optional

import typer

app = typer.Typer(help="Look up, export and report on Prefect runs.", no_args_is_help=True)


@app.callback()
def options() -> None:
    """Look up, export and report on Prefect runs."""


@app.command()
def demo(
    api_url: Optional[str] = typer.Option(None, help="Use this server instead of a throwaway one."),
    output: str = typer.Option("demo-report.html", "-o", "--output", help="Report file."),
    lab: bool = typer.Option(False, help="Open JupyterLab on the notebooks afterwards."),
) -> None:
    """Run sample flows on a throwaway local Prefect server and write a report."""
    from .demo import run_demo

    run_demo(api_url=api_url, output=output, lab=lab, echo=typer.echo)


def main() -> None:
    app()
