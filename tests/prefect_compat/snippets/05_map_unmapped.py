# Idiom: map over a list with an unmapped constant.
from prefect import flow, task, unmapped


@task
def scale(value: int, factor: int) -> int:
    return value * factor


@task
def total(values: list[int]) -> int:
    return sum(values)


@flow
def mapped(factor: int = 3) -> int:
    scaled = scale.map([1, 2, 3], unmapped(factor))
    return total(scaled)


assert mapped() == 18
print("SNIPPET OK")
