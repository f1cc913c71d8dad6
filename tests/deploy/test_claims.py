"""Claims, state changes and the reaper's retries, in-process with a controlled clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from worker_helpers import Query

from orchestrate_nb.deploy.reaper import reap
from orchestrate_nb.deploy.worker import Worker
from orchestrate_nb.processes import ProcessIdentity
from orchestrate_nb.store import claims
from orchestrate_nb.store import deployments as store
from orchestrate_nb.store.database import Database

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ELSEWHERE = ProcessIdentity("another-host", 4242, "1")


def add_runs(database: Database, name: str, *slots: dt.datetime) -> list[str]:
    with store.write(database) as conn:
        deployment = store.get_deployment(conn, name)
        rows = [store.run_row(deployment, store.flow_id(conn, deployment.flow_name), slot,
                              "Scheduled", NOW) for slot in slots]
        store.insert_runs(conn, rows)
    return [str(row["id"]) for row in rows]


def claim(database: Database, pool: str = "default",
          now: dt.datetime = NOW) -> claims.ClaimedRun | None:
    with database.write() as conn:
        return claims.claim_next_run(conn, pool, ELSEWHERE, now)


def test_claims_take_due_runs_of_the_pool_earliest_first(
        database: Database, save: Callable[..., None]) -> None:
    save(NOW, name="a", cron=None)
    save(NOW, name="b", cron=None, pool="gpu")
    later, early, future = add_runs(database, "a", NOW - dt.timedelta(minutes=1),
                                    NOW - dt.timedelta(minutes=5), NOW + dt.timedelta(hours=1))
    add_runs(database, "b", NOW - dt.timedelta(hours=1))
    taken = [claim(database), claim(database), claim(database)]
    assert [run.id if run else None for run in taken] == [early, later, None]
    gpu = claim(database, "gpu")
    assert gpu is not None and gpu.attempt == 0
    assert claim(database, now=NOW + dt.timedelta(hours=2)) is not None  # the future one


def test_state_changes_are_conditional_and_cancel_depends_on_the_state(
        database: Database, save: Callable[..., None], query: Query) -> None:
    save(NOW, name="a", cron=None)
    waiting, started = add_runs(database, "a", NOW, NOW + dt.timedelta(seconds=1))
    with database.write() as conn:
        assert claims.request_cancel(conn, waiting, NOW) == "CANCELLED"
    assert claim(database, now=NOW + dt.timedelta(seconds=1)) is not None
    with database.write() as conn:
        assert claims.request_cancel(conn, started, NOW) == "CANCELLING"
        # a late "completed" from the executor does not overwrite the cancellation
        assert not claims.set_state(conn, started, "COMPLETED", "Completed", None, NOW,
                                    only_from=("RUNNING",))
        assert claims.set_state(conn, started, "CANCELLED", "Cancelled", None, NOW,
                                only_from=("CANCELLING",))
        assert claims.request_cancel(conn, started, NOW) is None
    states = query("SELECT type FROM run_states WHERE flow_run_id = :id ORDER BY id",
                   id=started)
    assert [s["type"] for s in states] == ["SCHEDULED", "PENDING", "CANCELLING", "CANCELLED"]


def test_the_reaper_crashes_silent_remote_runs_and_retries_each_once(
        database: Database, save: Callable[..., None], query: Query) -> None:
    save(NOW, name="a", cron=None, retries=1, retry_delay_seconds=30.0)
    add_runs(database, "a", NOW)
    run = claim(database)
    assert run is not None
    assert reap(database, NOW + dt.timedelta(seconds=59)) == (0, [])  # heartbeat is recent
    crashed, retries = reap(database, NOW + dt.timedelta(seconds=61))
    assert crashed == 1 and len(retries) == 1
    assert reap(database, NOW + dt.timedelta(seconds=62)) == (0, [])  # retried once only
    retry = query("SELECT attempt, state_type FROM flow_runs WHERE id = :id", id=retries[0])
    assert retry == [{"attempt": 1, "state_type": "SCHEDULED"}]
    assert claim(database, now=NOW + dt.timedelta(seconds=90)) is None  # due 30 s after
    again = claim(database, now=NOW + dt.timedelta(seconds=91))
    assert again is not None and again.id == retries[0]
    # the retry crashes too: no retries left
    assert reap(database, NOW + dt.timedelta(seconds=200)) == (1, [])


def test_a_worker_iteration_runs_a_scheduler_pass(
        database: Database, save: Callable[..., None], query: Query) -> None:
    save(NOW, name="often", cron="* * * * *")
    Worker(database).loop(NOW + dt.timedelta(seconds=90), claim=False)
    states = query("SELECT state_name FROM flow_runs ORDER BY scheduled_time")
    assert [s["state_name"] for s in states] == ["Scheduled", "Scheduled"]
