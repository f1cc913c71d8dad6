"""Validation of decorator options: a bad option is one clear error at decoration time."""

from __future__ import annotations

import datetime as _dt
import inspect
from collections.abc import Callable, Iterable
from typing import Any


def check_retries(retries: Any, owner: str) -> int:
    if retries is None:
        return 0
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"{owner}: retries must be a non-negative integer, got {retries!r}")
    return retries


def check_timeout(timeout: Any, owner: str) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, _dt.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"{owner}: timeout_seconds must be a positive number, got {timeout!r}")
    return float(timeout)


def check_hooks(hooks: Any, kind: str, owner: str) -> list[Callable[..., Any]]:
    if hooks is None:
        return []
    if callable(hooks):
        hooks = [hooks]
    hooks = list(hooks)
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"{owner}: {kind} hooks must be callables, got {hook!r}")
    return hooks


def check_tags(tags: Iterable[str] | None, owner: str) -> frozenset[str]:
    if tags is None:
        return frozenset()
    if isinstance(tags, str):
        raise TypeError(f"{owner}: tags must be a list of strings, not the string {tags!r}")
    result = frozenset(tags)
    for tag in result:
        if not isinstance(tag, str):
            raise TypeError(f"{owner}: tags must be strings, got {tag!r}")
    return result


def options_of(arguments: dict[str, Any]) -> dict[str, Any]:
    """A constructor's options from its ``locals()`` taken first thing: all but self, fn."""
    return {name: value for name, value in arguments.items() if name not in ("self", "fn")}


def changed(current: dict[str, Any], changes: dict[str, Any], owner: str) -> dict[str, Any]:
    """``current`` with ``changes`` applied; an option the constructor lacks is a TypeError."""
    unknown = set(changes) - set(current)
    if unknown:
        raise TypeError(f"{owner}: unknown option(s) {', '.join(sorted(unknown))}")
    return {**current, **changes}


def check_callable(fn: Any, what: str) -> None:
    if not callable(fn):
        raise TypeError(f"@{what} must decorate a function, got {type(fn).__name__}")


def positional_names(sig: inspect.Signature) -> tuple[str, ...] | None:
    """Names of a signature that is positional-or-keyword only (the fast binding path)."""
    names = []
    for p in sig.parameters.values():
        if p.kind is not p.POSITIONAL_OR_KEYWORD:
            return None
        names.append(p.name)
    return tuple(names)


def bind(sig: inspect.Signature, fast_names: tuple[str, ...] | None,
         defaults: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
         owner: str) -> dict[str, Any]:
    """Bind call arguments to parameter names (with defaults applied)."""
    if fast_names is not None and not kwargs and len(args) == len(fast_names):
        return dict(zip(fast_names, args))
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        from orchestrate_nb.errors import ParameterTypeError

        raise ParameterTypeError(f"{owner}: {exc}") from None
    for name, default in defaults.items():
        bound.arguments.setdefault(name, default)
    return dict(bound.arguments)


def call_args(sig: inspect.Signature, parameters: dict[str, Any]
              ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Turn a parameters dict back into (args, kwargs) for calling the function."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.name not in parameters:
            continue
        value = parameters[p.name]
        if p.kind is p.VAR_POSITIONAL:
            args.extend(value)
        elif p.kind is p.VAR_KEYWORD:
            kwargs.update(value)
        elif p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            args.append(value)
    return tuple(args), kwargs


def defaults_of(sig: inspect.Signature) -> dict[str, Any]:
    return {p.name: p.default for p in sig.parameters.values()
            if p.default is not p.empty}


def is_async_fn(fn: Callable[..., Any]) -> bool:
    """``async def`` (or an async generator): such tasks and flows are awaited."""
    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)


def check_hook(hook: Any, kind: str, name: str) -> Callable[..., Any]:
    """A hook added with a decorator (``@my_flow.on_failure``)."""
    if not callable(hook):
        raise TypeError(f"{name!r}: @{kind} must decorate a function, got {hook!r}")
    return hook  # type: ignore[no-any-return]


class HookDecorators:
    """Hooks as decorators (``@my_flow.on_failure``, ``@my_task.on_completion``), as in
    Prefect: each appends to the owner's ``<kind>_hooks`` list and returns the function."""

    name: str

    def _add_hook(self, kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        getattr(self, f"{kind}_hooks").append(check_hook(fn, kind, self.name))
        return fn

    def on_completion(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self._add_hook("on_completion", fn)

    def on_failure(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self._add_hook("on_failure", fn)

    def on_running(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self._add_hook("on_running", fn)


def unwrap_method(fn: Any) -> tuple[Any, str | None]:
    """``@flow``/``@task`` above ``@classmethod`` or ``@staticmethod`` (Prefect 3): the
    function inside, and which kind of method it was."""
    if isinstance(fn, classmethod):
        return fn.__func__, "classmethod"
    if isinstance(fn, staticmethod):
        return fn.__func__, "staticmethod"
    return fn, None


def rewrap_method(fn: Any, kind: str | None) -> Any:
    if kind == "classmethod":
        return classmethod(fn)
    if kind == "staticmethod":
        return staticmethod(fn)
    return fn


def bound_to(kind: str | None, instance: Any, owner: Any) -> Any:
    """What a task or flow reached as an attribute is bound to: the class of a
    classmethod, the instance of a plain method, nothing for a staticmethod."""
    from orchestrate_nb.core.tasks import UNBOUND

    if kind == "classmethod":
        return owner
    if kind is None and instance is not None:
        return instance
    return UNBOUND
