"""A small ETL flow: the `make demo` job. Written exactly as it would be for Prefect,
with only the import changed."""

from __future__ import annotations

import random

from orchestrate_nb import flow, get_run_logger, task, unmapped


@task(retries=3, retry_delay_seconds=0.1)
def extract(source: str) -> list[int]:
    if random.random() < 0.3:  # a flaky source: retries make the flow reliable
        raise ConnectionError(f"{source} timed out")
    return [len(source) * i for i in range(5)]


@task(task_run_name="transform-{row}")
def transform(row: int, factor: int) -> int:
    return row * factor


@task
def load(rows: list[int]) -> int:
    get_run_logger().info("loaded %d rows (total %d)", len(rows), sum(rows))
    return len(rows)


@flow(name="etl", log_prints=True)
def etl(source: str = "warehouse", factor: int = 3) -> int:
    rows = extract(source)
    transformed = transform.map(rows, unmapped(factor))
    count = load(transformed)  # futures in, values out: each becomes a dependency edge
    print(f"{count} rows loaded from {source}")
    return count


if __name__ == "__main__":
    etl()
