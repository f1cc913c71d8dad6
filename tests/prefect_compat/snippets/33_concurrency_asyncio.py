# Idiom: prefect.concurrency.asyncio in async tasks.
import asyncio

from prefect import flow, task
from prefect.concurrency.asyncio import concurrency, rate_limit


@task
async def call(i: int) -> int:
    await rate_limit("external-api")
    async with concurrency("external-api-workers", occupy=2):
        await asyncio.sleep(0.01)
        return i


@flow
async def calls() -> list[int]:
    return list(await asyncio.gather(*[call(i) for i in range(3)]))


assert asyncio.run(calls()) == [0, 1, 2]
print("SNIPPET OK")
