"""`prefect-widgets demo`: sample flows on a throwaway local server and a report (the work is
`prefect_widgets.demo.run_demo`)."""

from __future__ import annotations

import typer

from .app import app


@app.command()
def demo(
    api_url: str | None = typer.Option(None, help="Use this server instead of a throwaway one."),
    output: str = typer.Option("demo-report.html", "-o", "--output", help="Report file."),
    lab: bool = typer.Option(False, help="Open JupyterLab on the notebooks afterwards."),
) -> None:
    """Run sample flows on a throwaway local Prefect server and write a report."""
    from prefect_widgets.demo import run_demo

    run_demo(api_url=api_url, output=output, lab=lab, echo=typer.echo)
