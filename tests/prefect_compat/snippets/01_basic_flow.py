# Idiom: tasks called from a flow; the flow returns their result.
from prefect import flow, task


@task
def extract() -> list[int]:
    return [1, 2, 3]


@task
def transform(rows: list[int]) -> list[int]:
    return [r * 10 for r in rows]


@task
def load(rows: list[int]) -> int:
    return sum(rows)


@flow(name="etl")
def etl() -> int:
    return load(transform(extract()))


assert etl() == 60
print("SNIPPET OK")
