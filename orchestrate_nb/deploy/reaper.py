"""The reaper: runs whose worker died are marked CRASHED, and retried if they may be.

A run in PENDING/RUNNING/PAUSED/CANCELLING is abandoned when its owner is dead: on this host, its
pid is gone or belongs to another process (start-time token); on another host, it has not
heartbeated for 60 s (``store/recovery.py``, shared with the store's crash recovery). Every
worker reaps on each iteration, so no separate process is needed.

Retries make a NEW run (the crashed one keeps its Crashed state and history): SCHEDULED
``retry_delay_seconds`` after the crash, with ``attempt + 1``, while ``attempt < retries``
of its deployment. A crash found by any process (e.g. the store's recovery when a notebook
opens it) is retried by the next reaper pass, once: a run is not retried if its retry
(same deployment, name and attempt + 1) exists.
"""

from __future__ import annotations

import datetime as dt

from orchestrate_nb.store import claims
from orchestrate_nb.store.database import Database
from orchestrate_nb.store.recovery import recover_crashed_runs


def reap(database: Database, now: dt.datetime) -> tuple[int, list[str]]:
    """(runs crashed now, ids of the retry runs created)."""
    report = recover_crashed_runs(database, now)
    with database.write() as conn:
        retries = claims.schedule_retries(conn, now)
    return report.crashed_flow_runs, retries
