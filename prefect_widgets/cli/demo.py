"""`prefect-widgets demo`: sample flows on a throwaway local server and a report (the work is
`prefect_widgets.demo.run_demo`)."""

from __future__ import annotations

import signal

import typer

from .app import app, command


@command(app, "demo")
def demo(
    api_url: str | None = typer.Option(None, help="Use this server instead of a throwaway one."),
    output: str = typer.Option("demo-report.html", "-o", "--output", help="Report file."),
    lab: bool = typer.Option(False, help="Open JupyterLab on the notebooks afterwards."),
    notebooks_dir: str | None = typer.Option(
        None, help="Where --lab copies the notebooks (default: a new temp dir); existing files "
        "are kept."),
    browser: bool = typer.Option(True, help="Let --lab open a web browser."),
    sample: list[str] = typer.Option(
        [], "--sample", help="Run only this sample flow (repeatable; default: all of them)."),
) -> None:
    """Run sample flows on a throwaway local Prefect server and write a report."""
    from prefect_widgets.demo import run_demo

    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the servers too, like Ctrl-C
    run_demo(api_url=api_url, output=output, lab=lab, notebooks_dir=notebooks_dir,
             open_browser=browser, echo=typer.echo, samples=sample)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
