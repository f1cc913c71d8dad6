# Idiom: an async flow gathering async tasks.
import asyncio

from prefect import flow, task


@task
async def fetch(i: int) -> int:
    await asyncio.sleep(0.01)
    return i


@flow
async def fetch_all(n: int = 5) -> int:
    results = await asyncio.gather(*[fetch(i) for i in range(n)])
    return sum(results)


assert asyncio.run(fetch_all()) == 10
print("SNIPPET OK")
