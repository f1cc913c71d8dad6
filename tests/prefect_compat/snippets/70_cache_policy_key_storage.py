# Idiom: cache policies combined and trimmed, with a cache expiration.
from datetime import timedelta

from prefect import flow, task
from prefect.cache_policies import FLOW_PARAMETERS, INPUTS

calls = []


@task(cache_policy=(INPUTS - "verbose"), cache_expiration=timedelta(minutes=5))
def compute(x: int, verbose: bool = False) -> int:
    calls.append(x)
    return x


@task(cache_policy=FLOW_PARAMETERS)
def per_run_params() -> int:
    calls.append("params")
    return 1


@flow
def policies(day: str) -> None:
    compute(1, verbose=True)
    compute(1, verbose=False)
    per_run_params()
    per_run_params()


policies("mon")
assert calls == [1, "params"], calls
print("SNIPPET OK")
