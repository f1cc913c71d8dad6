# Idiom: Transaction from the top-level package, used as a context manager.
from prefect import Transaction, flow, task


@task
def add(x: int) -> int:
    return x + 1


@flow
def with_txn() -> int:
    with Transaction() as txn:
        txn.set("answer", 41)
        return add(txn.get("answer"))


assert with_txn() == 42
print("SNIPPET OK")
