# Idiom: prefect.concurrency.sync with a limit nobody created: a warning, then it runs.
from prefect import flow, task
from prefect.concurrency.sync import concurrency, rate_limit


@task
def query(i: int) -> int:
    with concurrency("database", occupy=1):
        return i


@flow
def queries() -> int:
    rate_limit("api-calls")
    return sum(query.map(range(4)).result())


assert queries() == 6
print("SNIPPET OK")
