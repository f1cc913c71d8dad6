# Idiom: cache_key_fn=task_input_hash, and a custom key function typed with TaskRunContext.
from typing import Any

from prefect import flow, task
from prefect.context import TaskRunContext
from prefect.tasks import task_input_hash

calls = []


def by_customer(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return f"{context.task.name}-{parameters['customer']}"


@task(cache_key_fn=task_input_hash)
def hashed(x: int) -> int:
    calls.append(("hashed", x))
    return x


@task(cache_key_fn=by_customer)
def invoice(customer: str, amount: int) -> int:
    calls.append(("invoice", customer))
    return amount


@flow
def billing():
    hashed(1), hashed(1)
    return invoice("acme", 10), invoice("acme", 99)


assert billing() == (10, 10)
assert calls == [("hashed", 1), ("invoice", "acme")]
print("SNIPPET OK")
