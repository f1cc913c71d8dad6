"""The cache of one task run, as the task engine uses it.

The engine builds ``TaskRunCache(task, task_run, parameters, flow_ctx)`` for a task that
has caching configured, reads ``reason`` (why this run cannot be cached, or None), calls
``lookup()`` before running and ``save(value)`` after a successful run. Neither call
raises: a broken entry is a miss, a result that cannot be stored is a warning.

With ``ORCHESTRATE_NB_TASKS_REFRESH_CACHE=1`` (set by a worker for a deployment run with
``cache="refresh"``) every lookup misses, except for entries this process stored itself: a
run computes afresh, and its tasks still share the results it made (a task called twice).

What depends only on the task (its policy, serializer, store, expiration) is worked out
once per Task object and kept in a weak dictionary, so a cache hit costs a key computation
and one file read.
"""

from __future__ import annotations

import datetime as _dt
import weakref
from typing import Any, NamedTuple

from orchestrate_nb.core.tasks import NOT_SET
from orchestrate_nb.engine.context import TaskRunContext, task_run_ctx
from orchestrate_nb.results.fingerprint import FingerprintError, fingerprint_parts
from orchestrate_nb.results.serializers import Serializer, get_serializer
from orchestrate_nb.results.store import ResultStore, default_store, resolve_store
from orchestrate_nb.settings import refresh_every_cache


class CacheKeyTypeError(TypeError):
    """A cache key that is not a string (nor None): the run is not cached."""


class CachePlan(NamedTuple):
    """What a task's options say about caching, resolved once."""

    policy: Any  # a CachePolicy
    global_keys: bool  # keys from a cache_key_fn are used as they are (Prefect)
    serializer: Serializer | None
    storage: ResultStore | None  # None: the default store (settings may change)
    expiration: float | None  # seconds
    refresh: bool
    storage_key: str | None  # the result_storage_key template
    problem: str | None  # why this task cannot be cached at all


_plans: weakref.WeakKeyDictionary[Any, CachePlan] = weakref.WeakKeyDictionary()
_stored_here: set[tuple[str, str]] = set()  # (store url, key) of entries this process wrote


def plan_for(task: Any) -> CachePlan:
    plan = _plans.get(task)
    if plan is None:
        plan = _make_plan(task)
        _plans[task] = plan
    return plan


def _make_plan(task: Any) -> CachePlan:
    from orchestrate_nb.results.cache_policies import DEFAULT, CacheKeyFnPolicy, CachePolicy

    policy = task.cache_policy
    if task.cache_key_fn is not None:
        policy = CacheKeyFnPolicy(cache_key_fn=task.cache_key_fn)
    elif policy is NOT_SET or policy is None:
        policy = DEFAULT
    problem = None
    if not isinstance(policy, CachePolicy):
        problem = f"cache_policy must be a CachePolicy, got {policy!r}"
    serializer = storage = None
    try:
        serializer = get_serializer(task.result_serializer)
        location = task.result_storage if task.result_storage is not None else getattr(
            policy, "key_storage", None)
        storage = None if location is None else resolve_store(location)
    except Exception as exc:  # noqa: BLE001 - becomes the reason the task is not cached
        problem = problem or str(exc)
    expiration = task.cache_expiration
    if isinstance(expiration, _dt.timedelta):
        expiration = expiration.total_seconds()
    return CachePlan(policy, isinstance(policy, CacheKeyFnPolicy), serializer, storage,
                     expiration, bool(task.refresh_cache), task.result_storage_key, problem)


class TaskRunCache:
    """``key`` (None: this run is not cached), ``reason``, ``lookup()``, ``save(value)``."""

    __slots__ = ("task", "task_run", "plan", "key", "reason")

    def __init__(self, task: Any, task_run: Any, parameters: dict[str, Any],
                 flow_ctx: Any) -> None:
        self.task = task
        self.task_run = task_run
        self.plan = plan = plan_for(task)
        self.key: str | None = None
        self.reason: str | None = plan.problem
        if self.reason is None:
            try:
                self.key = self._compute_key(parameters, flow_ctx)
            except (FingerprintError, CacheKeyTypeError) as exc:
                self.reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - user code (cache_key_fn, policies)
                self.reason = f"the cache key could not be computed ({type(exc).__name__}: " \
                              f"{_first_line(exc)})"

    def _compute_key(self, parameters: dict[str, Any], flow_ctx: Any) -> str | None:
        plan = self.plan
        if plan.storage_key is not None:
            return _format_storage_key(plan.storage_key, parameters, self.task_run, flow_ctx)
        flow_parameters = flow_ctx.flow_run.parameters if flow_ctx is not None else {}
        key = plan.policy.compute_key(self._task_ctx(), parameters, flow_parameters)
        if key is not None and not isinstance(key, str):
            source = "cache_key_fn" if plan.global_keys else "the cache policy"
            raise CacheKeyTypeError(f"{source} returned {type(key).__name__} "
                                    f"{_short_repr(key)}, not a str (or None)")
        if key is None or plan.global_keys:
            return key
        return fingerprint_parts(self.task.task_key, key)

    def _task_ctx(self) -> Any:
        ctx = task_run_ctx.get()
        if ctx is not None and ctx.task_run is self.task_run:
            return ctx
        return TaskRunContext(self.task, self.task_run, False)

    def store(self) -> ResultStore:
        return self.plan.storage or default_store()

    def lookup(self) -> tuple[bool, Any]:
        """``(hit, value)``; ``refresh_cache`` always misses (the run then overwrites), and
        so does refresh-every-cache for an entry this process did not store."""
        if self.key is None or self.plan.refresh:
            return False, None
        store = self.store()
        if refresh_every_cache() and (store.url, self.key) not in _stored_here:
            return False, None
        return store.read(self.key)

    def save(self, value: Any) -> None:
        """Store the result; a result that cannot be stored is logged, never raised."""
        plan = self.plan
        if self.key is None or plan.serializer is None:
            return
        try:
            store = self.store()
            store.write(self.key, value, plan.serializer, plan.expiration, self.task.task_key)
            if refresh_every_cache():  # (only then is it needed: the set stays empty)
                _stored_here.add((store.url, self.key))
        except Exception as exc:  # noqa: BLE001 - the run succeeded; only caching failed
            self._logger().warning("result not cached: %s", self._save_problem(exc))

    def _save_problem(self, exc: Exception) -> str:
        from orchestrate_nb.results.serializers import SerializationError

        if isinstance(exc, SerializationError):
            return str(exc)
        if isinstance(exc, OSError):
            return f"the result store could not be written ({_first_line(exc)})"
        name = self.plan.serializer.name if self.plan.serializer else "?"
        return f"the result can't be serialized with {name!r} ({type(exc).__name__}: " \
               f"{_first_line(exc)})"

    def _logger(self) -> Any:
        from orchestrate_nb.engine.logging import run_logger

        return run_logger(task_run=self.task_run)


def _format_storage_key(template: str, parameters: dict[str, Any], task_run: Any,
                        flow_ctx: Any) -> str:
    """Prefect's ``result_storage_key``: a template over ``parameters``, ``task_run`` and
    ``flow_run``, e.g. ``"model-{parameters[name]}.pkl"``."""
    flow_run = flow_ctx.flow_run if flow_ctx is not None else None
    return template.format(parameters=parameters, task_run=task_run, flow_run=flow_run)


def _short_repr(value: Any) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
