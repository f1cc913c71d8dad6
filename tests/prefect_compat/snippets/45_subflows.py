# Idiom: subflows, with the parent run visible from the child.
from prefect import flow, task
from prefect.runtime import flow_run


@task
def double(x: int) -> int:
    return 2 * x


@flow
def child(x: int) -> tuple[int, str | None]:
    return double(x), flow_run.parent_flow_run_id


@flow
def parent() -> bool:
    value, parent_id = child(4)
    return value == 8 and parent_id == flow_run.id and flow_run.root_flow_run_id == flow_run.id


assert parent() is True
print("SNIPPET OK")
