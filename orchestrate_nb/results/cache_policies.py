"""Cache policies, with Prefect 3's names and meanings.

A policy turns a task run into a cache key (``None``: do not cache this run)::

    @task(cache_policy=INPUTS + TASK_SOURCE)          # same inputs, same code -> cached
    @task(cache_policy=INPUTS - "verbose")            # ... ignoring one argument
    @task(cache_key_fn=task_input_hash)               # Prefect 2 style

``compute_key(task_ctx, inputs, flow_parameters, **kwargs)`` has Prefect's signature, so
custom policies written for Prefect run unchanged; ``task_ctx`` has ``.task`` and
``.task_run``. Keys computed here are combined with the task's key by the cache, so two
tasks with equal inputs do not share entries; keys from a ``cache_key_fn`` alone are used
as they are (global, as in Prefect).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from orchestrate_nb.results.fingerprint import (
    FingerprintError,
    fingerprint,
    fingerprint_parts,
    source_digest,
)

__all__ = [
    "CachePolicy", "CacheKeyFnPolicy", "CompoundCachePolicy", "Inputs", "TaskSource",
    "FlowParameters", "RunId", "INPUTS", "TASK_SOURCE", "NONE", "NO_CACHE", "DEFAULT",
    "RUN_ID", "FLOW_PARAMETERS",
]


@dataclass
class CachePolicy:
    """Base of all cache policies. ``key_storage`` (a path, URL or ResultStore) is where
    entries go when the task names no ``result_storage``."""

    turns_caching_off: ClassVar[bool] = False  # True for NONE alone
    key_storage: Any = None
    isolation_level: Any = None  # accepted for Prefect compatibility; not enforced
    lock_manager: Any = None

    @classmethod
    def from_cache_key_fn(cls, cache_key_fn: Callable[..., str | None]) -> CacheKeyFnPolicy:
        return CacheKeyFnPolicy(cache_key_fn=cache_key_fn)

    def configure(self, key_storage: Any = None, lock_manager: Any = None,
                  isolation_level: Any = None) -> CachePolicy:
        """A copy with the given storage (and, for compatibility, lock settings)."""
        new = copy.deepcopy(self)
        if key_storage is not None:
            new.key_storage = key_storage
        if lock_manager is not None:
            new.lock_manager = lock_manager
        if isolation_level is not None:
            new.isolation_level = isolation_level
        return new

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        raise NotImplementedError

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if isinstance(other, _None):
            return self
        if not isinstance(other, CachePolicy):
            return NotImplemented
        return CompoundCachePolicy(policies=[self, other],
                                   key_storage=self.key_storage or other.key_storage)

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Can only subtract strings from key policies.")
        return self  # only policies that look at inputs have anything to exclude


@dataclass
class CacheKeyFnPolicy(CachePolicy):
    """The key a user function returns: ``cache_key_fn(task_ctx, inputs) -> str | None``."""

    cache_key_fn: Callable[..., str | None] | None = None

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        if self.cache_key_fn is None:
            return None
        return self.cache_key_fn(task_ctx, inputs)


@dataclass
class CompoundCachePolicy(CachePolicy):
    """Several policies: the key hashes their keys (policies that return None are left out;
    all None -> None). Nested compounds are flattened, Inputs policies merged."""

    policies: list[CachePolicy] = field(default_factory=list)

    def __post_init__(self) -> None:
        flat = [p for policy in self.policies for p in (
            policy.policies if isinstance(policy, CompoundCachePolicy) else [policy])]
        inputs = [p for p in flat if isinstance(p, Inputs)]
        self.policies = [p for p in flat if not isinstance(p, Inputs)]
        if inputs:
            excluded = sorted({name for p in inputs for name in p.exclude})
            self.policies.append(Inputs(exclude=excluded))

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        keys = [policy.compute_key(task_ctx, inputs, flow_parameters, **kwargs)
                for policy in self.policies]
        present = [key for key in keys if key is not None]
        return fingerprint_parts(*present) if present else None

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if isinstance(other, _None):
            return self
        if not isinstance(other, CachePolicy):
            return NotImplemented
        extra = other.policies if isinstance(other, CompoundCachePolicy) else [other]
        return CompoundCachePolicy(policies=[*self.policies, *extra],
                                   key_storage=self.key_storage or other.key_storage)

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Can only subtract strings from key policies.")
        if not any(isinstance(p, Inputs) for p in self.policies):
            return self
        return CompoundCachePolicy(policies=[*self.policies, Inputs(exclude=[other])],
                                   key_storage=self.key_storage)


@dataclass
class _None(CachePolicy):
    """No key: nothing is cached or persisted."""

    turns_caching_off: ClassVar[bool] = True  # what core.tasks asks (it imports no policy)

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        return None

    def __add__(self, other: CachePolicy) -> CachePolicy:
        return other


@dataclass
class TaskSource(CachePolicy):
    """The task function's source code (its code object when the source is unavailable);
    computed once per function."""

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        fn = getattr(getattr(task_ctx, "task", None), "fn", None)
        code = getattr(fn, "__code__", None)
        if code is None:
            return None
        return source_digest(code)


@dataclass
class FlowParameters(CachePolicy):
    """The parameters of the flow run the task runs in."""

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        if not flow_parameters:
            return None
        return fingerprint_named(flow_parameters, "flow parameter")


@dataclass
class RunId(CachePolicy):
    """The flow run's id (the task run's id outside a flow): caches within one run."""

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        task_run = getattr(task_ctx, "task_run", None)
        if task_run is None:
            return None
        return str(task_run.flow_run_id or task_run.id)


@dataclass
class Inputs(CachePolicy):
    """The task run's arguments, except those named in ``exclude``."""

    exclude: list[str] = field(default_factory=list)

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        kept = {k: v for k, v in (inputs or {}).items() if k not in self.exclude}
        if not kept:
            return None
        return fingerprint_named(kept, "parameter")

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Can only subtract strings from key policies.")
        return Inputs(exclude=[*self.exclude, other], key_storage=self.key_storage)


def fingerprint_named(values: dict[str, Any], what: str) -> str:
    """Fingerprint of named values; a failure names the value that caused it."""
    try:
        return fingerprint(values)
    except FingerprintError as exc:
        for name in values:
            try:
                fingerprint(values[name])
            except FingerprintError as inner:
                raise FingerprintError(inner.problem, parameter=name, what=what) from None
        raise exc from None


INPUTS = Inputs()
NONE = _None()
NO_CACHE = NONE  # Prefect's second name for NONE (one object, so ``is NONE`` holds)
TASK_SOURCE = TaskSource()
FLOW_PARAMETERS = FlowParameters()
RUN_ID = RunId()
DEFAULT = INPUTS + TASK_SOURCE + RUN_ID
