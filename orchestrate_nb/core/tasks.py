"""``@task``: the definition of a task (options only; running it is the engine's job)."""

from __future__ import annotations

import copy as _copy
import datetime as _dt
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar, overload

from typing_extensions import ParamSpec

from orchestrate_nb.core import options as opt
from orchestrate_nb.core.retries import normalise_retry_delays

P = ParamSpec("P")
R = TypeVar("R")

class _Sentinel:
    """A marker that stays itself through pickling (a flow deployed by value is pickled
    with its tasks): it pickles as a reference to its module-level name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name


NOT_SET: Any = _Sentinel("NOT_SET")  # an option left out (None may be a choice); the cache reads it
UNBOUND: Any = _Sentinel("UNBOUND")  # a task or flow not reached through an instance or class


class MethodBinding:
    """``@task``/``@flow`` on a method, as in Prefect 3: reached through an instance (or, for
    a classmethod, the class) it is a copy bound to it, and that first parameter is filled
    by the binding (not recorded with the run's parameters)."""

    _method_kind: str | None
    _bound: Any
    signature: inspect.Signature

    def __get__(self, instance: Any, owner: Any) -> Any:
        bound = opt.bound_to(self._method_kind, instance, owner)
        if bound is UNBOUND:
            return self
        copy = _copy.copy(self)
        copy._bound = bound
        return copy

    @property
    def bound_parameter(self) -> str | None:
        """The name of the parameter a bound method's instance (or class) fills."""
        if self._bound is UNBOUND:
            return None
        return next(iter(self.signature.parameters), None)


class Task(MethodBinding, opt.HookDecorators, Generic[P, R]):
    """A function whose calls become task runs: states, retries, timeouts, logs, history."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        version: str | None = None,
        cache_policy: Any = NOT_SET,
        cache_key_fn: Callable[..., str | None] | None = None,
        cache_expiration: _dt.timedelta | None = None,
        task_run_name: str | Callable[..., str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: Any = None,
        retry_jitter_factor: float | None = None,
        persist_result: bool | None = None,
        result_storage: Any = None,
        result_serializer: Any = None,
        result_storage_key: str | None = None,
        cache_result_in_memory: bool = True,
        timeout_seconds: float | int | None = None,
        log_prints: bool | None = None,
        refresh_cache: bool | None = None,
        on_completion: list[Callable[..., Any]] | None = None,
        on_failure: list[Callable[..., Any]] | None = None,
        on_running: list[Callable[..., Any]] | None = None,
        on_commit: list[Callable[..., Any]] | None = None,
        on_rollback: list[Callable[..., Any]] | None = None,
        retry_condition_fn: Callable[..., bool] | None = None,
        viz_return_value: Any = None,
    ) -> None:
        # The constructor's arguments, as given: with_options starts from them, so every
        # option a constructor takes survives a copy (the signature is the one list).
        self._options = opt.options_of(locals())
        fn, self._method_kind = opt.unwrap_method(fn)
        opt.check_callable(fn, "task")
        self.fn = fn
        self._bound: Any = UNBOUND  # the instance (or class) a method is called on
        self.name: str = name if name else str(getattr(fn, "__name__", type(fn).__name__))
        owner = f"task {self.name!r}"
        self.description = description or inspect.getdoc(fn)
        self.tags = opt.check_tags(tags, owner)
        self.version = version
        self.cache_policy = cache_policy
        self.cache_key_fn = cache_key_fn
        self.cache_expiration = cache_expiration
        self.task_run_name = task_run_name
        self.retries = opt.check_retries(retries, owner)
        self.retry_delay_seconds = retry_delay_seconds
        if retry_jitter_factor is not None and not (
                isinstance(retry_jitter_factor, (int, float))
                and not isinstance(retry_jitter_factor, bool) and retry_jitter_factor >= 0):
            raise ValueError(f"{owner}: retry_jitter_factor takes a number ≥ 0 (0.5: delays "
                             f"spread by ±50%), got {retry_jitter_factor!r}")
        self.retry_jitter_factor = retry_jitter_factor
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.result_serializer = result_serializer
        self.result_storage_key = result_storage_key
        self.cache_result_in_memory = cache_result_in_memory
        self.timeout_seconds = opt.check_timeout(timeout_seconds, owner)
        self.log_prints = log_prints
        self.refresh_cache = refresh_cache
        self.on_completion_hooks = opt.check_hooks(on_completion, "on_completion", owner)
        self.on_failure_hooks = opt.check_hooks(on_failure, "on_failure", owner)
        self.on_running_hooks = opt.check_hooks(on_running, "on_running", owner)
        self.on_commit_hooks = opt.check_hooks(on_commit, "on_commit", owner)
        self.on_rollback_hooks = opt.check_hooks(on_rollback, "on_rollback", owner)
        self.retry_condition_fn = retry_condition_fn
        self.viz_return_value = viz_return_value
        self.caching_configured = _caching_configured(
            cache_policy, cache_key_fn, persist_result, refresh_cache,
            result_storage_key, result_storage, result_serializer)
        self.task_key = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', self.name)}"
        self.signature = inspect.signature(fn)
        self._fast_names = opt.positional_names(self.signature)
        self._defaults = opt.defaults_of(self.signature)

        self.isasync = opt.is_async_fn(fn)
        self.retry_delays = normalise_retry_delays(retry_delay_seconds, self.retries, owner)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def bind_parameters(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self._bound is not UNBOUND:
            args = (self._bound, *args)
        return opt.bind(self.signature, self._fast_names, self._defaults, args, kwargs,
                        f"task {self.name!r}")

    def with_options(self, **changes: Any) -> Task[P, R]:
        """A copy of this task with some options changed (hooks added since included)."""
        current = {**self._options, "on_completion": self.on_completion_hooks,
                   "on_failure": self.on_failure_hooks, "on_running": self.on_running_hooks,
                   "on_commit": self.on_commit_hooks, "on_rollback": self.on_rollback_hooks}
        copy: Task[P, R] = Task(opt.rewrap_method(self.fn, self._method_kind),
                                **opt.changed(current, changes, f"task {self.name!r}"))
        copy._bound = self._bound
        return copy

    # -- hooks as decorators (``@my_task.on_failure``; the shared ones: HookDecorators) ----
    def on_commit(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A hook called with the transaction when this task's result is committed."""
        return self._add_hook("on_commit", fn)

    def on_rollback(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A hook called with the transaction when a completed run of this task is rolled
        back (the transaction it ran in failed)."""
        return self._add_hook("on_rollback", fn)

    def __call__(self, *args: Any, return_state: bool = False, wait_for: Any = None,
                 **kwargs: Any) -> Any:
        return _engine_call_task()(self, args, kwargs, return_state, wait_for)

    def submit(self, *args: Any, return_state: bool = False, wait_for: Any = None,
               **kwargs: Any) -> Any:
        """Run in the flow's task runner; returns a future at once."""
        from orchestrate_nb.engine.task_engine import submit_task

        return submit_task(self, args, kwargs, return_state=return_state, wait_for=wait_for)

    def map(self, *args: Any, return_state: bool = False, wait_for: Any = None,
            **kwargs: Any) -> Any:
        """Submit one run per element of the iterable arguments (``unmapped`` ones whole)."""
        from orchestrate_nb.engine.mapping import map_task

        return map_task(self, args, kwargs, return_state=return_state, wait_for=wait_for)

    def __getattr__(self, name: str) -> Any:
        """Only for attributes a task does not have: Prefect's task methods we refuse."""
        if name.startswith("__"):
            raise AttributeError(name)
        from orchestrate_nb.compat import TASK_METHODS_UNSUPPORTED, refuse_method

        raise refuse_method(f"task {self.__dict__.get('name', '?')!r}", "Task", name,
                            TASK_METHODS_UNSUPPORTED)

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"


_call_task: Any = None


def _engine_call_task() -> Any:
    """The engine's ``call_task``, imported on the first call (a lazy call stub: defining
    a task imports nothing above ``core``), then kept, since a task call costs microseconds."""
    global _call_task
    if _call_task is None:
        from orchestrate_nb.engine.task_engine import call_task

        _call_task = call_task
    return _call_task


def _caching_configured(cache_policy: Any, cache_key_fn: Any, persist_result: Any,
                        refresh_cache: Any, storage_key: Any = None, storage: Any = None,
                        serializer: Any = None) -> bool:
    """Prefect 3's rule: results persist (and so can be cached) when asked for, or when a
    cache key, a cache policy, a result storage key, storage or serializer is set
    explicitly; NONE turns caching off."""
    if persist_result is False:
        return False
    if storage_key is not None:
        return True
    if cache_policy is not NOT_SET and cache_policy is not None:
        return not getattr(cache_policy, "turns_caching_off", False)  # the NONE policy
    return bool(cache_key_fn is not None or persist_result or refresh_cache
                or storage is not None or serializer is not None)


@overload
def task(__fn: Callable[P, R]) -> Task[P, R]: ...


@overload
def task(__fn: None = None, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(__fn: Any = None, **options: Any) -> Any:
    """Decorate a function as a task: ``@task`` or ``@task(retries=2, ...)``."""
    if __fn is not None:
        return Task(__fn, **options)
    return lambda fn: Task(fn, **options)
