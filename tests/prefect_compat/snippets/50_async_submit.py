# Idiom: submitting async tasks from a sync flow.
import asyncio

from prefect import flow, task


@task
async def fetch(i: int) -> int:
    await asyncio.sleep(0.01)
    return i * 2


@flow
def sync_parent() -> list[int]:
    futures = [fetch.submit(i) for i in range(3)]
    return [f.result() for f in futures]


assert sync_parent() == [0, 2, 4]
print("SNIPPET OK")
