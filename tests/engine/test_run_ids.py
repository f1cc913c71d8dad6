"""Run ids sort by creation time (UUIDv7): a store's indexes grow at their end."""

from __future__ import annotations

import uuid

from orchestrate_nb import flow, task
from orchestrate_nb.core.events import TaskRunCreated
from orchestrate_nb.core.ids import time_ordered_id
from orchestrate_nb.engine.reporting import ListReporter, subscribe, unsubscribe


def test_ids_are_uuid7_text_in_the_order_they_were_made():
    ids = [time_ordered_id() for _ in range(5000)]
    assert len(set(ids)) == 5000
    assert ids == sorted(ids)
    parsed = uuid.UUID(ids[0])
    assert str(parsed) == ids[0] and parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_task_runs_of_a_flow_get_ids_in_the_order_they_ran():
    @task
    def step(i: int) -> int:
        return i

    @flow
    def steps() -> None:
        for i in range(50):
            step(i)

    events = ListReporter()
    subscribe(events)
    try:
        steps()
    finally:
        unsubscribe(events)
    created = events.of_type(TaskRunCreated)
    assert [e.name for e in created] == [f"step-{i}" for i in range(50)]
    assert [e.id for e in created] == sorted(e.id for e in created)
