# Idiom: task_run_name and flow_run_name templates, and a callable name.
import datetime

from prefect import flow, task
from prefect.runtime import flow_run, task_run


def make_name() -> str:
    return f"{flow_run.flow_name}-custom"


@task(task_run_name="fetch-{url}")
def fetch(url: str) -> str:
    return task_run.name


@flow(flow_run_name="report-{day:%Y-%m-%d}")
def report(day: datetime.date) -> tuple[str, str]:
    return flow_run.name, fetch("example")


@flow(flow_run_name=make_name)
def named() -> str:
    return flow_run.name


assert report(datetime.date(2024, 1, 2)) == ("report-2024-01-02", "fetch-example")
assert named() == "named-custom"
print("SNIPPET OK")
