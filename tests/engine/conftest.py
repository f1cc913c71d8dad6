"""Engine tests observe the RunEvent stream through a list reporter (no database)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrate_nb.core.events import (
    DependencyEdge,
    FlowRunCreated,
    LogEmitted,
    StateChanged,
    TaskRunCreated,
)
from orchestrate_nb.engine import reporting
from orchestrate_nb.engine.reporting import ListReporter


class Recorded(ListReporter):
    """Events with helpers phrased the way tests ask questions."""

    def flow_runs(self) -> list[FlowRunCreated]:
        return self.of_type(FlowRunCreated)

    def task_runs(self) -> list[TaskRunCreated]:
        return self.of_type(TaskRunCreated)

    def task_run(self, name: str) -> TaskRunCreated:
        matches = [t for t in self.task_runs() if t.name == name]
        assert len(matches) == 1, f"expected one task run named {name!r}, got {matches}"
        return matches[0]

    def states_of(self, run_id: str) -> list[str]:
        return [e.state_name for e in self.of_type(StateChanged) if e.run_id == run_id]

    def final_state_of(self, run_id: str) -> str:
        return self.states_of(run_id)[-1]

    def edges(self) -> list[DependencyEdge]:
        return self.of_type(DependencyEdge)

    def logs(self) -> list[LogEmitted]:
        return self.of_type(LogEmitted)

    def shape(self) -> tuple[list[tuple[str, int, list[str]]], list[tuple[str, str, str]]]:
        """What was recorded, minus ids and times: each task run's name, map index and
        states, and each edge by run names (to compare runners with each other)."""
        runs = sorted(self.task_runs(), key=lambda t: t.name)
        names = {t.id: t.name for t in runs}
        return ([(t.name, t.map_index, self.states_of(t.id)) for t in runs],
                sorted((names[e.upstream_task_run_id], names[e.downstream_task_run_id],
                        e.input_name) for e in self.edges()))


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[Recorded]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATE_NB_STORE", "0")
    reporting.flush_and_close_store()
    recorded = Recorded()
    reporting.subscribe(recorded)
    yield recorded
    reporting.unsubscribe(recorded)
    reporting.flush_and_close_store()
