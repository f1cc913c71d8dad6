"""Schedules give UTC slots that follow their timezone's wall clock across DST changes."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrate_nb.core.schedules import (
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
    next_slots,
    zone,
)
from orchestrate_nb.errors import DeploymentError

UTC = dt.timezone.utc
BERLIN = zone("Europe/Berlin")


def local_times(slots):
    return [s.astimezone(BERLIN).strftime("%m-%d %H:%M%z") for s in slots]


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def test_a_nightly_cron_runs_at_0300_on_the_day_0200_does_not_exist():
    nightly = CronSchedule("0 2 * * *", "Europe/Berlin")
    slots = next_slots(nightly, utc(2024, 3, 29), utc(2024, 4, 1, 12))
    assert local_times(slots) == ["03-29 02:00+0100", "03-30 02:00+0100",
                                  "03-31 03:00+0200", "04-01 02:00+0200"]


def test_a_nightly_cron_runs_once_on_the_day_0200_happens_twice():
    nightly = CronSchedule("0 2 * * *", "Europe/Berlin")
    slots = next_slots(nightly, utc(2024, 10, 25, 12), utc(2024, 10, 28, 12))
    assert local_times(slots) == ["10-26 02:00+0200", "10-27 02:00+0200", "10-28 02:00+0100"]


def test_gap_times_of_a_frequent_cron_collapse_into_one_run_after_the_gap():
    half_hourly = CronSchedule("*/30 * * * *", "Europe/Berlin")
    slots = next_slots(half_hourly, utc(2024, 3, 31, 0, 15), utc(2024, 3, 31, 2, 0))
    assert local_times(slots) == ["03-31 01:30+0100", "03-31 03:00+0200", "03-31 03:30+0200",
                                  "03-31 04:00+0200"]


def test_an_interval_counts_elapsed_time_from_its_anchor():
    hourly = IntervalSchedule(3600, utc(2024, 1, 1, 0, 10))
    assert next_slots(hourly, utc(2024, 3, 31, 0, 30), utc(2024, 3, 31, 3)) == [
        utc(2024, 3, 31, 1, 10), utc(2024, 3, 31, 2, 10)]


def test_an_rrule_follows_the_wall_clock_of_its_timezone():
    mondays = RRuleSchedule("FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
                            "Europe/Berlin", utc(2024, 1, 1))
    slots = next_slots(mondays, utc(2024, 3, 20), utc(2024, 4, 9))
    assert local_times(slots) == ["03-25 09:00+0100", "04-01 09:00+0200", "04-08 09:00+0200"]


def test_an_rrule_with_a_count_ends():
    three = RRuleSchedule("FREQ=DAILY;COUNT=3", "UTC", utc(2024, 1, 1))
    assert len(next_slots(three, utc(2023, 12, 1), utc(2025, 1, 1))) == 3  # from the anchor


@pytest.mark.parametrize(("make", "message"), [
    (lambda: CronSchedule("0 25 * * *"), "invalid cron expression '0 25 \\* \\* \\*'"),
    (lambda: CronSchedule("0 2 * * *", "Mars/Olympus"), "unknown timezone 'Mars/Olympus'"),
    (lambda: RRuleSchedule("FREQ=SOMETIMES"), "invalid rrule 'FREQ=SOMETIMES'"),
    (lambda: IntervalSchedule(0, utc(2024, 1, 1)), "invalid interval 0"),
])
def test_an_invalid_schedule_is_one_line_naming_it(make, message):
    with pytest.raises(DeploymentError, match=message) as caught:
        make()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("rrule", [
    "DTSTART:20240101T090000\nRRULE:FREQ=DAILY",
    "DTSTART:20240101T090000 RRULE:FREQ=DAILY",
    "DTSTART:20240101T090000\\nRRULE:FREQ=DAILY",  # "\n" typed on a command line
    "DTSTART;TZID=Europe/Berlin:20240101T090000\nRRULE:FREQ=DAILY",
    "DTSTART:20240101T080000Z\nRRULE:FREQ=DAILY;UNTIL=20300101T000000Z",
], ids=["newline", "space", "escaped-newline", "tzid", "utc"])
def test_an_rrule_with_a_dtstart_starts_there_as_dateutil_reads_it(rrule):
    daily = RRuleSchedule(rrule, "Europe/Berlin", utc(2024, 3, 1))
    slots = next_slots(daily, utc(2024, 3, 30), utc(2024, 4, 1))
    assert local_times(slots) == ["03-30 09:00+0100", "03-31 09:00+0200"]
