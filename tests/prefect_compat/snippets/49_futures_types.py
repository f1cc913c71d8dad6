# Idiom: PrefectFuture type hints and PrefectFutureList from map.
from prefect import flow, task
from prefect.futures import PrefectFuture, PrefectFutureList


@task
def inc(x: int) -> int:
    return x + 1


@flow
def typed() -> list[int]:
    one: PrefectFuture = inc.submit(1)
    many: PrefectFutureList = inc.map([1, 2, 3])
    assert isinstance(one, PrefectFuture)
    many.wait()
    return [one.result(), *many.result()]


assert typed() == [2, 2, 3, 4]
print("SNIPPET OK")
