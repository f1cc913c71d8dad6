# Idiom: tasks that yield or return generators.
from prefect import flow, task


@task
def numbers(n: int):
    yield from range(n)


@task
def lazy(n: int):
    return (i * i for i in range(n))


@flow
def generated() -> tuple[list[int], list[int]]:
    return list(numbers(3)), list(lazy(3))


assert generated() == ([0, 1, 2], [0, 1, 4])
print("SNIPPET OK")
