# Idiom: cache_policy=INPUTS with cache_expiration; the second call is Cached.
from datetime import timedelta

from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE

calls = []


@task(cache_policy=INPUTS + TASK_SOURCE, cache_expiration=timedelta(hours=1))
def expensive(x: int) -> int:
    calls.append(x)
    return x * 2


@flow
def cached_twice():
    first = expensive(21, return_state=True)
    second = expensive(21, return_state=True)
    return first.name, second.name, second.result()


assert cached_twice() == ("Completed", "Cached", 42)
assert calls == [21]
print("SNIPPET OK")
