# Idiom: NO_CACHE / NONE policy and persist_result=False turn caching off.
from prefect import flow, task
from prefect.cache_policies import INPUTS, NONE

calls = []


@task(cache_policy=NONE)
def fresh(x: int) -> int:
    calls.append(x)
    return x


@task(cache_policy=INPUTS, persist_result=False)
def unpersisted(x: int) -> int:
    calls.append(-x)
    return x


@flow
def uncached() -> None:
    fresh(1), fresh(1), unpersisted(2), unpersisted(2)


uncached()
assert calls == [1, 1, -2, -2]
print("SNIPPET OK")
