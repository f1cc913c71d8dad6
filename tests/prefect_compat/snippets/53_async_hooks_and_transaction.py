# Idiom: async flows with a transaction and rollback hooks.
import asyncio

from prefect import flow, task
from prefect.transactions import transaction

log = []


@task
async def reserve(item: str) -> str:
    log.append(f"reserve {item}")
    return item


@reserve.on_rollback
def release(txn):
    log.append("release")


@task
async def charge() -> None:
    raise RuntimeError("card declined")


@flow
async def checkout() -> None:
    with transaction():
        await reserve("book")
        await charge()


state = asyncio.run(checkout(return_state=True))
assert state.is_failed()
assert log == ["reserve book", "release"], log
print("SNIPPET OK")
