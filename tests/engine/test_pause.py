"""pause_flow_run: a flow run waits, Paused in the run store, until ``orchestrate-nb runs
resume`` resumes it (with input), ``runs cancel`` cancels it, or its timeout passes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
from pause_helpers import FlowInThread, Query, history, json_column, paused_run, run_row
from pydantic import BaseModel, field_validator

from orchestrate_nb import flow, get_run_logger, pause_flow_run, task
from orchestrate_nb.engine.context import flow_run_ctx
from orchestrate_nb.errors import CancelledRun, FlowPauseTimeout, PauseError
from orchestrate_nb.store.database import Database

pytestmark = pytest.mark.timeout(120)
POLL = 0.05  # the paused process's poll interval in these tests


class Approval(BaseModel):
    approved: bool
    note: str = ""

    @field_validator("note")
    @classmethod
    def not_blank_when_given(cls, note: str) -> str:
        if note and not note.strip():
            raise ValueError("the note must not be blank")
        return note


def test_a_paused_flow_goes_on_when_resumed_from_the_command_line(
        database: Database, query: Query, cli: Any) -> None:
    @flow
    def publish() -> str:
        assert pause_flow_run(timeout=60, poll_interval=POLL) is None
        return "published"

    running = FlowInThread(publish)
    paused = paused_run(query)
    assert paused["state_name"] == "Paused"
    assert f"orchestrate-nb runs resume {paused['id']}" in paused["state_message"]
    resumed = cli("runs", "resume", paused["id"][:8])
    assert (resumed.code, resumed.out.strip()) == (0, f"{paused['id']}: Resumed")
    state = running.state()
    assert state.is_completed() and state.result() == "published"
    assert history(query, paused["id"]) == ["Pending", "Running", "Paused", "Resumed",
                                            "Completed"]
    row = run_row(query, paused["id"])
    assert (row["state_type"], row["run_count"]) == ("COMPLETED", 1)
    logs = [r["message"] for r in query("SELECT message FROM logs WHERE flow_run_id = :id",
                                        id=paused["id"])]
    assert any(f"Resume with: orchestrate-nb runs resume {paused['id']}" in m for m in logs)


def test_a_flow_waiting_for_input_gets_the_validated_model_instance(
        database: Database, query: Query, cli: Any) -> None:
    @flow
    def deploy_model() -> Approval:
        answer = pause_flow_run(wait_for_input=Approval, timeout=60, poll_interval=POLL)
        get_run_logger().info("approved=%s note=%s", answer.approved, answer.note)
        return answer

    running = FlowInThread(deploy_model)
    paused = paused_run(query)
    assert "-p approved=VALUE" in paused["state_message"]
    result = cli("runs", "resume", paused["id"], "-p", "approved=true", "-p", "note=ship it")
    assert result.code == 0, result.err
    answer = running.state().result()
    assert isinstance(answer, Approval)
    assert (answer.approved, answer.note) == (True, "ship it")
    stored = json_column(run_row(query, paused["id"])["resume_input"])
    assert stored == {"approved": True, "note": "ship it"}


def test_a_plain_type_as_wait_for_input_is_given_as_value(
        database: Database, query: Query, cli: Any) -> None:
    @flow
    def how_many() -> int:
        return pause_flow_run(wait_for_input=int, timeout=60, poll_interval=POLL) * 2

    running = FlowInThread(how_many)
    paused = paused_run(query)
    assert cli("runs", "resume", paused["id"], "-p", "value=21").code == 0
    assert running.state().result() == 42


def test_input_the_model_refuses_keeps_the_run_paused_until_good_input_comes(
        database: Database, query: Query, cli: Any) -> None:
    @flow
    def review() -> str:
        return pause_flow_run(wait_for_input=Approval, timeout=60, poll_interval=POLL).note

    running = FlowInThread(review)
    paused = paused_run(query)
    # The schema accepts a blank note; the model's own validator does not.
    assert cli("runs", "resume", paused["id"], "-p", "approved=true", "-p", "note= ").code == 0
    again = paused_run(query, "input refused")
    assert again["id"] == paused["id"]
    assert "the note must not be blank" in again["state_message"]
    assert cli("runs", "resume", paused["id"], "--input",
               '{"approved": true, "note": "fine"}').code == 0
    assert running.state().result() == "fine"
    assert history(query, paused["id"]) == ["Pending", "Running", "Paused", "Resumed",
                                            "Paused", "Resumed", "Completed"]


def test_a_pause_that_times_out_fails_the_flow_naming_the_timeout(
        database: Database, query: Query, cli: Any) -> None:
    @flow
    def wait_forever() -> None:
        pause_flow_run(timeout=0.3, poll_interval=POLL)

    state = FlowInThread(wait_forever).state()
    assert state.is_failed()
    assert "FlowPauseTimeout" in state.message and "not resumed within 0.3 s" in state.message
    with pytest.raises(FlowPauseTimeout):
        state.result()
    (run,) = query("SELECT id, state_type FROM flow_runs")
    assert run["state_type"] == "FAILED"
    assert history(query, run["id"]) == ["Pending", "Running", "Paused", "Running", "Failed"]
    late = cli("runs", "resume", run["id"])
    assert late.code == 1
    assert late.err.strip() == f"Error: flow run {run['id']} is not paused (it is Failed)"


def test_a_flow_can_catch_the_pause_timeout_and_go_on(database: Database) -> None:
    @flow
    def approve_or_default() -> str:
        try:
            pause_flow_run(timeout=0.2, poll_interval=POLL)
        except FlowPauseTimeout:
            return "default"
        return "approved"

    assert approve_or_default() == "default"


def test_cancelling_a_paused_run_ends_the_flow_cancelled(
        database: Database, query: Query, cli: Any) -> None:
    hooks: list[str] = []

    @flow(on_cancellation=[lambda flow, run, state: hooks.append(state.name)])
    def guarded() -> None:
        try:
            pause_flow_run(timeout=60, poll_interval=POLL)
        except CancelledRun:
            pass  # even a flow that swallows it ends Cancelled

    running = FlowInThread(guarded)
    paused = paused_run(query)
    cancelled = cli("runs", "cancel", paused["id"])
    assert (cancelled.code, cancelled.out.strip()) == (0, f"{paused['id']}: Cancelling")
    state = running.state()
    assert state.is_cancelled() and state.message == "cancelled while paused"
    assert hooks == ["Cancelled"]
    assert history(query, paused["id"]) == ["Pending", "Running", "Paused", "Cancelling",
                                            "Cancelled"]


def test_an_async_flow_awaits_the_pause_while_its_event_loop_keeps_running(
        database: Database, query: Query, cli: Any) -> None:
    ran_while_paused = threading.Event()

    @flow
    async def nightly() -> str:
        run = flow_run_ctx.get().flow_run  # type: ignore[union-attr]

        async def other_work() -> None:
            while not run.state.is_paused():
                await asyncio.sleep(0.01)
            ran_while_paused.set()

        worker = asyncio.create_task(other_work())
        await pause_flow_run(timeout=60, poll_interval=POLL)
        await worker
        return "done"

    running = FlowInThread(nightly)
    paused = paused_run(query)
    assert ran_while_paused.wait(60), "the event loop was blocked while paused"
    assert cli("runs", "resume", paused["id"]).code == 0
    assert running.state().result() == "done"


def test_a_resumed_pause_is_not_asked_again_when_the_flow_retries(
        database: Database, query: Query, cli: Any) -> None:
    attempts: list[bool] = []

    @flow(retries=1)
    def flaky() -> bool:
        answer = pause_flow_run(wait_for_input=Approval, timeout=60, poll_interval=POLL)
        attempts.append(answer.approved)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails after the approval")
        return answer.approved

    running = FlowInThread(flaky)
    paused = paused_run(query)
    assert cli("runs", "resume", paused["id"], "-p", "approved=true").code == 0
    assert running.state().result() is True
    assert attempts == [True, True]
    assert history(query, paused["id"]).count("Paused") == 1


def test_pausing_outside_a_flow_run_is_a_clear_error() -> None:
    with pytest.raises(PauseError, match=r"outside a flow run; call it inside a @flow"):
        pause_flow_run()


def test_pausing_inside_a_task_is_refused(database: Database) -> None:
    @task
    def approve() -> None:
        pause_flow_run(timeout=1)

    @flow
    def pipeline() -> None:
        approve()

    with pytest.raises(PauseError, match=r"called in task run 'approve-0': only a flow"):
        pipeline()


def test_pausing_without_the_run_store_says_it_needs_the_store(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATE_NB_STORE", "0")

    @flow
    def publish() -> None:
        pause_flow_run(timeout=1)

    with pytest.raises(PauseError, match=r"needs the run store, which ORCHESTRATE_NB_STORE=0"):
        publish()


def test_wait_for_input_must_be_a_model_or_a_type(database: Database) -> None:
    @flow
    def publish() -> None:
        pause_flow_run(wait_for_input="approved?", timeout=1)  # type: ignore[arg-type]

    with pytest.raises(PauseError, match=r"wait_for_input must be a pydantic model class"):
        publish()


PAUSING_SCRIPT = """
from orchestrate_nb import flow, pause_flow_run

@flow
def publish():
    pause_flow_run(timeout=600, poll_interval=0.2)

publish()
"""


def test_a_paused_run_whose_process_died_is_marked_crashed(
        database: Database, query: Query, cli: Any) -> None:
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(PAUSING_SCRIPT)],
                               env=os.environ.copy(), stderr=subprocess.DEVNULL)
    try:
        paused = paused_run(query)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    shown = cli("runs", "show", paused["id"])  # opening the store recovers crashed runs
    assert shown.code == 0
    row = run_row(query, paused["id"])
    assert row["state_type"] == "CRASHED"
    assert f"process {process.pid}" in row["state_message"]
    refused = cli("runs", "resume", paused["id"])
    assert refused.code == 1 and "is not paused (it is Crashed)" in refused.err
