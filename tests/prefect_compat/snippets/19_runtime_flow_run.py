# Idiom: prefect.runtime.flow_run inside a flow and a task.
from prefect import flow, tags, task
from prefect.runtime import flow_run


@task
def describe() -> dict:
    return {"flow": flow_run.flow_name, "params": flow_run.parameters, "id": flow_run.id}


@flow(name="nightly-report", retries=1)
def report(region: str = "eu") -> dict:
    info = describe()
    assert info["id"] == flow_run.id and flow_run.id is not None
    assert "team-a" in flow_run.tags
    assert flow_run.run_count == 1
    assert flow_run.scheduled_start_time is not None
    return info


with tags("team-a"):
    info = report("us")
assert info["flow"] == "nightly-report" and info["params"] == {"region": "us"}
print("SNIPPET OK")
