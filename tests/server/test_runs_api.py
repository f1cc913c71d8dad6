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
