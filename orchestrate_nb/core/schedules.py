"""Schedules: when a deployment's runs are due. Pure (no I/O); slots are UTC datetimes.

Cron and rrule schedules follow the wall clock of their timezone, like cron itself:
- a local time that does not exist (the spring-forward gap, e.g. 02:00–02:59 in Europe/Berlin
  on the last Sunday of March) runs once, at the first minute after the gap (03:00);
- a local time that happens twice (the fall-back hour) runs once, at its first occurrence.
Intervals are elapsed time (every 3600 s stays every 3600 s across a DST change); their
timezone is only used to show times.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrate_nb.errors import DeploymentError

UTC = dt.timezone.utc
MAX_SLOTS = 100_000  # a guard against iterating a minutely schedule over years
_MINUTE = dt.timedelta(minutes=1)


class Schedule(Protocol):
    @property
    def timezone(self) -> str:
        """The IANA zone whose wall clock the schedule follows."""

    def slots(self, after: dt.datetime) -> Iterator[dt.datetime]:
        """Slots strictly after ``after``, in order, as UTC datetimes."""

    def describe(self) -> str:
        """The schedule in words, for ``deployment ls``."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DeploymentError(f"unknown timezone {name!r} (use an IANA name such as "
                              "'Europe/Berlin' or 'UTC')") from None


def next_slots(schedule: Schedule, after: dt.datetime, until: dt.datetime,
               limit: int = MAX_SLOTS) -> list[dt.datetime]:
    """The slots in ``(after, until]``, at most ``limit`` of them (the earliest)."""
    found: list[dt.datetime] = []
    for slot in schedule.slots(after):
        if slot > until or len(found) >= limit:
            break
        found.append(slot)
    return found


def next_slot(schedule: Schedule, after: dt.datetime) -> dt.datetime | None:
    return next(iter(schedule.slots(after)), None)


def require_next_slot(schedule: Schedule, after: dt.datetime) -> dt.datetime:
    """The first slot after ``after``, or one ``DeploymentError`` line when the schedule
    cannot fire (``0 0 31 2 *``, an interval past the calendar's end, an ended rrule):
    stored, such a schedule would give the scheduler nothing to compute."""
    try:
        slot = next_slot(schedule, after)
    except (ValueError, TypeError, OverflowError, ArithmeticError):
        slot = None  # croniter: no match within 50 years; datetime: past the year 9999
    if slot is None:
        raise DeploymentError(f"{schedule.describe()} never fires: no run after "
                              f"{after.strftime('%Y-%m-%d %H:%M %Z')} can be computed")
    return slot


def _to_utc(naive_local: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A wall-clock time in ``tz`` as UTC: a gap time moves to the first minute after it."""
    for _ in range(24 * 60):
        aware = naive_local.replace(tzinfo=tz)  # fold=0: the first of a repeated time
        utc = aware.astimezone(UTC)
        if utc.astimezone(tz).replace(tzinfo=None) == naive_local:
            return utc
        naive_local = (naive_local + _MINUTE).replace(second=0, microsecond=0)
    raise DeploymentError(f"cannot place {naive_local} in timezone {tz.key}")


def _wall_clock_slots(naive: Iterator[dt.datetime], tz: ZoneInfo,
                      after: dt.datetime) -> Iterator[dt.datetime]:
    previous = after
    for local in naive:
        slot = _to_utc(local, tz)
        if slot > previous:  # drops the gap's duplicates and repeated-hour times before after
            previous = slot
            yield slot


def _local_naive(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


@dataclass(frozen=True)
class CronSchedule:
    cron: str
    timezone: str = "UTC"
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _parsed: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from croniter import croniter

        object.__setattr__(self, "_tz", zone(self.timezone))
        try:
            parsed = croniter(self.cron, dt.datetime(2000, 1, 1))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise DeploymentError(f"invalid cron expression {self.cron!r} (five fields: "
                                  "minute hour day-of-month month day-of-week)") from None
        object.__setattr__(self, "_parsed", parsed)  # parsed once: parsing costs ~100 µs

    def slots(self, after: dt.datetime) -> Iterator[dt.datetime]:
        iterator = copy.copy(self._parsed)  # shares the parsed fields, not the position
        iterator.set_current(_local_naive(after, self._tz), force=True)
        naive = (iterator.get_next(dt.datetime) for _ in range(MAX_SLOTS))
        return _wall_clock_slots(naive, self._tz, after)

    def describe(self) -> str:
        return f"cron {self.cron} ({self.timezone})"


@dataclass(frozen=True)
class IntervalSchedule:
    seconds: float
    anchor: dt.datetime
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        zone(self.timezone)
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) \
                or not 0 < self.seconds < math.inf:
            raise DeploymentError(f"invalid interval {self.seconds!r}: give a positive "
                                  "number of seconds")
        if self.anchor.tzinfo is None:
            object.__setattr__(self, "anchor", self.anchor.replace(tzinfo=UTC))

    def slots(self, after: dt.datetime) -> Iterator[dt.datetime]:
        step = dt.timedelta(seconds=self.seconds)
        count = max(0, math.floor((after - self.anchor) / step) + 1)
        slot = self.anchor + count * step
        while slot <= after:  # float rounding
            slot += step
        for _ in range(MAX_SLOTS):
            yield slot
            slot += step

    def describe(self) -> str:
        return f"every {_words(self.seconds)}"


@dataclass(frozen=True)
class RRuleSchedule:
    rrule: str
    timezone: str = "UTC"
    anchor: dt.datetime | None = None
    _rule: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from dateutil.rrule import rrulestr

        tz = zone(self.timezone)
        start = _local_naive(self.anchor, tz) if self.anchor else None
        text = self.rrule.replace("\\n", "\n")  # a "\n" typed on a command line
        try:
            try:  # a DTSTART with Z or TZID means that zone's time...
                rule = rrulestr(text, dtstart=start)
            except ValueError:  # ...unless it clashes with a naive UNTIL: wall clock, as before
                rule = rrulestr(text, dtstart=start, ignoretz=True)
            rule = _on_wall_clock(rule, tz)
        except (ValueError, TypeError, AttributeError) as exc:
            raise DeploymentError(f"invalid rrule {self.rrule!r}: {exc}") from None
        object.__setattr__(self, "_rule", rule)

    def slots(self, after: dt.datetime) -> Iterator[dt.datetime]:
        tz = zone(self.timezone)
        naive = self._rule.xafter(_local_naive(after, tz) - dt.timedelta(hours=3),
                                  count=MAX_SLOTS)
        return _wall_clock_slots(naive, tz, after)

    def describe(self) -> str:
        return f"rrule {' '.join(self.rrule.split())} ({self.timezone})"


def _on_wall_clock(rule: Any, tz: ZoneInfo) -> Any:
    """``rule`` with its aware times (``DTSTART:...Z``, ``TZID=``) moved to ``tz``'s wall
    clock: the naive local times the slots are computed in."""
    from dateutil.rrule import rrule, rruleset

    def local(moment: dt.datetime) -> dt.datetime:
        return moment if moment.tzinfo is None else _local_naive(moment, tz)

    if isinstance(rule, rrule):
        until = rule._until
        return rule.replace(dtstart=local(rule._dtstart),
                            until=None if until is None else local(until))
    moved = rruleset()
    for member in rule._rrule:
        moved.rrule(_on_wall_clock(member, tz))
    for member in rule._exrule:
        moved.exrule(_on_wall_clock(member, tz))
    for moment in rule._rdate:
        moved.rdate(local(moment))
    for moment in rule._exdate:
        moved.exdate(local(moment))
    return moved


def _words(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}" if count != 1 else unit
    return f"{seconds:g} s"
