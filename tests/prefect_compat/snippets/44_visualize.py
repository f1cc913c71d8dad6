# Idiom: Flow.visualize draws the graph without running the tasks.
from prefect import flow, task

ran = []


@task
def extract() -> list[int]:
    ran.append("extract")
    return [1, 2]


@task(viz_return_value=[1, 2])
def clean(rows: list[int]) -> list[int]:
    ran.append("clean")
    return rows


@task
def load(rows: list[int]) -> None:
    ran.append("load")


@flow
def etl() -> None:
    rows = clean(extract())
    for _ in rows:
        load(rows)


etl.visualize()
assert ran == []
print("SNIPPET OK")
