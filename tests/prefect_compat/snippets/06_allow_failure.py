# Idiom: allow_failure lets a downstream task run after an upstream failure.
from prefect import allow_failure, flow, task


@task
def might_fail() -> int:
    raise ValueError("boom")


@task
def cleanup(upstream) -> str:
    return "cleaned"


@flow
def resilient() -> str:
    upstream = might_fail.submit()
    return cleanup.submit(allow_failure(upstream)).result()


assert resilient() == "cleaned"
print("SNIPPET OK")
