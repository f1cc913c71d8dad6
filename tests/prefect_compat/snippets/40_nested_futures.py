# Idiom: futures inside dataclasses and pydantic models are resolved before the task runs.
from dataclasses import dataclass
from typing import Any

from prefect import flow, task
from pydantic import BaseModel, ConfigDict


@dataclass
class Batch:
    rows: Any
    label: str


class Settings(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    threshold: Any


@task
def load() -> list[int]:
    return [1, 5, 9]


@task
def cutoff() -> int:
    return 4


@task
def keep(batch: Batch, settings: Settings) -> tuple[str, list[int]]:
    return batch.label, [r for r in batch.rows if r > settings.threshold]


@flow
def nested() -> tuple[str, list[int]]:
    return keep(Batch(load.submit(), "b1"), Settings(threshold=cutoff.submit()))


assert nested() == ("b1", [5, 9])
print("SNIPPET OK")
