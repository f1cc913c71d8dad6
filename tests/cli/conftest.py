"""CLI fixtures: a populated store and a way to run ``orchestrate-nb`` in-process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from synthetic_runs import SyntheticRuns

from orchestrate_nb.processes import current_process
from orchestrate_nb.settings import load_settings
from orchestrate_nb.store.database import open_database
from orchestrate_nb.store.writer import BatchWriter


@dataclass
class Store:
    """Write synthetic runs into the store the CLI reads."""

    synthetic: SyntheticRuns
    writer: BatchWriter

    def add_flow(self, flow: str = "etl", tasks: int = 3, final: str = "COMPLETED",
                 days_ago: float | None = None, **fields):  # type: ignore[no-untyped-def]
        runs = self.synthetic if days_ago is None else self.synthetic.days_ago(days_ago)
        run, task_runs, events = runs.completed_flow(flow, tasks, final, **fields)
        self.writer.write(events)
        return run, task_runs


@pytest.fixture
def store(database_url: str, synthetic: SyntheticRuns) -> Iterator[Store]:
    database = open_database(load_settings())
    yield Store(synthetic, BatchWriter(database, current_process()))
    database.dispose()
