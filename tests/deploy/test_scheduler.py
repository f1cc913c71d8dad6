"""The scheduler turns schedule slots into runs: once each, on time, never a pile of late runs.

Time is a fake clock: every pass is given its ``now``.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from orchestrate_nb.core.schedules import zone
from orchestrate_nb.deploy.scheduler import Scheduler, schedule_due_runs
from orchestrate_nb.settings import load_settings
from orchestrate_nb.store.database import open_database
from orchestrate_nb.store.deployments import set_paused, write

UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def runs(query, name="nightly"):
    return query("SELECT r.id, r.state_type, r.state_name, r.scheduled_time, r.pool "
                 "FROM flow_runs r JOIN deployments d ON d.id = r.deployment_id "
                 "WHERE d.name = :name ORDER BY r.scheduled_time", name=name)


def slot(row):
    value = row["scheduled_time"]
    value = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def run_hourly_with_a_worker(database, query, start, end):
    """Scheduler passes every hour; a 'worker' completes every run that is due."""
    now = start
    while now <= end:
        schedule_due_runs(database, now)
        with database.write() as conn:
            from sqlalchemy import text
            conn.execute(text("UPDATE flow_runs SET state_type = 'COMPLETED', "
                              "state_name = 'Completed' WHERE scheduled_time <= :now"),
                         {"now": now})
        now += HOUR


def test_a_first_pass_pre_creates_the_next_run(database, query, save):
    save(utc(2024, 5, 1, 12))
    assert schedule_due_runs(database, utc(2024, 5, 1, 12, 0, 1)) == 1
    [run] = runs(query)
    assert (run["state_type"], run["state_name"], run["pool"]) == ("SCHEDULED", "Scheduled",
                                                                   "default")
    assert slot(run) == utc(2024, 5, 2, 2)
    assert query("SELECT type, name FROM run_states WHERE flow_run_id = :id",
                 id=run["id"]) == [{"type": "SCHEDULED", "name": "Scheduled"}]


def test_a_pass_before_the_next_slot_creates_nothing(database, query, save):
    save(utc(2024, 5, 1, 12))
    schedule_due_runs(database, utc(2024, 5, 1, 12))
    assert schedule_due_runs(database, utc(2024, 5, 2, 1, 59)) == 0
    assert len(runs(query)) == 1


@pytest.mark.parametrize(("start", "expected"), [
    (utc(2024, 3, 29, 12), ["03-30 02:00+0100", "03-31 03:00+0200", "04-01 02:00+0200",
                            "04-02 02:00+0200"]),
    (utc(2024, 10, 25, 12), ["10-26 02:00+0200", "10-27 02:00+0200", "10-28 02:00+0100",
                             "10-29 02:00+0100"]),
], ids=["spring-forward", "fall-back"])
def test_a_nightly_cron_runs_once_a_night_across_a_daylight_saving_change(
        database, query, save, start, expected):
    save(start, timezone="Europe/Berlin")
    run_hourly_with_a_worker(database, query, start, start + dt.timedelta(days=3, hours=11))
    berlin = zone("Europe/Berlin")
    local = [slot(r).astimezone(berlin).strftime("%m-%d %H:%M%z") for r in runs(query)]
    assert local == expected  # the last one is the pre-created next run
    assert [r["state_name"] for r in runs(query)][-1] == "Scheduled"


def test_catching_up_after_three_days_down_creates_exactly_one_late_run(database, query, save):
    save(utc(2024, 5, 1, 0, 30), cron="0 * * * *")
    schedule_due_runs(database, utc(2024, 5, 1, 0, 30))
    schedule_due_runs(database, utc(2024, 5, 4, 0, 30))
    rows = runs(query)
    assert [(r["state_name"], slot(r)) for r in rows] == [
        ("Late", utc(2024, 5, 4, 0)), ("Scheduled", utc(2024, 5, 4, 1))]
    names = query("SELECT name FROM run_states WHERE flow_run_id = :id ORDER BY id",
                  id=rows[0]["id"])
    assert [n["name"] for n in names] == ["Scheduled", "Late"]


def test_catch_up_all_creates_every_missed_slot(database, query, save):
    save(utc(2024, 5, 1, 0, 30), cron="0 * * * *", catchup="all")
    schedule_due_runs(database, utc(2024, 5, 1, 0, 30))
    schedule_due_runs(database, utc(2024, 5, 1, 5, 30))
    states = [r["state_name"] for r in runs(query)]
    assert states == ["Late"] * 5 + ["Scheduled"]


def test_catch_up_none_drops_missed_slots_and_keeps_the_next(database, query, save):
    save(utc(2024, 5, 1, 0, 30), cron="0 * * * *", catchup="none")
    schedule_due_runs(database, utc(2024, 5, 1, 0, 30))
    schedule_due_runs(database, utc(2024, 5, 1, 5, 30))
    assert [(r["state_name"], slot(r)) for r in runs(query)] == [
        ("Scheduled", utc(2024, 5, 1, 6))]


def test_a_run_no_worker_took_becomes_late_after_a_minute(database, query, save):
    save(utc(2024, 5, 1, 1), cron="0 2 * * *")
    schedule_due_runs(database, utc(2024, 5, 1, 1))
    schedule_due_runs(database, utc(2024, 5, 1, 2, 0, 30))
    assert [r["state_name"] for r in runs(query)] == ["Scheduled", "Scheduled"]
    schedule_due_runs(database, utc(2024, 5, 1, 2, 1, 1))
    assert [r["state_name"] for r in runs(query)] == ["Late", "Scheduled"]


def test_a_paused_deployment_gets_no_runs_and_resuming_does_not_pile_them_up(
        database, query, save):
    save(utc(2024, 5, 1, 0, 30), cron="0 * * * *")
    schedule_due_runs(database, utc(2024, 5, 1, 0, 30))
    with write(database) as conn:
        set_paused(conn, "nightly", True, utc(2024, 5, 1, 0, 31))
    assert runs(query) == []  # the pre-created run went with the pause
    assert schedule_due_runs(database, utc(2024, 5, 2, 0, 30)) == 0
    with write(database) as conn:
        set_paused(conn, "nightly", False, utc(2024, 5, 2, 0, 30))
    schedule_due_runs(database, utc(2024, 5, 2, 0, 30))
    assert [(r["state_name"], slot(r)) for r in runs(query)] == [
        ("Scheduled", utc(2024, 5, 2, 1))]


def test_interval_and_rrule_deployments_are_scheduled_too(database, query, save):
    save(utc(2024, 5, 1), name="every-10-min", cron=None, schedule_kind="interval",
         interval_seconds=600.0, anchor=utc(2024, 5, 1))
    save(utc(2024, 5, 1), name="mondays", cron=None, schedule_kind="rrule",
         rrule="FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", anchor=utc(2024, 5, 1))
    schedule_due_runs(database, utc(2024, 5, 1, 0, 5))
    assert [slot(r) for r in runs(query, "every-10-min")] == [utc(2024, 5, 1, 0, 10)]
    assert [slot(r) for r in runs(query, "mondays")] == [utc(2024, 5, 6, 9)]


def test_schedulers_running_at_the_same_instant_create_each_slot_once(database, query, save):
    for index in range(30):
        save(utc(2024, 5, 1, 0, 30), name=f"d{index}", cron="0 * * * *")
    databases = [open_database(load_settings()) for _ in range(4)]
    barrier = threading.Barrier(len(databases))
    errors = []

    def scheduler(db):
        barrier.wait()
        try:
            for minute in (30, 31, 32):
                Scheduler(db).loop(utc(2024, 5, 1, 0, minute))
            Scheduler(db).loop(utc(2024, 5, 2, 0, 30))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=scheduler, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for db in databases:
        db.dispose()
    assert errors == []
    counts = query("SELECT deployment_id, scheduled_time, COUNT(*) AS n FROM flow_runs "
                   "GROUP BY deployment_id, scheduled_time")
    assert len(counts) == 30 * 2  # one Late catch-up run and one upcoming run each
    assert {row["n"] for row in counts} == {1}


def test_run_forever_passes_until_stopped(database, query, save):
    save(utc(2024, 5, 1), cron="* * * * *")
    stop = threading.Event()
    passes = []

    def clock():
        passes.append(1)
        if len(passes) >= 3:
            stop.set()
        return utc(2024, 5, 1, 0, len(passes))

    Scheduler(database, clock).run_forever(poll=0.01, stop_event=stop)
    assert [slot(r) for r in runs(query)][-1] == utc(2024, 5, 1, 0, 4)


def test_a_deployment_whose_schedule_broke_does_not_stop_the_others(database, query, save,
                                                                      caplog):
    save(utc(2024, 5, 1), name="broken", timezone="Mars/Olympus")
    save(utc(2024, 5, 1), name="fine")
    assert schedule_due_runs(database, utc(2024, 5, 1, 0, 1)) == 1
    assert len(runs(query, "fine")) == 1
    assert "deployment 'broken' is not scheduled: unknown timezone" in caplog.text


@pytest.mark.parametrize("broken", [
    {"cron": "0 0 31 2 *"},
    {"cron": None, "schedule_kind": "interval", "interval_seconds": 1e308},
    {"cron": None, "schedule_kind": "interval", "interval_seconds": 3e11},
], ids=["feb-31", "interval-1e308", "interval-3e11"])
def test_a_stored_schedule_that_cannot_fire_is_skipped_with_one_warning(
        database, query, save, caplog, broken):
    # as an older version stored it: today's deploy refuses such schedules
    save(utc(2024, 5, 1), name="impossible", anchor=utc(2024, 5, 1), **broken)
    save(utc(2024, 5, 1), name="fine")
    assert schedule_due_runs(database, utc(2024, 5, 1, 0, 1)) == 1
    assert schedule_due_runs(database, utc(2024, 5, 2, 2, 0, 1)) == 1  # the next slot's run
    assert [slot(r) for r in runs(query, "fine")] == [utc(2024, 5, 2, 2), utc(2024, 5, 3, 2)]
    assert runs(query, "impossible") == []
    warnings = [r.getMessage() for r in caplog.records if "'impossible'" in r.getMessage()]
    assert len(warnings) == 1 and "is not scheduled" in warnings[0]
