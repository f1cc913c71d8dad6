"""``orchestrate_nb.runtime`` in a deployment's run executed by a real worker: the
deployment's id, name and parameters, and the run's scheduled time (Prefect's runtime)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from worker_helpers import Query, run_worker_once

from orchestrate_nb.deploy.deployments import deploy_flow, trigger_deployment
from orchestrate_nb.store.database import Database

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

FLOW_FILE = """
import json
from orchestrate_nb import flow, task
from orchestrate_nb.runtime import deployment, flow_run, task_run


@task
def describe():
    return {"task": task_run.name, "deployment": deployment.name, "flow_run": flow_run.id}


@flow
def report(out: str, region: str = "eu"):
    seen = {"id": deployment.id, "name": deployment.name,
            "parameters": deployment.parameters, "flow_run_id": deployment.flow_run_id,
            "run": flow_run.id, "scheduled": flow_run.scheduled_start_time.isoformat(),
            "in_task": describe()}
    with open(out, "w") as f:
        json.dump(seen, f)
"""


def test_a_deployment_run_sees_its_deployment_through_the_runtime_module(
        tmp_path: Path, database: Database, query: Query) -> None:
    (tmp_path / "flows.py").write_text(FLOW_FILE)
    out = tmp_path / "seen.json"
    deploy_flow(f"{tmp_path / 'flows.py'}:report", name="regional",
                parameters={"out": str(out)})
    run_id = trigger_deployment("regional", {"region": "us"})
    run_worker_once()
    seen = json.loads(out.read_text())
    deployment_id = query("SELECT id FROM deployments WHERE name = 'regional'")[0]["id"]
    assert seen["id"] == deployment_id and seen["name"] == "regional"
    assert seen["parameters"] == {"out": str(out), "region": "us"}
    assert seen["run"] == run_id == seen["flow_run_id"]
    assert seen["in_task"] == {"task": "describe-0", "deployment": "regional", "flow_run": run_id}
    assert seen["scheduled"].startswith(
        str(query("SELECT scheduled_time FROM flow_runs WHERE id = :id", id=run_id)[0]
            ["scheduled_time"])[:16].replace(" ", "T"))


def test_outside_a_deployment_run_the_deployment_is_none(tmp_path: Path,
                                                          database: Database) -> None:
    (tmp_path / "flows.py").write_text(FLOW_FILE)
    sys.path.insert(0, str(tmp_path))
    try:
        from flows import report  # type: ignore[import-not-found]

        report(str(tmp_path / "local.json"))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("flows", None)
    seen = json.loads((tmp_path / "local.json").read_text())
    assert seen["id"] is None and seen["name"] is None and seen["parameters"] == {}
