"""``orchestrate-nb runs resume ID [-p k=v ...] [--input JSON]``: a paused run is resumed
with input checked against the schema stored with it; anything else is refused in one line,
and nothing is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from pause_helpers import history, json_column, run_row

from orchestrate_nb.store import pauses
from orchestrate_nb.store.database import Database

UTC = dt.timezone.utc

SCHEMA = {  # what pydantic makes of the model below (the CLI never imports it)
    # class Release(BaseModel):
    #     approved: bool; reviewer: str = ""; retries: int = Field(0, ge=0)
    #     tags: list[str] = []; rollout: float | None = None
    "properties": {
        "approved": {"title": "Approved", "type": "boolean"},
        "reviewer": {"default": "", "title": "Reviewer", "type": "string"},
        "retries": {"default": 0, "minimum": 0, "title": "Retries", "type": "integer"},
        "tags": {"default": [], "items": {"type": "string"}, "title": "Tags", "type": "array"},
        "rollout": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
    },
    "required": ["approved"], "title": "Release", "type": "object",
}


@pytest.fixture
def paused(store: Any, database: Database) -> Callable[..., str]:
    """``paused(schema)``: a running flow run (owned by this live process), paused."""
    def pause(schema: dict[str, Any] | None = None) -> str:
        run = store.synthetic.flow_run_created()
        store.writer.write([run, store.synthetic.flow_state(run.id, "RUNNING")])
        now = dt.datetime.now(UTC)
        with database.write() as conn:
            assert pauses.pause(conn, run.id, "waiting", schema, now + dt.timedelta(hours=1),
                                now)
        return run.id

    return pause


def stays_paused(query: Any, run_id: str) -> None:
    row = run_row(query, run_id)
    assert (row["state_type"], row["resume_input"]) == ("PAUSED", None)
    assert history(query, run_id)[-1] == "Paused"


def test_resuming_writes_resumed_with_the_input_converted_by_the_schema(
        paused: Callable[..., str], cli: Any, query: Any) -> None:
    run_id = paused(SCHEMA)
    result = cli("runs", "resume", run_id[:8], "-p", "approved=true", "-p", "reviewer=007",
                 "-p", "retries=2", "-p", 'tags=["a","b"]', "--input", '{"rollout": 0.5}')
    assert (result.code, result.out.strip(), result.err) == (0, f"{run_id}: Resumed", "")
    row = run_row(query, run_id)
    assert (row["state_type"], row["state_name"]) == ("RUNNING", "Resumed")
    assert json_column(row["resume_input"]) == {"approved": True, "reviewer": "007",
                                                "retries": 2, "tags": ["a", "b"],
                                                "rollout": 0.5}
    assert history(query, run_id)[-2:] == ["Paused", "Resumed"]
    again = cli("runs", "resume", run_id)
    assert again.code == 1
    assert again.err == f"Error: flow run {run_id} is not paused (it is Resumed)\n"


def test_a_run_waiting_for_no_input_resumes_without_any(
        paused: Callable[..., str], cli: Any, query: Any) -> None:
    run_id = paused()
    assert cli("runs", "resume", run_id).code == 0
    row = run_row(query, run_id)
    assert (row["state_name"], row["resume_input"], row["run_count"]) == ("Resumed", None, 1)


@pytest.mark.parametrize(("args", "error"), [
    ((), "missing required field 'approved' (it expects approved (boolean, required), "
         "reviewer (string), retries (integer), tags (array), rollout (number))"),
    (("-p", "approved=yes"), "field 'approved' expects boolean, got \"yes\""),
    (("-p", "approved=true", "-p", "aproved=true"), "unknown field 'aproved'"),
    (("-p", "approved=true", "-p", "retries=-1"), "field 'retries': -1 is less than the "
                                                  "minimum of 0"),
    (("--input", '{"approved": true, "tags": "a"}'), "field 'tags' expects array, got \"a\""),
    (("--input", "[true]"), "--input must be a JSON object"),
    (("--input", "{approved}"), "--input is not valid JSON"),
    (("-p", "approved"), "invalid parameter 'approved': write it as NAME=VALUE"),
])
def test_input_that_does_not_fit_is_refused_in_one_line_and_the_run_stays_paused(
        paused: Callable[..., str], cli: Any, query: Any, args: tuple[str, ...],
        error: str) -> None:
    run_id = paused(SCHEMA)
    result = cli("runs", "resume", run_id, *args)
    assert result.code == 1 and result.out == ""
    assert result.err.startswith("Error: ") and result.err.count("\n") == 1
    assert error in result.err
    stays_paused(query, run_id)


def test_input_given_to_a_run_that_waits_for_none_is_refused(
        paused: Callable[..., str], cli: Any, query: Any) -> None:
    run_id = paused()
    result = cli("runs", "resume", run_id, "-p", "approved=true")
    assert result.code == 1
    assert result.err == (f"Error: cannot resume flow run {run_id}: it waits for no input, but "
                          "'approved' was given; resume it without -p/--input\n")
    stays_paused(query, run_id)


def test_extra_fields_pass_when_the_model_allows_them(
        paused: Callable[..., str], cli: Any, query: Any) -> None:
    run_id = paused({**SCHEMA, "additionalProperties": True})
    assert cli("runs", "resume", run_id, "-p", "approved=false", "-p", "ticket=42").code == 0
    assert json_column(run_row(query, run_id)["resume_input"]) == {"approved": False,
                                                                    "ticket": 42}


def test_an_unknown_run_or_a_run_that_is_not_paused_is_refused(
        store: Any, cli: Any, query: Any) -> None:
    unknown = cli("runs", "resume", "nope")
    assert (unknown.code, unknown.err) == (1, "Error: no flow run matches 'nope'\n")
    run, _tasks = store.add_flow(tasks=0)
    finished = cli("runs", "resume", run.id)
    assert finished.code == 1
    assert finished.err == f"Error: flow run {run.id} is not paused (it is Completed)\n"
    assert history(query, run.id)[-1] == "Completed"


def test_runs_show_tells_how_to_resume_a_paused_run_and_its_states(
        paused: Callable[..., str], cli: Any) -> None:
    run_id = paused(SCHEMA)
    shown = cli("runs", "show", run_id)
    assert shown.code == 0
    assert f"Resume with: orchestrate-nb runs resume {run_id} -p approved=VALUE" in shown.out
    assert "Waiting for: approved (boolean, required), reviewer (string)" in shown.out
    assert [line.split()[1] for line in shown.out.split("States\n")[1].splitlines()[:3]] == [
        "Pending", "Running", "Paused"]
    cli("runs", "resume", run_id, "-p", "approved=true")
    resumed = cli("runs", "show", run_id)
    assert 'Resumed with: {"approved": true}' in resumed.out


def test_cancelling_a_paused_run_asks_its_process_to_stop(
        paused: Callable[..., str], cli: Any, query: Any) -> None:
    run_id = paused()
    result = cli("runs", "cancel", run_id)
    assert (result.code, result.out.strip()) == (0, f"{run_id}: Cancelling")
    assert run_row(query, run_id)["state_type"] == "CANCELLING"
    refused = cli("runs", "resume", run_id)
    assert refused.code == 1 and "is not paused (it is Cancelling)" in refused.err
