# Idiom: exponential_backoff with jitter from prefect.tasks.
from prefect import flow, task
from prefect.tasks import exponential_backoff

calls = []


@task(retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=0.01),
      retry_jitter_factor=0.5)
def call_api() -> int:
    calls.append(1)
    if len(calls) < 3:
        raise RuntimeError("503")
    return 200


@flow
def poll() -> int:
    return call_api()


assert poll() == 200 and len(calls) == 3
print("SNIPPET OK")
