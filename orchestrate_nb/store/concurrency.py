"""Concurrency limits held across processes, in the run store's database.

A slot row says "this holder occupies N slots of limit L", and names the process holding
it (host, pid, start token). Acquiring slots of several limits is all-or-nothing and
happens in ONE write transaction: SQLite's ``BEGIN IMMEDIATE`` serialises it with every
other writer; on PostgreSQL the limit rows are locked ``FOR UPDATE``, in name order so that
two acquirers of overlapping limits never deadlock.

Inside that transaction, slots whose holder is gone are released first:

- a held slot whose owner is on this host is gone when that process is dead (its pid is
  gone, is a zombie, or now belongs to a process with another start token);
- a held slot whose owner is on another host is gone when its heartbeat is older than
  ``STALE_AFTER`` (60 s, crash recovery's rule for runs); a live holder heartbeats its slots
  every 10 s (``orchestrate_nb.engine.concurrency``);
- a rate limit's slot is gone once it has decayed (``expires_at``), whoever took it.

A rate limit (``slot_decay_per_second`` R) is a leaky bucket: the slots taken by
``rate_limit()`` drain at R per second, one after another, so the bucket's level is
``R × (last expiry − now)``. Slots held by ``concurrency()`` or a tagged task count fully
until released, on any limit.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from orchestrate_nb.errors import (
    ConcurrencyLimitNotFound,
    ConcurrencySlotAcquisitionError,
    StoreError,
)
from orchestrate_nb.processes import (
    ProcessIdentity,
    current_process,
    is_local_host,
    is_local_process_alive,
)
from orchestrate_nb.settings import Settings, load_settings
from orchestrate_nb.store.database import Database, open_database
from orchestrate_nb.store.orm import ConcurrencyLimit, ConcurrencySlot
from orchestrate_nb.store.recovery import HEARTBEAT_TIMEOUT

UTC = dt.timezone.utc
STALE_AFTER = HEARTBEAT_TIMEOUT  # the rule crash recovery uses for runs on other hosts
LIMITS = cast(Table, ConcurrencyLimit.__table__)
SLOTS = cast(Table, ConcurrencySlot.__table__)
_EPSILON = 1e-9  # decayed levels are floats


class Acquisition(NamedTuple):
    """The outcome of one attempt: the slots taken, or the limit that had no room."""

    slot_ids: tuple[int, ...]
    blocked_on: str | None = None
    limit: int = 0
    slot_decay_per_second: float | None = None
    missing: tuple[str, ...] = ()  # names without a limit (not strict: skipped)
    retry_after: float | None = None  # seconds until a rate limit has drained enough


@dataclass(frozen=True)
class HolderInfo:
    holder: str
    holder_name: str | None
    occupy: int
    owner_host: str
    owner_pid: int
    acquired_at: dt.datetime
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class LimitInfo:
    name: str
    limit: int
    slot_decay_per_second: float | None
    created: dt.datetime
    active_slots: float  # held slots plus what is left of decaying ones
    holders: tuple[HolderInfo, ...]


def not_found(name: str) -> ConcurrencyLimitNotFound:
    return ConcurrencyLimitNotFound(
        f"no concurrency limit named {name!r}; create it with: "
        f"orchestrate-nb concurrency-limit create {name} N")


class ConcurrencyStore:
    """Acquire and release slots, and manage limits, in one database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._owner = current_process()

    @property
    def owner(self) -> ProcessIdentity:
        if self._owner.pid != os.getpid():  # forked
            self._owner = current_process()
        return self._owner

    def close(self) -> None:
        self.database.dispose()

    def forget_connections(self) -> None:
        """In a forked child: drop the parent's connections without closing them."""
        self.database.engine.dispose(close=False)

    # -- the engine's side ------------------------------------------------------------
    def limit_names(self) -> frozenset[str]:
        with self._transaction(write=False) as conn:
            return frozenset(conn.execute(select(LIMITS.c.name)).scalars())

    def try_acquire(self, names: Sequence[str], occupy: int, holder: str,
                    holder_name: str | None = None, *, rate_limit: bool = False,
                    strict: bool = True) -> Acquisition:
        """Take ``occupy`` slots of every limit in ``names``, or none if one has no room.

        Names without a limit raise ``ConcurrencyLimitNotFound`` when ``strict``, else are
        skipped (a tag without a limit is not limited).
        """
        wanted = sorted(set(names))
        now = dt.datetime.now(UTC)
        with self._transaction(write=True) as conn:
            limits = _lock_limits(conn, wanted)
            _check_request(wanted, limits, occupy, rate_limit, strict)
            slots = _live_slots(conn, list(limits), now)
            rows = []
            for name, limit in limits.items():
                used, backlog_end = _usage(limit, slots.get(name, ()), now)
                if used + occupy > limit.limit + _EPSILON:
                    return _blocked(limit, slots.get(name, ()), used, occupy)
                expires = (max(now, backlog_end) + dt.timedelta(
                    seconds=occupy / limit.slot_decay_per_second)) if rate_limit else None
                rows.append(self._slot_row(name, occupy, holder, holder_name, now, expires))
            ids = [_insert_slot(conn, row) for row in rows]
        return Acquisition(tuple(ids), missing=tuple(n for n in wanted if n not in limits))

    def release(self, slot_ids: Sequence[int]) -> None:
        if not slot_ids:
            return
        with self._transaction(write=True) as conn:
            conn.execute(delete(SLOTS).where(SLOTS.c.id.in_(list(slot_ids))))

    def heartbeat(self) -> None:
        """Tell other hosts that this process still holds its slots."""
        host, pid, token = self.owner
        with self._transaction(write=True) as conn:
            conn.execute(update(SLOTS).where(
                SLOTS.c.owner_host == host, SLOTS.c.owner_pid == pid,
                SLOTS.c.owner_token == token, SLOTS.c.expires_at.is_(None),
            ).values(heartbeat=dt.datetime.now(UTC)))

    def release_owned(self) -> None:
        """Release every slot this process holds (at exit)."""
        host, pid, token = self.owner
        with self._transaction(write=True) as conn:
            conn.execute(delete(SLOTS).where(
                SLOTS.c.owner_host == host, SLOTS.c.owner_pid == pid,
                SLOTS.c.owner_token == token, SLOTS.c.expires_at.is_(None)))

    def _slot_row(self, name: str, occupy: int, holder: str, holder_name: str | None,
                  now: dt.datetime, expires: dt.datetime | None) -> dict[str, Any]:
        host, pid, token = self.owner
        return {"limit_name": name, "holder": holder, "holder_name": holder_name,
                "occupy": occupy, "owner_host": host, "owner_pid": pid, "owner_token": token,
                "acquired_at": now, "heartbeat": now, "expires_at": expires}

    # -- management (the CLI) ----------------------------------------------------------
    def set_limit(self, name: str, limit: int,
                  slot_decay_per_second: float | None = None) -> bool:
        """Create the limit, or update it; True when it was created."""
        values = {"limit": limit, "slot_decay_per_second": slot_decay_per_second}
        try:
            return self._upsert_limit(name, values)
        except StoreError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            return self._upsert_limit(name, values)  # created meanwhile by another process

    def _upsert_limit(self, name: str, values: dict[str, Any]) -> bool:
        with self._transaction(write=True) as conn:
            changed = conn.execute(
                update(LIMITS).where(LIMITS.c.name == name).values(**values)).rowcount
            if not changed:
                conn.execute(insert(LIMITS).values(
                    name=name, created=dt.datetime.now(UTC), **values))
        return not changed

    def delete_limit(self, name: str) -> int:
        """Delete a limit and release its slots; returns how many slots were held."""
        with self._transaction(write=True) as conn:
            if not _lock_limits(conn, [name]):
                raise ConcurrencyLimitNotFound(
                    f"no concurrency limit named {name!r} "
                    "(orchestrate-nb concurrency-limit ls lists them)")
            released = conn.execute(delete(SLOTS).where(SLOTS.c.limit_name == name)).rowcount
            conn.execute(delete(LIMITS).where(LIMITS.c.name == name))
        return int(released or 0)

    def list_limits(self) -> list[LimitInfo]:
        """Every limit by name, with its live holders (dead ones are released first)."""
        now = dt.datetime.now(UTC)
        with self._transaction(write=True) as conn:
            limits = _lock_limits(conn, None)
            slots = _live_slots(conn, list(limits), now)
        return [_limit_info(limit, slots.get(name, ()), now) for name, limit in limits.items()]

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        try:
            with self.database.write() if write else self.database.read() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(
                f"concurrency limits unavailable ({self.database.display_url}): {exc}") from exc


def open_concurrency_store(settings: Settings | None = None) -> ConcurrencyStore:
    """The factory ``orchestrate_nb.engine.concurrency`` loads lazily, by import string."""
    return ConcurrencyStore(open_database(settings or load_settings()))


# -- one transaction's steps ---------------------------------------------------------------
def _lock_limits(conn: Connection, names: list[str] | None) -> dict[str, Any]:
    """The limit rows by name, in name order; locked until commit on PostgreSQL."""
    query = select(LIMITS.c.name, LIMITS.c.limit, LIMITS.c.slot_decay_per_second,
                   LIMITS.c.created).order_by(LIMITS.c.name)
    if names is not None:
        query = query.where(LIMITS.c.name.in_(names))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.name: row for row in conn.execute(query)}


def _check_request(names: list[str], limits: dict[str, Any], occupy: int, rate_limit: bool,
                   strict: bool) -> None:
    missing = [name for name in names if name not in limits]
    if missing and strict:
        raise not_found(missing[0])
    for name, limit in limits.items():
        if rate_limit and not limit.slot_decay_per_second:
            raise ConcurrencySlotAcquisitionError(
                f"concurrency limit {name!r} has no slot decay, so rate_limit() cannot use it; "
                f"recreate it with: orchestrate-nb concurrency-limit create {name} "
                f"{limit.limit} --slot-decay-per-second R")
        if occupy > limit.limit:
            raise ConcurrencySlotAcquisitionError(
                f"cannot occupy {occupy} slots of concurrency limit {name!r}: "
                f"its limit is {limit.limit}")


def _live_slots(conn: Connection, names: list[str], now: dt.datetime) -> dict[str, list[Any]]:
    """The slots of these limits by limit name, after deleting those whose holder is gone."""
    if not names:
        return {}
    c = SLOTS.c
    rows = conn.execute(select(
        c.id, c.limit_name, c.holder, c.holder_name, c.occupy, c.owner_host, c.owner_pid,
        c.owner_token, c.acquired_at, c.heartbeat, c.expires_at,
    ).where(c.limit_name.in_(names)).order_by(c.id)).all()
    gone = [row.id for row in rows if _holder_is_gone(row, now)]
    if gone:
        conn.execute(delete(SLOTS).where(c.id.in_(gone)))
    live: dict[str, list[Any]] = {}
    for row in rows:
        if row.id not in gone:
            live.setdefault(row.limit_name, []).append(row)
    return live


def _holder_is_gone(slot: Any, now: dt.datetime) -> bool:
    if slot.expires_at is not None:
        return bool(slot.expires_at <= now)
    if is_local_host(slot.owner_host):
        return not is_local_process_alive(slot.owner_pid, slot.owner_token)
    return bool(now - slot.heartbeat > STALE_AFTER)


def _usage(limit: Any, slots: Sequence[Any], now: dt.datetime) -> tuple[float, dt.datetime]:
    """(slots in use, when the decaying ones will have drained)."""
    held = sum(slot.occupy for slot in slots if slot.expires_at is None)
    backlog_end = max((slot.expires_at for slot in slots if slot.expires_at is not None),
                      default=now)
    decay = limit.slot_decay_per_second or 0.0
    level = max(0.0, (backlog_end - now).total_seconds()) * decay
    return held + level, backlog_end


def _insert_slot(conn: Connection, row: dict[str, Any]) -> int:
    key = conn.execute(insert(SLOTS).values(row)).inserted_primary_key
    assert key is not None  # an INSERT ... VALUES always has one
    return int(key[0])


def _blocked(limit: Any, slots: Sequence[Any], used: float, occupy: int) -> Acquisition:
    """No room: when only decaying slots are in the way, say how long they take to drain."""
    held = sum(slot.occupy for slot in slots if slot.expires_at is None)
    decay = limit.slot_decay_per_second
    retry_after = None
    if decay and held + occupy <= limit.limit:
        retry_after = (used + occupy - limit.limit) / decay
    return Acquisition((), limit.name, limit.limit, decay, retry_after=retry_after)


def _limit_info(limit: Any, slots: Sequence[Any], now: dt.datetime) -> LimitInfo:
    holders = tuple(HolderInfo(slot.holder, slot.holder_name, slot.occupy, slot.owner_host,
                               slot.owner_pid, slot.acquired_at, slot.expires_at)
                    for slot in slots if slot.expires_at is None)
    used, _ = _usage(limit, slots, now)
    return LimitInfo(limit.name, limit.limit, limit.slot_decay_per_second, limit.created,
                     used, holders)
