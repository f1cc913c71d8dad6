# Idiom: refresh_cache=True recomputes and overwrites.
from prefect import flow, task
from prefect.cache_policies import INPUTS

calls = []


@task(cache_policy=INPUTS)
def lookup(x: int) -> int:
    calls.append(x)
    return len(calls)


@flow
def refreshing():
    first = lookup(1)
    refreshed = lookup.with_options(refresh_cache=True)(1)
    again = lookup(1)
    return first, refreshed, again


assert refreshing() == (1, 2, 2)
print("SNIPPET OK")
