# Idiom: a keyed transaction makes work idempotent (committed once).
from prefect import flow, task
from prefect.transactions import transaction

runs = []


@task
def publish(day: str) -> None:
    runs.append(day)


@flow
def daily(day: str) -> str:
    with transaction(key=f"publish-{day}") as txn:
        if txn.is_committed():
            return "already done"
        publish(day)
    return "published"


assert daily("2024-01-01") == "published"
assert daily("2024-01-01") == "already done"
assert runs == ["2024-01-01"]
print("SNIPPET OK")
