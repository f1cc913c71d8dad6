"""The query API behind ``orchestrate-nb runs`` and the server: filters, lookups, pruning."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrate_nb.errors import NotFound
from orchestrate_nb.processes import current_process
from orchestrate_nb.store.repository import RunRepository
from orchestrate_nb.store.writer import BatchWriter

UTC = dt.timezone.utc


@pytest.fixture
def repository(database) -> RunRepository:
    return RunRepository(database)


@pytest.fixture
def write(database):
    writer = BatchWriter(database, current_process())
    return writer.write


def test_flow_runs_are_listed_newest_first_and_filtered(write, synthetic, repository):
    old = synthetic.days_ago(3)
    ancient, _, events = old.completed_flow("etl")
    write(events)
    failed, _, events = synthetic.completed_flow("etl", final="FAILED")
    write(events)
    other, _, events = synthetic.completed_flow("report")
    write(events)

    assert [r.id for r in repository.list_flow_runs()] == [other.id, failed.id, ancient.id]
    assert [r.id for r in repository.list_flow_runs(["FAILED"])] == [failed.id]
    assert [r.id for r in repository.list_flow_runs(flow_name="etl")] == [failed.id, ancient.id]
    assert [r.id for r in repository.list_flow_runs(since=dt.timedelta(days=1))] == [
        other.id, failed.id]
    assert [r.id for r in repository.list_flow_runs(limit=1)] == [other.id]
    assert repository.list_flow_runs(["CRASHED"]) == []


def test_a_flow_run_is_found_by_a_unique_prefix_of_its_id(write, synthetic, repository):
    write([synthetic.flow_run_created(id="abc123"), synthetic.flow_run_created(id="abd456")])

    assert repository.get_flow_run("abc").id == "abc123"
    assert repository.get_flow_run("abd456").id == "abd456"
    with pytest.raises(NotFound, match="'ab' matches several flow runs"):
        repository.get_flow_run("ab")
    with pytest.raises(NotFound, match="no flow run matches 'zz'"):
        repository.get_flow_run("zz")
    with pytest.raises(NotFound, match="no flow run matches 'a%'"):
        repository.get_flow_run("a%")  # LIKE wildcards are taken literally


def test_task_runs_come_with_durations_and_retries(write, synthetic, repository):
    run = synthetic.flow_run_created(state="RUNNING")
    task = synthetic.task_run_created(run.id, "flaky-0")
    started = synthetic.task_state(task, "RUNNING")
    synthetic.tick(1.5)
    write([run, task, started, synthetic.task_state(task, "SCHEDULED", "AwaitingRetry"),
           synthetic.task_state(task, "RUNNING", "Retrying"),
           synthetic.task_state(task, "COMPLETED")])

    (info,) = repository.list_task_runs(run.id)
    assert info.retries == 1
    assert info.duration is not None and info.duration >= dt.timedelta(seconds=1.5)


def test_edges_name_the_task_runs_they_join(write, synthetic, repository):
    run, tasks, events = synthetic.completed_flow(tasks=3)
    write(events)
    assert [(e.upstream_name, e.downstream_name, e.input_name)
            for e in repository.list_edges(run.id)] == [("step-0", "step-1", "x"),
                                                         ("step-1", "step-2", "x")]


def test_logs_are_read_in_order_from_a_cursor(write, synthetic, repository):
    run, tasks, events = synthetic.completed_flow(tasks=3)
    write(events)
    first, *rest = repository.list_logs(run.id)
    assert (first.message, first.task_run_name) == ("step 0 working", "step-0")
    assert [line.message for line in repository.list_logs(run.id, after_id=first.id)] == [
        line.message for line in rest]
    assert repository.list_logs(run.id, after_id=rest[-1].id) == []


def test_pruning_deletes_old_finished_runs_with_everything_of_theirs(write, synthetic,
                                                                    repository, query):
    old = synthetic.days_ago(40)
    old_run, _, events = old.completed_flow(tasks=3)
    write(events)
    still_running = old.flow_run_created(state="RUNNING")
    old_alone = old.task_run_created(None, "alone-0", state="COMPLETED")
    write([still_running, old_alone])
    recent, _, events = synthetic.completed_flow(tasks=2)
    write(events)
    progress: list[tuple[int, int]] = []

    assert repository.count_prunable(dt.timedelta(days=30)).flow_runs == 1
    summary = repository.prune(dt.timedelta(days=30), progress=lambda *p: progress.append(p))

    assert (summary.flow_runs, summary.task_runs, summary.log_lines) == (1, 4, 3)
    assert progress[-1] == (2, 2)
    assert {r.id for r in repository.list_flow_runs()} == {still_running.id, recent.id}
    for table in ("run_states", "task_run_edges", "logs", "task_runs"):
        assert query(f"SELECT * FROM {table} WHERE flow_run_id = :f", f=old_run.id) == []
    assert query("SELECT * FROM run_states WHERE task_run_id = :t", t=old_alone.id) == []
    assert len(repository.list_task_runs(recent.id)) == 2
