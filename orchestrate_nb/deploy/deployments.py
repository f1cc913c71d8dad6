"""Deploying notebooks and Python flows: everything is checked before anything is written.

``deploy_notebook`` checks the notebook exists, the parameters against its ``parameters``
cell, the schedule and the options, then writes (or updates) the deployment in one
transaction; ``deploy_flow`` does the same for a flow, given as ``file.py:fn`` or as a
``Flow`` object (pickled when no file can name it: ``flow_pickles.py``).
``trigger_deployment`` checks parameters the same way and creates a run SCHEDULED for now,
for a worker to execute.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from orchestrate_nb.core.schedules import (
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
    Schedule,
    require_next_slot,
    zone,
)
from orchestrate_nb.deploy.flow_pickles import (
    PICKLED,
    file_entrypoint,
    load_pickled_flow,
    remove_pickle,
    staged_pickle,
)
from orchestrate_nb.deploy.parameters import (
    check_flow_parameters,
    check_parameters,
    read_notebook_parameters,
)
from orchestrate_nb.errors import DeploymentError

if TYPE_CHECKING:
    from orchestrate_nb.core.flows import Flow
    from orchestrate_nb.store.database import Database
    from orchestrate_nb.store.deployments import DeploymentInfo

UTC = dt.timezone.utc
CATCHUP_POLICIES = ("latest", "all", "none")
CACHE_MODES = ("refresh", "reuse")  # refresh: runs read no result cached by anyone else


def build_schedule(cron: str | None = None, interval: float | dt.timedelta | None = None,
                   rrule: str | None = None, timezone: str = "UTC",
                   anchor: dt.datetime | None = None) -> tuple[str | None, Schedule | None]:
    """(schedule kind, schedule) from at most one of ``cron``, ``interval``, ``rrule``."""
    given = [k for k, v in (("cron", cron), ("interval", interval), ("rrule", rrule))
             if v is not None]
    if len(given) > 1:
        raise DeploymentError(f"give one schedule, not {' and '.join(given)}")
    zone(timezone)
    if cron is not None:
        return "cron", CronSchedule(cron, timezone)
    if rrule is not None:
        return "rrule", RRuleSchedule(rrule, timezone, anchor)
    if interval is not None:
        seconds = interval.total_seconds() if isinstance(interval, dt.timedelta) else interval
        return "interval", IntervalSchedule(seconds, anchor or dt.datetime.now(UTC), timezone)
    return None, None


def schedule_of(deployment: DeploymentInfo) -> Schedule | None:
    """The deployment's schedule (deployments with the same schedule share one object)."""
    return _cached_schedule(deployment.schedule_kind, deployment.cron,
                            deployment.interval_seconds, deployment.rrule,
                            deployment.timezone, deployment.anchor)


@functools.lru_cache(maxsize=4096)
def _cached_schedule(kind: str | None, cron: str | None, interval: float | None,
                     rrule: str | None, timezone: str,
                     anchor: dt.datetime | None) -> Schedule | None:
    return build_schedule(cron=cron if kind == "cron" else None,
                          interval=interval if kind == "interval" else None,
                          rrule=rrule if kind == "rrule" else None,
                          timezone=timezone, anchor=anchor)[1]


def deploy_notebook(path: str | Path, name: str, cron: str | None = None,
                    interval: float | dt.timedelta | None = None, rrule: str | None = None,
                    timezone: str = "UTC", parameters: Mapping[str, Any] | None = None,
                    pool: str = "default", retries: int = 0, retry_delay_seconds: float = 0,
                    timeout_seconds: float | None = None, tags: Iterable[str] | None = None,
                    catchup: str = "latest", paused: bool = False, cache: str = "refresh",
                    kernel: str | None = None, cwd: str | Path | None = None,
                    database: Database | None = None) -> DeploymentInfo:
    """Deploy a notebook (run by workers with papermill); redeploying a name updates it.
    Its runs compute afresh (``cache="reuse"``: they may read results cached by others), in
    ``kernel`` (default: the notebook's own) with ``cwd`` (default: the notebook's folder)
    as their working directory. ``database``: the store to write to (default: the
    configured one)."""
    from orchestrate_nb.deploy.kernels import check_kernel, run_kernel, working_directory

    notebook = Path(path).expanduser().resolve()
    checked = check_parameters(read_notebook_parameters(notebook), parameters or {})
    values = _common_values(name, cron, interval, rrule, timezone, pool, retries,
                            retry_delay_seconds, timeout_seconds, tags, catchup, paused)
    check_kernel(run_kernel(notebook, kernel), f"{notebook.name}")
    values.update(kind="notebook", entrypoint=str(notebook), flow_name=notebook.stem,
                  parameters=checked or None, cache=_cache_mode(cache), kernel=kernel,
                  cwd=working_directory(cwd))
    return _save(values, database)


def deploy_flow(flow: str | Flow[Any, Any], name: str | None = None, cron: str | None = None,
                interval: float | dt.timedelta | None = None, rrule: str | None = None,
                timezone: str = "UTC", parameters: Mapping[str, Any] | None = None,
                pool: str = "default", retries: int = 0, retry_delay_seconds: float = 0,
                timeout_seconds: float | None = None, tags: Iterable[str] | None = None,
                catchup: str = "latest", paused: bool = False,
                cache: str = "refresh") -> DeploymentInfo:
    """Deploy the ``@flow`` at ``path/file.py:flow_fn``, or a ``Flow`` object: by its file
    entrypoint when it has one, else by value (``deploy/flow_pickles.py``). ``name``
    defaults to the flow's name; ``cache`` as for ``deploy_notebook``."""
    loaded, entrypoint = _flow_and_entrypoint(flow)
    checked = check_flow_parameters(loaded, parameters or {})
    values = _common_values(loaded.name if name is None else name, cron, interval, rrule,
                            timezone, pool, retries, retry_delay_seconds, timeout_seconds,
                            tags, catchup, paused)
    values.update(flow_name=loaded.name, parameters=checked or None, cache=_cache_mode(cache))
    if entrypoint is not None:
        values.update(kind="python", entrypoint=entrypoint)
        return _save(values)
    with staged_pickle(loaded, values["name"]) as pickled:
        values.update(kind=PICKLED, entrypoint=str(pickled))
        return _save(values)


def _flow_and_entrypoint(flow: str | Flow[Any, Any]) -> tuple[Flow[Any, Any], str | None]:
    """The flow, and its ``file.py:fn`` entrypoint (None: it is deployed by value)."""
    from orchestrate_nb.core.flows import Flow

    if isinstance(flow, str):
        path, loaded = load_flow(flow)
        return loaded, f"{path}:{flow.rpartition(':')[2]}"
    if not isinstance(flow, Flow):
        raise DeploymentError(f"deploy_flow takes a @flow or 'path/file.py:flow_fn', not "
                              f"{type(flow).__name__}")
    return flow, file_entrypoint(flow)


def _common_values(name: str, cron: str | None, interval: float | dt.timedelta | None,
                   rrule: str | None, timezone: str, pool: str, retries: int,
                   retry_delay_seconds: float, timeout_seconds: float | None,
                   tags: Iterable[str] | None, catchup: str, paused: bool) -> dict[str, Any]:
    if not isinstance(name, str) or not name.strip():
        raise DeploymentError("a deployment needs a name (--name)")
    now = dt.datetime.now(UTC)
    kind, schedule = build_schedule(cron, interval, rrule, timezone, now)
    if schedule is not None:
        require_next_slot(schedule, now)
    return {
        "name": name.strip(), "pool": _nonempty(pool, "pool"), "schedule_kind": kind,
        "cron": cron, "rrule": rrule, "timezone": timezone, "anchor": now if kind else None,
        "interval_seconds": getattr(schedule, "seconds", None),
        "paused": bool(paused), "catchup": _choice(catchup),
        "retries": _count(retries, "retries"),
        "retry_delay_seconds": float(_count(retry_delay_seconds, "retry_delay_seconds")),
        "timeout_seconds": None if timeout_seconds is None else
        float(_positive(timeout_seconds, "timeout_seconds")),
        "tags": sorted(set(tags)) if tags else None,
    }


def _nonempty(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DeploymentError(f"{what} must be a non-empty name")
    return value.strip()


def _choice(catchup: str) -> str:
    if catchup not in CATCHUP_POLICIES:
        raise DeploymentError(f"unknown catch-up policy {catchup!r}; choose from "
                              f"{', '.join(CATCHUP_POLICIES)}")
    return catchup


def _cache_mode(cache: str) -> str:
    if cache not in CACHE_MODES:
        raise DeploymentError(f"unknown cache mode {cache!r}; choose refresh (runs compute "
                              "afresh) or reuse (runs may read results cached by others)")
    return cache


def _count(value: Any, what: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise DeploymentError(f"{what} must be a number ≥ 0, got {value!r}")
    return value


def _positive(value: Any, what: str) -> Any:
    if _count(value, what) == 0:
        raise DeploymentError(f"{what} must be positive, got {value!r}")
    return value


def _save(values: dict[str, Any], database: Database | None = None) -> DeploymentInfo:
    from orchestrate_nb.store import deployments as store

    with open_store(database) as db, store.write(db) as conn:
        store.save_deployment(conn, values, dt.datetime.now(UTC))
        saved = store.get_deployment(conn, values["name"])
    if saved.kind != PICKLED:  # (it may have been a pickled flow before)
        remove_pickle(saved.name)
    return saved


def remove_deployment(name: str, database: Database | None = None) -> int:
    """Delete the deployment ``name`` (and its pickled flow, if any), and its runs not
    started yet; run history is kept. Returns how many runs were dropped."""
    from orchestrate_nb.store import deployments as store

    with open_store(database) as db, store.write(db) as conn:
        deployment = store.get_deployment(conn, name)
        dropped = store.delete_deployment(conn, name)
    if deployment.kind == PICKLED and deployment.entrypoint.endswith(".pkl"):
        Path(deployment.entrypoint).unlink(missing_ok=True)
    return dropped


@contextmanager
def open_store(database: Database | None = None) -> Iterator[Database]:
    """``database``, or the configured store (migrated on first use) closed afterwards."""
    if database is not None:
        yield database
        return
    from orchestrate_nb.store.database import open_database

    opened = open_database()
    try:
        yield opened
    finally:
        opened.dispose()


def load_flow(entrypoint: str) -> tuple[Path, Flow[Any, Any]]:
    """The ``@flow`` named by ``path/file.py:flow_fn``, imported without running the file's
    ``if __name__ == "__main__":`` block."""
    from orchestrate_nb.core.flows import Flow

    file, sep, attribute = entrypoint.rpartition(":")
    path = Path(file).expanduser().resolve()
    if not sep or not attribute or not file.endswith(".py"):
        raise DeploymentError(f"invalid entrypoint {entrypoint!r}: write it as "
                              "path/file.py:flow_function")
    if not path.is_file():
        raise DeploymentError(f"flow file not found: {path}")
    found = getattr(_import_file(path), attribute, None)
    if not isinstance(found, Flow):
        raise DeploymentError(f"{path} has no @flow named {attribute!r}")
    return path, found


def load_deployed_flow(kind: str, entrypoint: str) -> Flow[Any, Any]:
    """The flow a Python deployment runs: imported from its file, or unpickled."""
    if kind == "python":
        return load_flow(entrypoint)[1]
    if kind == PICKLED:
        return load_pickled_flow(entrypoint)
    raise DeploymentError(f"a {kind!r} deployment has no Python flow")


def _import_file(path: Path) -> Any:
    # the same name in every process (str hashes are salted per process): it is part of
    # the task keys, so runs of a cache="reuse" deployment can find each other's results
    module_name = f"orchestrate_nb_deployed_{xxhash.xxh3_64_hexdigest(str(path).encode())}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise DeploymentError(f"cannot import {path}: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(path.parent))
    return module


def trigger_deployment(name: str, parameters: Mapping[str, Any] | None = None,
                       database: Database | None = None,
                       now: dt.datetime | None = None) -> str:
    """Create a run of ``name`` SCHEDULED for now (parameters checked first); its id."""
    from orchestrate_nb.store import deployments as store

    now = now or dt.datetime.now(UTC)
    with open_store(database) as db:
        with store.read(db) as conn:
            deployment = store.get_deployment(conn, name)
        merged = {**(deployment.parameters or {}), **_check_trigger(deployment, parameters)}
        with store.write(db) as conn:
            row = store.run_row(deployment, store.flow_id(conn, deployment.flow_name), now,
                                "Scheduled", now, merged or None)
            store.insert_runs(conn, [row])
    return str(row["id"])


def _check_trigger(deployment: DeploymentInfo,
                   parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    if deployment.kind == "notebook":
        return check_parameters(read_notebook_parameters(deployment.entrypoint),
                                parameters or {})
    flow = load_deployed_flow(deployment.kind, deployment.entrypoint)
    return check_flow_parameters(flow, parameters or {})

