# Idiom: an async transaction around async tasks, committed when the block ends.
import asyncio

from prefect import flow, task
from prefect.transactions import atransaction

committed = []


@task
async def upload(name: str) -> str:
    await asyncio.sleep(0)
    return name


@upload.on_commit
def mark(txn):
    committed.append(txn.get("batch"))


@flow
async def uploads() -> list[str]:
    async with atransaction() as txn:
        txn.set("batch", "b-1")
        names = [await upload("a"), await upload("b")]
    return names


assert asyncio.run(uploads()) == ["a", "b"]
assert committed == ["b-1", "b-1"]
print("SNIPPET OK")
