"""Sample flows for the demo, the notebooks and the test suite.

Run them against a server with `python -m prefect_widgets.samples [--hostile]`: it prints
one JSON object mapping each sample to its flow run id. Prefect is imported inside
`define_flows()` only, so importing this module stays cheap.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

#: Strings that must stay inert wherever they are rendered.
HOSTILE = {
    "script": "<script>window.__pw_xss=1</script>",
    "img": '<img src=x onerror="window.__pw_xss=1">',
    "attr": '" onmouseover="window.__pw_xss=1" x="',
    "url": "javascript:window.__pw_xss=1",
    "rtl": "invoice\u202etxt.exe",
    "emoji": "rocket 🚀 données",
}

MAPPED_SIZE = 450

#: on-demand samples (not in `DEFAULT`): `named_<n>` maps `sq-{x}` over range(n); the task
#: run name gives each run's input position
NAMED_SIZES = (3, 40)
#: the inputs of the `load_files` sample, whose task runs are named `load-{path}`
LOAD_PATHS = ("alpha.csv", "beta.csv", "gamma.csv", "delta.csv")
#: every on-demand sample (run them with `PrefectServer.run_flows(*ON_DEMAND)`)
ON_DEMAND = ["named_3", "named_40", "load_files", "retried", "task_and_subflow"]
#: on-demand samples of failed runs and artifacts (issue 18): run them with
#: `PrefectServer.run_flows(*DEBUGGING)`
DEBUGGING = ["task_error", "subflow_error", "retries_error", "crash", "artifacts"]
#: the image every image artifact sample shows (a 1x1 PNG as a `data:` URL)
PIXEL_PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
             "2mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def define_flows() -> dict[str, Any]:
    """The sample flows, keyed by name (imports prefect)."""
    from prefect import flow, get_run_logger, task

    attempts: dict[str, Any] = {}

    @task
    def capitalize(name: str) -> str:
        return name.upper()

    @task
    def say_hello(name: str) -> str:
        get_run_logger().info("Hello, %s!", name)
        return f"Hello, {name}!"

    @flow(name="hello-world", log_prints=True)
    def hello_world(name: str = "world") -> str:
        get_run_logger().info("Saying hello to %s", name)
        return say_hello(capitalize(name))

    @task
    def load_rows() -> list[int]:
        return [1, 2, 3]

    @task
    def write_to_warehouse(rows: list[int]) -> None:
        get_run_logger().error("Warehouse connection refused")
        raise ConnectionError("Could not connect to warehouse at db.internal:5432")

    @flow(name="nightly-etl")
    def failing_etl() -> None:
        write_to_warehouse(load_rows())

    @task(retries=2, retry_delay_seconds=1)
    def flaky_download() -> str:
        attempts["flaky"] = attempts.get("flaky", 0) + 1
        if attempts["flaky"] < 3:
            raise TimeoutError(f"Attempt {attempts['flaky']} timed out")
        return "downloaded"

    @flow(name="retrying-download")
    def retrying() -> str:
        return flaky_download()

    @task
    def square(x: int) -> int:
        return x * x

    @flow(name="mapped-squares")
    def mapped(n: int = MAPPED_SIZE) -> int:
        return sum(f.result() for f in square.map(range(n)))

    @flow(name="child-report")
    def child(x: int) -> int:
        get_run_logger().info("child got %s", x)
        return x * 2

    @flow(name="parent-with-subflow")
    def parent() -> int:
        return child(21)

    @task(persist_result=True, result_serializer="json")
    def compute_summary() -> dict[str, Any]:
        return {"rows": 3, "ok": True}

    @task(persist_result=False)
    def ephemeral() -> int:
        return 7

    @flow(name="persisted-results", persist_result=True, result_serializer="json")
    def persisted() -> dict[str, Any]:
        ephemeral()
        return compute_summary()

    @task(tags=["fast"])
    def step(label: str, seconds: float) -> str:
        time.sleep(seconds)
        return label

    @flow(name="diamond")
    def diamond() -> str:
        a = step.with_options(name="extract")("a", 0.2)
        b = step.with_options(name="slow_branch").submit("b", 1.0, wait_for=[a])
        c = step.with_options(name="fast_branch").submit("c", 0.2, wait_for=[a])
        return step.with_options(name="load")("d", 0.3, wait_for=[b, c])

    @flow(name="slow-pipeline")
    def slow_pipeline(tasks: int = 12, seconds: float = 0.5) -> int:
        logger = get_run_logger()
        for i in range(tasks):
            step.with_options(name="stage")(f"s{i}", seconds)
            logger.info("finished stage %d of %d", i + 1, tasks)
        return tasks

    @task(task_run_name=HOSTILE["img"], tags=[HOSTILE["script"], HOSTILE["emoji"]])
    def hostile_task(message: str) -> None:
        get_run_logger().warning(message)
        raise ValueError(HOSTILE["script"] + " " + HOSTILE["attr"])

    @flow(name=f"hostile {HOSTILE['attr']}", flow_run_name=HOSTILE["img"])
    def hostile(payload: str = HOSTILE["attr"]) -> None:
        get_run_logger().info(HOSTILE["script"] + HOSTILE["rtl"])
        hostile_task(HOSTILE["url"])

    # ---- on-demand samples (not in DEFAULT): real runs for the agreement tests

    @task(task_run_name="sq-{x}")
    def named_square(x: int) -> int:
        return x * x

    @flow(name="named-squares")
    def named_squares(n: int = 3) -> int:
        return sum(f.result() for f in named_square.map(range(n)))

    @task(task_run_name="load-{path}")
    def load_file(path: str) -> int:
        return len(path)

    @flow(name="load-files")
    def load_files() -> int:
        return sum(f.result() for f in load_file.map(LOAD_PATHS))

    @task
    def prepare() -> int:
        return 1

    @task(retries=2, retry_delay_seconds=0)
    def twice_flaky(x: int) -> int:
        attempts["twice"] = attempts.get("twice", 0) + 1
        if attempts["twice"] < 3:
            raise TimeoutError(f"Attempt {attempts['twice']} timed out")
        return x

    @task(retries=1, retry_delay_seconds=0)
    def once_flaky(x: int) -> int:
        attempts["once"] = attempts.get("once", 0) + 1
        if attempts["once"] < 2:
            raise TimeoutError(f"Attempt {attempts['once']} timed out")
        return x

    @flow(name="retried-tasks")
    def retried() -> int:
        x = prepare()
        return twice_flaky(x) + once_flaky(x)

    @flow(name="task-and-subflow")
    def task_and_subflow() -> int:
        return prepare() + child(1)

    # ---- on-demand samples of failed runs and artifacts (issue 18)

    def check_row(row: str) -> int:
        if not row.isdigit():
            raise ValueError(f"boom: row {row!r} is not a number")
        return int(row)

    @task
    def parse_rows(rows: list[str]) -> list[int]:
        get_run_logger().info("parsing %d rows", len(rows))
        return [check_row(row) for row in rows]

    @flow(name="debug-task-error")
    def task_error() -> list[int]:
        return parse_rows(["1", "2", "x"])

    @task
    def lookup_region(code: str) -> str:
        regions = {"eu": "Europe"}
        try:
            return regions[code]
        except KeyError as exc:
            raise LookupError(f"unknown region {code!r}") from exc

    @flow(name="debug-child")
    def failing_child(code: str) -> str:
        return lookup_region(code)

    @flow(name="debug-subflow-error")
    def subflow_error() -> str:
        return failing_child("mars")

    @task(retries=2, retry_delay_seconds=0)
    def always_refused() -> None:
        attempts["always"] = attempts.get("always", 0) + 1
        raise ConnectionError(f"attempt {attempts['always']}: the warehouse refused")

    @flow(name="debug-retries-error")
    def retries_error() -> None:
        always_refused()

    class Abort(BaseException):
        """Not an `Exception`: Prefect records the run as Crashed."""

    @task
    def pull_plug() -> None:
        raise Abort("the process was told to stop")

    @flow(name="debug-crash")
    def crash() -> None:
        from prefect.runtime import flow_run

        attempts["crash_run"] = flow_run.id
        pull_plug()

    @task
    def report_artifacts() -> None:
        from prefect.artifacts import (
            create_image_artifact,
            create_link_artifact,
            create_markdown_artifact,
            create_progress_artifact,
            create_table_artifact,
        )

        create_markdown_artifact(
            "# Summary\n\nSee [the docs](https://docs.prefect.io) and "
            f"![pixel]({PIXEL_PNG})\n", key="summary", description="run summary")
        create_table_artifact([{"region": "eu", "rows": 3}, {"region": "us", "rows": 5}],
                              key="rows-by-region", description="list of dicts")
        create_table_artifact({"region": ["eu", "us"], "rows": [3, 5]},
                              key="rows-by-column", description="dict of lists")
        create_link_artifact("https://docs.prefect.io/", link_text="Prefect docs",
                             key="docs-link", description="a link")
        create_progress_artifact(42.0, key="progress", description="progress")
        create_image_artifact(PIXEL_PNG, key="pixel", description="an image")

    @flow(name="debug-artifacts")
    def artifacts() -> None:
        report_artifacts()

    def crashing(fn: Any) -> Any:
        """Run `fn`, whose `Abort` ends the process's flow call: hand back its run's state.
        Prefect logs a crash's traceback at DEBUG ("Crash details:"): the run logs at DEBUG."""
        def run(return_state: bool = False) -> Any:
            import logging

            from prefect import get_client as prefect_client

            logger = logging.getLogger("prefect")
            level = logger.level
            logger.setLevel(logging.DEBUG)
            try:
                return fn(return_state=return_state)
            except Abort:
                with prefect_client(sync_client=True) as api:
                    return api.read_flow_run(attempts["crash_run"]).state
            finally:
                logger.setLevel(level)
        return run

    def sized(fn: Any, n: int) -> Any:
        def run(return_state: bool = False) -> Any:
            return fn(n, return_state=return_state)
        return run

    return {
        "hello": hello_world, "failing": failing_etl, "retrying": retrying, "mapped": mapped,
        "subflow": parent, "persisted": persisted, "diamond": diamond,
        "slow": slow_pipeline, "hostile": hostile,
        **{f"named_{n}": sized(named_squares, n) for n in NAMED_SIZES},
        "load_files": load_files, "retried": retried, "task_and_subflow": task_and_subflow,
        "task_error": task_error, "subflow_error": subflow_error,
        "retries_error": retries_error, "crash": crashing(crash), "artifacts": artifacts,
    }


def run_samples(names: list[str]) -> dict[str, str]:
    """Run the named samples (in this process) and return their flow run ids."""
    flows = define_flows()
    ids = {}
    for name in names:
        state = flows[name](return_state=True)
        ids[name] = str(state.state_details.flow_run_id)
    return ids


def run_in_subprocess(names: list[str], env: dict[str, str],
                      timeout: float | None = None) -> dict[str, str]:
    """Run samples in a fresh Python process (Prefect stays out of this one): name -> run id."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "prefect_widgets.samples", *names], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"The sample flows failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


DEFAULT = ["hello", "failing", "retrying", "mapped", "subflow", "persisted", "diamond", "slow"]
#: what the demo and the notebooks' throwaway server run: the defaults and the failed runs
DEMO = [*DEFAULT, *DEBUGGING]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=DEFAULT)
    parser.add_argument("--hostile", action="store_true", help="also run the hostile sample")
    args = parser.parse_args(argv)
    names = list(args.names) + (["hostile"] if args.hostile else [])
    print(json.dumps(run_samples(names)))


if __name__ == "__main__":
    main()


def wait_until_recorded(api_url: str, flow_run_ids: list[str], timeout: float = 90.0) -> None:
    """Wait until the server has recorded every task run of these runs in a final state.

    The server writes task runs from events a few seconds late; counts must settle first.
    """
    from . import _ops
    from .client import Client
    from .polling import Poll, Settled

    with Client(api_url) as client:
        body = {"flow_runs": {"id": {"any_": flow_run_ids}}}
        unfinished = {**body, "task_runs": {"state": {"type": {"any_": [
            "SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"]}}}}
        poll, settled = Poll(0.7, timeout=timeout), Settled(3)
        while not poll.expired():
            total = client.run(_ops.count("/task_runs/count", body))
            open_runs = client.run(_ops.count("/task_runs/count", unfinished))
            if settled.observe(total, ok=open_runs == 0):
                return
            poll.wait()
    raise TimeoutError(f"Task runs of {len(flow_run_ids)} flow runs did not settle in {timeout} s")
