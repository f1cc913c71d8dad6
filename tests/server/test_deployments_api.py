"""Deployments through the API: create, list, trigger (run by a real worker), pause, remove;
schedule previews and a notebook's parameters; the executed notebook opened from the root."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from server_helpers import run_worker_once, write_notebook


async def deploy(api: Any, root: Path, name: str = "report", **fields: Any) -> tuple[int, Any]:
    write_notebook(root / "reports" / "sales.ipynb")
    body = {"path": "reports/sales.ipynb", "name": name, **fields}
    return await api("POST", "deployments", body)


async def test_create_list_and_describe_a_deployment(api: Any, jp_root_dir: Path) -> None:
    status, body = await deploy(api, jp_root_dir, cron="0 7 * * 1-5", timezone="Europe/Berlin",
                                parameters={"n": 5}, retries=1)
    assert status == 201, body
    deployment = body["deployment"]
    assert deployment["name"] == "report" and deployment["kind"] == "notebook"
    assert deployment["lab_path"] == "reports/sales.ipynb"
    assert deployment["parameters"] == {"n": 5} and deployment["retries"] == 1
    schedule = deployment["schedule"]
    assert schedule["kind"] == "cron" and schedule["timezone"] == "Europe/Berlin"
    assert schedule["description"] == "At 07:00, Monday through Friday (Europe/Berlin)"
    assert len(deployment["next_runs"]) == 5
    assert deployment["next_runs"] == sorted(deployment["next_runs"])
    assert deployment["parameter_schema"]["properties"] == {
        "n": {"type": "integer", "default": 3, "title": "int"},
        "day": {"type": "string", "default": "mon", "title": "str"},
        "rate": {"type": "number", "default": 0.5, "title": "float"}}

    status, listed = await api("GET", "deployments")
    assert status == 200 and [d["name"] for d in listed["deployments"]] == ["report"]
    status, paused = await api("POST", "deployments/report/pause")
    assert status == 200 and paused["deployment"]["paused"] is True
    assert paused["deployment"]["next_runs"] == []
    status, resumed = await api("POST", "deployments/report/resume")
    assert resumed["deployment"]["paused"] is False
    status, removed = await api("DELETE", "deployments/report")
    assert status == 200 and removed["removed"] == 1
    status, gone = await api("GET", "deployments/report")
    assert status == 404 and gone["message"] == "no deployment named 'report'"


async def test_bad_deployments_are_one_line_and_store_nothing(api: Any, jp_root_dir: Path
                                                               ) -> None:
    cases = [
        ({"cron": "0 0 31 2 *"}, "never fires"),
        ({"cron": "not a cron"}, "invalid cron expression 'not a cron'"),
        ({"parameters": {"nope": 1}}, "unknown parameter 'nope'"),
        ({"parameters": {"n": "many"}}, "parameter 'n' expects int, got 'many'"),
        ({"timezone": "Mars/Base"}, "unknown timezone 'Mars/Base'"),
        ({"retries": "two"}, "retries must be a whole number"),
        ({"cache": "sometimes"}, "unknown cache mode 'sometimes'"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ]
    for fields, message in cases:
        status, body = await deploy(api, jp_root_dir, **fields)
        assert status == 400, (fields, body)
        assert message in body["message"] and "\n" not in body["message"]
    status, body = await api("POST", "deployments", {"path": "../outside.ipynb", "name": "x"})
    assert status == 400 and "outside the Jupyter root" in body["message"]
    status, body = await api("POST", "deployments", {"path": "missing.ipynb", "name": "x"})
    assert status == 400 and "notebook not found" in body["message"]
    status, body = await api("POST", "deployments", {"path": "reports/sales.ipynb"})
    assert status == 400 and body["message"] == "name is required"
    status, listed = await api("GET", "deployments")
    assert listed["deployments"] == []


async def test_schedule_preview(api: Any) -> None:
    status, body = await api("POST", "schedule/preview", {"cron": "*/15 * * * *"})
    assert status == 200 and body["description"] == "Every 15 minutes"
    assert len(body["next_runs"]) == 5 and body["next_runs"] == sorted(body["next_runs"])
    status, body = await api("POST", "schedule/preview", {"interval": 3600})
    assert status == 200 and body["description"] == "every hour"
    status, body = await api("POST", "schedule/preview", {"cron": "0 0 31 2 *"})
    assert status == 400 and "never fires" in body["message"]
    status, body = await api("POST", "schedule/preview", {"interval": "often"})
    assert status == 400 and body["message"] == 'interval must be a number, got "often"'


async def test_notebook_parameters(api: Any, jp_root_dir: Path) -> None:
    write_notebook(jp_root_dir / "nb.ipynb")
    status, body = await api("GET", "notebooks/parameters", params={"path": "nb.ipynb"})
    assert status == 200
    assert body["parameters"] == [{"name": "n", "type": "int", "default": 3},
                                  {"name": "day", "type": "str", "default": "mon"},
                                  {"name": "rate", "type": "float", "default": 0.5}]
    assert body["schema"]["properties"]["n"]["type"] == "integer"
    status, body = await api("GET", "notebooks/parameters", params={"path": "../etc/passwd"})
    assert status == 400 and "outside the Jupyter root" in body["message"]


async def test_a_bad_trigger_is_400_and_creates_no_run(api: Any, jp_root_dir: Path) -> None:
    await deploy(api, jp_root_dir)
    status, body = await api("POST", "deployments/report/run", {"parameters": {"n": "x"}})
    assert status == 400 and body["message"] == "parameter 'n' expects int, got 'x'"
    status, body = await api("POST", "deployments/report/run", {"parameters": {"m": 1}})
    assert status == 400 and "unknown parameter 'm'" in body["message"]
    status, body = await api("POST", "deployments/report/run", {"parameters": [1]})
    assert status == 400 and body["message"] == "parameters must be an object, got [1]"
    status, body = await api("POST", "deployments/nothing/run", {})
    assert status == 404
    status, runs = await api("GET", "runs")
    assert runs["runs"] == []


async def test_a_triggered_run_is_executed_by_a_worker_and_opened_from_the_root(
        api: Any, jp_root_dir: Path, orchestrate_home: Path) -> None:
    await deploy(api, jp_root_dir)
    status, body = await api("POST", "deployments/report/run", {"parameters": {"n": 41}})
    assert status == 201, body
    run = body["run"]
    assert run["state_type"] == "SCHEDULED" and run["deployment_name"] == "report"

    code, output = await run_worker_once()
    assert code == 0, output
    status, one = await api("GET", f"runs/{run['id']}")
    assert one["run"]["state_type"] == "COMPLETED"
    assert one["run"]["parameters"] == {"n": 41}
    executed = one["run"]["executed_notebook"]
    assert executed and Path(executed).is_file() and one["run"]["notebook_lab_path"] is None
    status, logs = await api("GET", f"runs/{run['id']}/logs")
    assert any("n is 41" in line["message"] for line in logs["logs"]) and logs["final"]

    status, opened = await api("POST", f"runs/{run['id']}/notebook")
    assert status == 200
    path = opened["path"]
    assert path.startswith("orchestrate-runs/") and path.endswith(".ipynb")
    copy = jp_root_dir / path
    assert copy.read_bytes() == Path(executed).read_bytes()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o400
    assert stat.S_IMODE((jp_root_dir / "orchestrate-runs").stat().st_mode) == 0o700
    status, again = await api("POST", f"runs/{run['id']}/notebook")
    assert again == opened  # the same copy, not another one

    status, rerun = await api("POST", f"runs/{run['id']}/rerun")
    assert status == 201 and rerun["run"]["id"] != run["id"]
    status, second = await api("GET", f"runs/{rerun['run']['id']}")
    assert second["run"]["parameters"] == {"n": 41}
    assert second["run"]["state_type"] == "SCHEDULED"


async def test_a_symlinked_copies_folder_is_refused(api: Any, jp_root_dir: Path,
                                                    tmp_path: Path) -> None:
    await deploy(api, jp_root_dir)
    status, body = await api("POST", "deployments/report/run", {})
    run_id = body["run"]["id"]
    code, output = await run_worker_once()
    assert code == 0, output
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, jp_root_dir / "orchestrate-runs")
    status, body = await api("POST", f"runs/{run_id}/notebook")
    assert status == 403 and "symlink" in body["message"]
    assert list(outside.iterdir()) == []


async def test_a_notebook_run_without_an_executed_notebook_is_404(api: Any, record: Any
                                                                  ) -> None:
    from synthetic_runs import SyntheticRuns

    run, _, events = SyntheticRuns().completed_flow("etl", tasks=1)
    record(events)
    status, body = await api("POST", f"runs/{run.id}/notebook")
    assert status == 404 and "has no executed notebook" in body["message"]
    status, body = await api("POST", f"runs/{run.id}/rerun")
    assert status == 409 and "not a run of a deployment" in body["message"]


FLOW_FILE = """
from orchestrate_nb import flow

@flow
def etl(n: int, day: str = "mon", items: list[int] = [1, 2], *, verbose: bool = False):
    return n
"""


async def test_a_python_deployment_has_a_schema_from_its_signature(api: Any,
                                                                    jp_root_dir: Path) -> None:
    from orchestrate_nb.deploy.deployments import deploy_flow

    path = jp_root_dir / "flows" / "etl.py"
    path.parent.mkdir()
    path.write_text(FLOW_FILE)
    deploy_flow(f"{path}:etl", name="etl-hourly", interval=3600, parameters={"n": 1})
    status, body = await api("GET", "deployments/etl-hourly")
    assert status == 200
    deployment = body["deployment"]
    assert deployment["kind"] == "python" and deployment["pickled"] is False
    assert deployment["schedule"]["description"] == "every hour"
    assert deployment["parameter_schema"] == {
        "type": "object", "additionalProperties": False, "required": ["n"],
        "properties": {"n": {"type": "integer", "title": "int"},
                       "day": {"type": "string", "default": "mon", "title": "str"},
                       "items": {"type": "array", "default": [1, 2], "title": "list"},
                       "verbose": {"type": "boolean", "default": False, "title": "bool"}}}
    status, body = await api("POST", "deployments/etl-hourly/run", {"parameters": {"n": "x"}})
    assert status == 400 and "'n'" in body["message"]
