"""The server matrix's one flow, run with a matrix venv's own python (Prefect 2.20 or 3.x).

One flow run covers the contract (why one: each flow run costs the engine ~1-3 s of start-up
and its own records to settle, and the contract needs none of them apart): a task that logs,
a mapped task whose run names give the true map index, a task that fails after two retries,
a subflow that logs, all under the tag `matrix`. The flow fails at the end (its retried task
failed), so the run is a finished failure; its subflow completes.

Imports only `prefect` (never `prefect_widgets`, which that venv does not have) and prints one
JSON line: {"run": the flow run's id}. Usage:
`python tests/matrix_flows.py MAPPED` with PREFECT_API_URL set (MAPPED: how many runs the
mapped task makes).
"""

from __future__ import annotations

import json
import sys

from prefect import flow, get_run_logger, tags, task

attempts = {"flaky": 0}


@task
def say_hello(name: str) -> str:
    get_run_logger().info("Hello, %s!", name)
    return f"Hello, {name}!"


@task(task_run_name="square-{x}")  # the name gives each run's true map index
def square(x: int) -> int:
    return x * x


@task(retries=2, retry_delay_seconds=0)
def write_to_warehouse() -> None:
    attempts["flaky"] += 1
    get_run_logger().error("Warehouse connection refused")
    raise ConnectionError(f"Attempt {attempts['flaky']}: could not connect to warehouse")


@flow(name="matrix-child")
def child(x: int) -> int:
    get_run_logger().info("child got %s", x)
    return x * 2


@flow(name="matrix")
def contract(n: int) -> int:
    get_run_logger().info("Saying hello to %s", "world")
    say_hello("world")
    total = sum(future.result() for future in square.map(range(n)))
    child(21)
    write_to_warehouse()  # raises after its retries: the run fails here
    return total


if __name__ == "__main__":
    with tags("matrix"):
        state = contract(int(sys.argv[1]), return_state=True)
    parent = str(state.state_details.flow_run_id)
    print(json.dumps({"run": parent}))
