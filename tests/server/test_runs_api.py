"""The runs endpoints through a real Jupyter server with authentication on."""

from __future__ import annotations

import datetime as dt
from typing import Any

from synthetic_runs import SyntheticRuns

UTC = dt.timezone.utc


async def test_runs_list_one_run_and_its_logs(api: Any, record: Any) -> None:
    synthetic = SyntheticRuns()
    run, tasks, events = synthetic.completed_flow("etl", tasks=3, final="FAILED")
    record(events)

    status, body = await api("GET", "runs")
    assert status == 200
    assert [r["id"] for r in body["runs"]] == [run.id]
    summary = body["runs"][0]
    assert summary["flow_name"] == "etl" and summary["state_type"] == "FAILED"
    assert summary["kind"] == "run" and summary["task_runs"] == {"COMPLETED": 3}
    assert summary["created"].endswith("Z") and body["next"] is None
    assert isinstance(body["cursor"], int) and body["cursor"] > 0

    status, one = await api("GET", f"runs/{run.id[:8]}")
    assert status == 200
    assert one["run"]["id"] == run.id and one["run"]["parameters"] == {"n": 3}
    assert [s["type"] for s in one["states"]] == ["PENDING", "RUNNING", "FAILED"]
    assert [t["name"] for t in one["task_runs"]] == ["step-0", "step-1", "step-2"]
    assert len(one["edges"]) == 2
    assert len(one["graph"]["nodes"]) == 3 and one["graph"]["flow"]["state"] == "failed"

    status, logs = await api("GET", f"runs/{run.id}/logs", params={"after": 0, "limit": 2})
    assert status == 200
    assert [line["message"] for line in logs["logs"]] == ["step 0 working", "step 1 working"]
    assert logs["final"] is False
    status, rest = await api("GET", f"runs/{run.id}/logs", params={"after": logs["cursor"]})
    assert [line["message"] for line in rest["logs"]] == ["step 2 working"]
    assert rest["final"] is True and rest["logs"][0]["task_name"] == "step-2"
    assert rest["logs"][0]["level_name"] == "INFO"


async def test_unknown_run_is_404_with_one_line(api: Any, record: Any) -> None:
    status, body = await api("GET", "runs/nope")
    assert status == 404 and body == {"message": "no flow run matches 'nope'"}


async def test_meta_status_changes(api: Any, record: Any) -> None:
    status, meta = await api("GET", "meta")
    assert status == 200 and "completed" in meta["states"] and "width" in meta["box"]
    status, before = await api("GET", "status")
    assert before["running"] == 0
    synthetic = SyntheticRuns()
    run = synthetic.flow_run_created("etl")
    record([run, synthetic.flow_state(run.id, "RUNNING")])
    import asyncio

    for _ in range(50):
        status, changes = await api("GET", "changes", params={"cursor": before["cursor"]})
        if changes["changed"]:
            break
        await asyncio.sleep(0.1)
    assert changes["changed"] is True
    status, after = await api("GET", "status")
    assert after["running"] == 1


async def test_filters(api: Any, record: Any) -> None:
    synthetic = SyntheticRuns()
    etl, _, etl_events = synthetic.completed_flow("etl", tasks=1, tags=("nightly",))
    report, _, report_events = synthetic.completed_flow("report", tasks=1, final="FAILED")
    session = synthetic.flow_run_created("analysis.ipynb", name="session-1234",
                                         tags=("notebook-session",))
    record([*etl_events, *report_events, session,
            synthetic.flow_state(session.id, "RUNNING")])

    async def ids(**params: Any) -> list[str]:
        status, body = await api("GET", "runs", params=params)
        assert status == 200, body
        return [run["id"] for run in body["runs"]]

    assert await ids() == [report.id, etl.id]  # sessions are not runs
    assert await ids(kind="sessions") == [session.id]
    assert await ids(kind="all") == [session.id, report.id, etl.id]
    assert await ids(flow="etl") == [etl.id]
    assert await ids(state="FAILED") == [report.id]
    assert await ids(state="failed,completed") == [report.id, etl.id]
    assert await ids(tag="nightly") == [etl.id]
    assert await ids(q="REP") == [report.id]
    assert await ids(q=report.name.upper()) == [report.id]  # the run's own name, any case
    assert await ids(q="100%_") == []  # LIKE's wildcards are text here
    assert await ids(since=iso(report.created)) == [report.id]
    assert await ids(until=iso(report.created)) == [etl.id]
    status, body = await api("GET", "runs", params={"kind": "sessions"})
    assert body["runs"][0]["kind"] == "session" and body["runs"][0]["state_name"] == "Session"

    for params, message in [
        ({"state": "DONE"}, "unknown state 'DONE'"),
        ({"limit": "0"}, "limit must be between 1 and 500, got 0"),
        ({"limit": "ten"}, "limit must be a whole number, got 'ten'"),
        ({"since": "yesterday"}, "since must be an ISO time"),
        ({"before": "garbage"}, "before is not a cursor this server gave"),
        ({"kind": "jobs"}, "kind must be one of runs, sessions, all"),
    ]:
        status, body = await api("GET", "runs", params=params)
        assert status == 400 and body["message"].startswith(message), (params, body)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_pages_have_no_duplicates_or_gaps_while_runs_are_added(api: Any,
                                                                     record: Any) -> None:
    synthetic = SyntheticRuns()
    first = [synthetic.flow_run_created("etl") for _ in range(23)]
    # two runs created in the same microsecond, 5th and 6th newest (the end of the first
    # page and the start of the second): the id breaks the tie
    twin = synthetic.flow_run_created("etl", created=first[-5].created)
    record([*first, twin])
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 5}
    pages = 0
    while True:
        status, body = await api("GET", "runs", params=params)
        assert status == 200
        seen += [run["id"] for run in body["runs"]]
        pages += 1
        record([synthetic.flow_run_created("etl")])  # a newer run arrives meanwhile
        if body["next"] is None:
            break
        params["before"] = body["next"]
    assert pages == 5
    assert len(seen) == len(set(seen)) == 24
    assert set(seen) == {run.id for run in [*first, twin]}


async def test_cancel(api: Any, record: Any, jp_root_dir: Any) -> None:
    from server_helpers import write_notebook

    write_notebook(jp_root_dir / "nb.ipynb")
    await api("POST", "deployments", {"path": "nb.ipynb", "name": "nb"})
    status, body = await api("POST", "deployments/nb/run", {})
    run_id = body["run"]["id"]
    status, body = await api("POST", f"runs/{run_id}/cancel")
    assert status == 200 and body["run"]["state_type"] == "CANCELLED"
    status, body = await api("POST", f"runs/{run_id}/cancel")
    assert status == 409 and body["message"] == f"flow run {run_id} already finished (Cancelled)"

    synthetic = SyntheticRuns()
    mine = synthetic.flow_run_created("etl")
    record([mine, synthetic.flow_state(mine.id, "RUNNING")])
    status, body = await api("POST", f"runs/{mine.id}/cancel")
    assert status == 409 and "was not started by a worker" in body["message"]


async def test_resume_checks_the_input_and_names_the_field(api: Any, record: Any,
                                                          database_url: str) -> None:
    from orchestrate_nb.settings import load_settings
    from orchestrate_nb.store.database import open_database
    from orchestrate_nb.store.pauses import pause

    synthetic = SyntheticRuns()
    run = synthetic.flow_run_created("release")
    record([run, synthetic.flow_state(run.id, "RUNNING")])
    schema = {"type": "object", "title": "Approval", "additionalProperties": False,
              "properties": {"approved": {"type": "boolean"}, "note": {"type": "string"}},
              "required": ["approved"]}
    database = open_database(load_settings())
    try:
        with database.write() as conn:
            now = dt.datetime.now(UTC)
            assert pause(conn, run.id, "waiting for approval", schema,
                         now + dt.timedelta(hours=1), now)
    finally:
        database.dispose()

    status, one = await api("GET", f"runs/{run.id}")
    assert one["run"]["pause"]["input_schema"] == schema
    assert one["run"]["pause"]["message"] == "waiting for approval"
    status, status_body = await api("GET", "status")
    assert status_body["awaiting_approval"] == 1

    status, body = await api("POST", f"runs/{run.id}/resume", {"input": {"note": "x"}})
    assert status == 400 and "approved" in body["message"]
    status, body = await api("POST", f"runs/{run.id}/resume", {"input": {"approved": "maybe"}})
    assert status == 400 and "approved" in body["message"]
    status, body = await api("POST", f"runs/{run.id}/resume",
                             {"input": {"approved": True, "notes": "typo"}})
    assert status == 400 and "notes" in body["message"]
    status, body = await api("POST", f"runs/{run.id}/resume", {"input": "yes"})
    assert status == 400 and body["message"].startswith("input must be a JSON object")
    status, one = await api("GET", f"runs/{run.id}")
    assert one["run"]["state_type"] == "PAUSED"  # nothing written

    status, body = await api("POST", f"runs/{run.id}/resume", {"input": {"approved": True}})
    assert status == 200 and body["run"]["state_type"] == "RUNNING"
    assert body["run"]["state_name"] == "Resumed"
    status, body = await api("POST", f"runs/{run.id}/resume", {"input": {"approved": True}})
    assert status == 409 and "is not paused" in body["message"]


async def test_secret_parameters_are_masked(api: Any, record: Any) -> None:
    synthetic = SyntheticRuns()
    run = synthetic.flow_run_created("etl", parameters={"db_password": "hunter2", "n": 1})
    record([run])
    status, body = await api("GET", f"runs/{run.id}")
    assert body["run"]["parameters"] == {"db_password": "**********", "n": 1}
