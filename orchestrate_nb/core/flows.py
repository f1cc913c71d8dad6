"""``@flow``: the definition of a flow (options only; running it is the engine's job)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from typing_extensions import ParamSpec

from orchestrate_nb.core import options as opt
from orchestrate_nb.core.tasks import UNBOUND, MethodBinding

if TYPE_CHECKING:
    import datetime as dt

P = ParamSpec("P")
R = TypeVar("R")


class Flow(MethodBinding, opt.HookDecorators, Generic[P, R]):
    """A function whose calls become flow runs that group the task runs they start."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None = None,
        version: str | None = None,
        flow_run_name: str | Callable[..., str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: int | float | None = None,
        task_runner: Any = None,
        description: str | None = None,
        timeout_seconds: int | float | None = None,
        validate_parameters: bool = True,
        persist_result: bool | None = None,
        result_storage: Any = None,
        result_serializer: Any = None,
        cache_result_in_memory: bool = True,
        log_prints: bool | None = None,
        on_completion: list[Callable[..., Any]] | None = None,
        on_failure: list[Callable[..., Any]] | None = None,
        on_cancellation: list[Callable[..., Any]] | None = None,
        on_crashed: list[Callable[..., Any]] | None = None,
        on_running: list[Callable[..., Any]] | None = None,
        tags: Iterable[str] | None = None,
    ) -> None:
        # The constructor's arguments, as given: with_options starts from them, so every
        # option a constructor takes survives a copy (the signature is the one list).
        self._options = opt.options_of(locals())
        fn, self._method_kind = opt.unwrap_method(fn)
        opt.check_callable(fn, "flow")
        self.fn = fn
        self._bound: Any = UNBOUND  # the instance (or class) a method is called on
        self.name: str = name or getattr(fn, "__name__", type(fn).__name__).replace("_", "-")
        owner = f"flow {self.name!r}"
        self.version = version
        self.flow_run_name = flow_run_name
        self.retries = opt.check_retries(retries, owner)
        if retry_delay_seconds is not None and (
                not isinstance(retry_delay_seconds, (int, float)) or retry_delay_seconds < 0):
            raise ValueError(f"{owner}: retry_delay_seconds takes a number of seconds ≥ 0, "
                             f"got {retry_delay_seconds!r}")
        self.retry_delay_seconds = float(retry_delay_seconds or 0)
        self._task_runner = task_runner  # None: the default, made on first use
        self.description = description or inspect.getdoc(fn)
        self.timeout_seconds = opt.check_timeout(timeout_seconds, owner)
        self.should_validate_parameters = validate_parameters
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.result_serializer = result_serializer
        self.cache_result_in_memory = cache_result_in_memory
        self.log_prints = log_prints
        self.on_completion_hooks = opt.check_hooks(on_completion, "on_completion", owner)
        self.on_failure_hooks = opt.check_hooks(on_failure, "on_failure", owner)
        self.on_cancellation_hooks = opt.check_hooks(on_cancellation, "on_cancellation", owner)
        self.on_crashed_hooks = opt.check_hooks(on_crashed, "on_crashed", owner)
        self.on_running_hooks = opt.check_hooks(on_running, "on_running", owner)
        self.tags = opt.check_tags(tags, owner)
        self.signature = inspect.signature(fn)
        self._fast_names = opt.positional_names(self.signature)
        self._defaults = opt.defaults_of(self.signature)
        self._validator: Any = None
        self.isasync = opt.is_async_fn(fn)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    @property
    def task_runner(self) -> Any:
        """The task runner given, or a ``ThreadPoolTaskRunner`` made on first use (a lazy
        call into the engine: defining a flow imports nothing above ``core``)."""
        if self._task_runner is None:
            from orchestrate_nb.engine.task_runners import ThreadPoolTaskRunner

            self._task_runner = ThreadPoolTaskRunner()
        return self._task_runner

    def bind_parameters(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self._bound is not UNBOUND:
            args = (self._bound, *args)
        return opt.bind(self.signature, self._fast_names, self._defaults, args, kwargs,
                        f"flow {self.name!r}")

    def validate_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Check (and coerce, like Prefect) parameters against the type hints."""
        if not self.should_validate_parameters:
            return parameters
        if self._validator is None:
            from orchestrate_nb.engine.validation import ParameterValidator

            self._validator = ParameterValidator(self.name, self.fn, self.signature)
        return self._validator.validate(parameters)

    def with_options(self, **changes: Any) -> Flow[P, R]:
        """A copy of this flow with some options changed (hooks added since included)."""
        current = {**self._options, "task_runner": self.task_runner,  # the same instance
                   "on_completion": self.on_completion_hooks,
                   "on_failure": self.on_failure_hooks,
                   "on_cancellation": self.on_cancellation_hooks,
                   "on_crashed": self.on_crashed_hooks, "on_running": self.on_running_hooks}
        copy: Flow[P, R] = Flow(opt.rewrap_method(self.fn, self._method_kind),
                                **opt.changed(current, changes, f"flow {self.name!r}"))
        copy._bound = self._bound
        return copy

    # -- hooks as decorators (``@my_flow.on_failure``; the shared ones: HookDecorators) ----
    def on_cancellation(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self._add_hook("on_cancellation", fn)

    def on_crashed(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self._add_hook("on_crashed", fn)

    def visualize(self, *args: Any, **kwargs: Any) -> Any:
        """Draw this flow's task graph without running its tasks (Prefect's
        ``Flow.visualize``): the flow's body runs with every task call replaced by a
        placeholder, and the calls and the values passed between them are drawn as an
        SVG (shown inline in a notebook; returned as an object with ``.svg``)."""
        from orchestrate_nb.notebook.graph.visualize import visualize_flow

        return visualize_flow(self, args, kwargs)

    def serve(self, name: str | None = None, *, cron: str | None = None,
              interval: float | dt.timedelta | None = None, rrule: str | None = None,
              timezone: str = "UTC", parameters: Mapping[str, Any] | None = None,
              tags: Iterable[str] | None = None, retries: int = 0,
              retry_delay_seconds: float = 0, timeout_seconds: float | None = None,
              catchup: str = "latest", limit: int | None = None,
              pause_on_shutdown: bool = True, print_starting_message: bool = True) -> None:
        """Deploy this flow as ``name`` (the flow's name by default) with an optional
        schedule, and execute its runs in this process until SIGINT/SIGTERM (Ctrl-C, or
        interrupting the kernel); ``limit`` runs at once. Works for flows defined in a
        notebook cell or a ``__main__`` script too (they are deployed by value). Trigger a
        run with ``orchestrate-nb deployment run NAME``. See ``deploy/serve.py``."""
        # Every argument goes on by name, so none can be left behind (a test checks that
        # deploy.serve takes each of them, with the same default).
        options = {key: value for key, value in locals().items() if key != "self"}
        from orchestrate_nb.deploy.serve import serve

        serve(self, **options)

    def __call__(self, *args: Any, return_state: bool = False, **kwargs: Any) -> Any:
        from orchestrate_nb.engine.flow_engine import call_flow

        return call_flow(self, args, kwargs, return_state=return_state)

    def __getattr__(self, name: str) -> Any:
        """Only for attributes a flow does not have: Prefect's flow methods we refuse."""
        if name.startswith("__"):
            raise AttributeError(name)
        from orchestrate_nb.compat import FLOW_METHODS_UNSUPPORTED, refuse_method

        raise refuse_method(f"flow {self.__dict__.get('name', '?')!r}", "Flow", name,
                            FLOW_METHODS_UNSUPPORTED)

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"


@overload
def flow(__fn: Callable[P, R]) -> Flow[P, R]: ...


@overload
def flow(__fn: None = None, **options: Any) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(__fn: Any = None, **options: Any) -> Any:
    """Decorate a function as a flow: ``@flow`` or ``@flow(name=..., retries=...)``."""
    if __fn is not None:
        return Flow(__fn, **options)
    return lambda fn: Flow(fn, **options)
