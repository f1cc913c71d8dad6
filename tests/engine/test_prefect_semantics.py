"""What the run history records for the Prefect idioms of issue 15: rolled-back task runs,
dependency edges through dataclasses and pydantic models, methods' parameters, hooks,
serializable transactions and the task graph drawn without running."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from orchestrate_nb import flow, task
from orchestrate_nb.transactions import IsolationLevel, transaction


def test_a_task_run_rolled_back_by_its_transaction_ends_rolled_back(events):
    @task
    def write() -> int:
        return 1

    @flow
    def f() -> None:
        with transaction():
            write()
            raise RuntimeError("abort")

    f(return_state=True)
    written = events.task_run("write-0").id
    assert events.states_of(written) == ["Running", "Completed", "RolledBack"]


def test_rollback_hooks_run_last_first_and_commit_hooks_in_order(events):
    seen: list[str] = []

    @task
    def step(name: str) -> str:
        return name

    @step.on_rollback
    def undo(txn) -> None:  # type: ignore[no-untyped-def]
        seen.append(f"undo {txn.get('label')}")

    @flow
    def f(fail: bool) -> None:
        with transaction() as txn:
            txn.set("label", "x")
            step("a")
            step("b")
            if fail:
                raise ValueError("no")

    f(True, return_state=True)
    assert seen == ["undo x", "undo x"]
    seen.clear()
    f(False)
    assert seen == []


def test_a_failing_commit_hook_rolls_back_its_task_run_and_the_rest_commits(events):
    seen: list[str] = []

    @task
    def step() -> int:
        return 1

    @step.on_commit
    def broken(txn) -> None:  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    @step.on_rollback
    def undo(txn) -> None:  # type: ignore[no-untyped-def]
        seen.append("undo")

    @flow
    def f() -> None:
        with transaction() as txn:
            step()
        assert txn.is_committed() and txn.children[0].is_rolled_back()

    f()
    assert seen == ["undo"]  # as in Prefect: the child rolls back, its parent commits
    assert events.final_state_of(events.task_run("step-0").id) == "RolledBack"


@dataclass
class Batch:
    rows: Any
    label: str


class Limits(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    high: Any


def test_futures_and_results_inside_dataclasses_and_models_are_recorded_as_edges(events):
    @task
    def load() -> list[int]:
        return [1, 2]

    @task
    def bound() -> int:
        return 1

    @task
    def keep(batch: Batch, limits: Limits) -> list[int]:
        return [r for r in batch.rows if r > limits.high]

    @flow
    def f() -> list[int]:
        rows = load()  # a value, tracked as load's result
        return keep(Batch(rows, "b"), Limits(high=bound.submit()))

    assert f() == [2]
    edges = {(e.upstream_task_run_id, e.input_name) for e in events.edges()}
    assert edges == {(events.task_run("load-0").id, "batch"),
                     (events.task_run("bound-0").id, "limits")}


def test_a_flow_on_a_method_records_its_parameters_without_the_instance(events):
    class Report:
        def __init__(self, region: str) -> None:
            self.region = region

        @flow
        def build(self, day: int) -> str:
            return f"{self.region}-{day}"

    assert Report("eu").build(3) == "eu-3"
    assert events.flow_runs()[0].parameters == {"day": 3}


def test_a_task_on_a_method_is_named_and_submitted_like_any_task(events):
    class Client:
        @task(task_run_name="fetch-{key}")
        def fetch(self, key: str) -> str:
            return key.upper()

    client = Client()

    @flow
    def f() -> str:
        return client.fetch.submit("a").result() + client.fetch("b")

    assert f() == "AB"
    assert {t.name for t in events.task_runs()} == {"fetch-a", "fetch-b"}


def test_serializable_transactions_on_one_key_never_overlap(orchestrate_home):
    inside: list[int] = []
    overlaps: list[int] = []

    def worker() -> None:
        with transaction(key="ledger", isolation_level=IsolationLevel.SERIALIZABLE):
            inside.append(1)
            if len(inside) > 1:
                overlaps.append(len(inside))
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert overlaps == []


def test_visualize_draws_every_call_and_edge_without_running_a_task(events):
    ran: list[str] = []

    @task
    def extract(n: int) -> list[int]:
        ran.append("extract")
        return list(range(n))

    @task
    def double(x: int) -> int:
        ran.append("double")
        return 2 * x

    @task
    def total(values: list[int]) -> int:
        ran.append("total")
        return sum(values)

    @flow
    def f() -> int:
        rows = extract(3)
        total(double.map([1, 2]))
        return total([rows])

    picture = f.visualize()
    assert ran == [] and events.task_runs() == []
    assert picture.text.splitlines() == [
        "extract-0  ○ pending  → total-1 (values)",
        "double-0   ○ pending  → total-0 (values)",
        "double-1   ○ pending  → total-0 (values)",
        "total-0    ○ pending",
        "total-1    ○ pending",
    ]
    assert picture.svg.startswith("<svg") and "double-1" in picture.svg


@pytest.mark.parametrize(("level", "shown"), [("DEBUG", True), ("INFO", False)])
def test_the_finished_in_state_line_shows_at_debug(level, shown, tmp_path):
    code = ("from orchestrate_nb import flow, task\n@task\ndef t(): return 1\n"
            "@flow\ndef f(): return t()\nf()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"ORCHESTRATE_NB_HOME": str(tmp_path), "ORCHESTRATE_NB_STORE": "0",
                               "ORCHESTRATE_NB_LOGGING_LEVEL": level, "PATH": "/usr/bin",
                               "PYTHONPATH": ":".join(sys.path)})
    assert done.returncode == 0, done.stderr
    assert ("Task run 't-0' - Finished in state Completed()" in done.stderr) is shown


def test_a_flow_pickled_by_value_is_still_unbound_and_unconfigured_after_loading(events):
    import cloudpickle

    @task(persist_result=True)
    def step(x: int) -> int:
        return x

    @flow
    def f(x: int) -> int:
        return step(x)

    loaded = cloudpickle.loads(cloudpickle.dumps(f))
    assert loaded(x=4) == 4  # (a copied marker would bind x twice, or refuse the policy)
