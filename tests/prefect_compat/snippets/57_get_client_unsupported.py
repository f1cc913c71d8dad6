# expect: unsupported get_client
# Idiom: reading runs through the API client (there is no API server here).
import asyncio

from prefect import get_client


async def main() -> None:
    async with get_client() as client:
        await client.read_flow_runs()


asyncio.run(main())
