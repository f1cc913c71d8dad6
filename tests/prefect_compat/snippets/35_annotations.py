# Idiom: prefect.utilities.annotations (quote, unmapped, allow_failure).
from prefect import flow, task
from prefect.utilities.annotations import allow_failure, quote, unmapped


@task
def size(big: list[int]) -> int:
    return len(big)


@task
def add(x: int, offsets: list[int]) -> int:
    return x + sum(offsets)


@task
def fails() -> int:
    raise ValueError("x")


@task
def report(value) -> str:
    return type(value).__name__


@flow
def annotated() -> tuple[int, list[int], str]:
    big = list(range(100_000))
    n = size(quote(big))
    added = add.map([1, 2], unmapped([10, 20])).result()
    kind = report(allow_failure(fails.submit()))
    return n, added, kind


assert annotated() == (100_000, [31, 32], "ValueError")
print("SNIPPET OK")
