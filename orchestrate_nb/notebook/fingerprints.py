"""Fingerprints of a cell's inputs, and the cell's cache key.

- Modules count by name and version; functions by their source, defaults and closure (the
  results layer's fingerprint); classes defined in the notebook by their methods' source
  (``inspect.getsource`` cannot find a class defined in a cell); other values by
  ``results.fingerprint`` (numpy/pandas by their buffers).
- A function or class defined in the notebook also makes the globals its code reads inputs
  of the cell ("indirect" inputs): changing ``k`` changes the key of a cell calling
  ``def f(x): return x * k``.
- :class:`KnownValues` keeps the fingerprint of every value a task cell produced in this
  kernel, so a downstream cell reading it does not hash it again.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Iterable, Mapping
from typing import Any

import xxhash

from orchestrate_nb.results.fingerprint import FingerprintError, fingerprint, fingerprint_parts

ABSENT = "absent"  # the fingerprint of a name the namespace does not hold
KEY_PREFIX = "cells/"
_SKIPPED_MEMBERS = frozenset({"__dict__", "__weakref__", "__module__", "__qualname__"})


class KnownValues:
    """Fingerprints of values task cells produced in this kernel, by variable name.

    An entry is used only while its name is still bound to that very object (``is``), and
    is forgotten when a cell may have mutated it (see ``CellAnalysis.mutated/escaped``).
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, str]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, value: Any) -> str | None:
        entry = self._entries.get(name)
        return entry[1] if entry is not None and entry[0] is value else None

    def remember(self, name: str, value: Any, digest: str) -> None:
        with self._lock:
            self._entries[name] = (value, digest)

    def forget(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self._entries.pop(name, None)

    def prune(self, namespace: Mapping[str, Any]) -> None:
        """Drop entries whose name now holds another object (they would only keep the old
        one alive)."""
        with self._lock:
            stale = [n for n, (value, _) in self._entries.items()
                     if namespace.get(n, ABSENT) is not value]
            for name in stale:
                del self._entries[name]

    def names(self) -> list[str]:
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def fingerprint_input(value: Any) -> str:
    """The fingerprint of one input value; raises FingerprintError when it has none."""
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}:{getattr(value, '__version__', '')}"
    if isinstance(value, type) and in_notebook(value):
        return class_fingerprint(value)
    return fingerprint(value)


def current_fingerprint(name: str, namespace: Mapping[str, Any], known: KnownValues) -> str:
    """What ``name`` holds now: a known fingerprint if it is still that object, else a new
    one (ABSENT when the name is not bound)."""
    if name not in namespace:
        return ABSENT
    value = namespace[name]
    return known.get(name, value) or fingerprint_input(value)


def in_notebook(value: Any) -> bool:
    return getattr(value, "__module__", None) == "__main__"


def class_fingerprint(cls: type) -> str:
    """A class defined in a cell, by its name, bases and members (methods by source)."""
    members = tuple((name, _member_token(member)) for name, member in sorted(vars(cls).items())
                    if name not in _SKIPPED_MEMBERS)
    bases = tuple(f"{b.__module__}.{b.__qualname__}" for b in cls.__bases__)
    try:
        return fingerprint(("class", cls.__qualname__, bases, members))
    except FingerprintError:
        import cloudpickle  # a member plain pickle cannot take: the class's own bytes

        try:
            return "pickled:" + xxhash.xxh3_128(cloudpickle.dumps(cls)).hexdigest()
        except Exception as exc:  # noqa: BLE001 - reported as the reason not to cache
            raise FingerprintError(f"class can't be pickled ({exc})") from None


def _member_token(member: Any) -> Any:
    if isinstance(member, (staticmethod, classmethod)):
        return ("method-wrapper", type(member).__name__, member.__func__)
    if isinstance(member, property):
        return ("property", member.fget, member.fset, member.fdel)
    if isinstance(member, type) and in_notebook(member):
        return ("class", class_fingerprint(member))
    return member


def referenced_globals(values: Iterable[Any], namespace: Mapping[str, Any],
                       hidden: Mapping[str, Any]) -> list[str]:
    """Names bound in ``namespace`` that the code of notebook-defined functions and classes
    among ``values`` reads, followed through the functions and classes they name."""
    found: dict[str, None] = {}
    pending = [v for v in values if _has_code(v)]
    seen: set[int] = set()
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        for name in _names_read(value):
            if name in namespace and name not in hidden and name not in found:
                found[name] = None
                if _has_code(namespace[name]):
                    pending.append(namespace[name])
    return list(found)


def _has_code(value: Any) -> bool:
    return in_notebook(value) and (isinstance(value, (types.FunctionType, type)))


def _names_read(value: Any) -> set[str]:
    codes = [value.__code__] if isinstance(value, types.FunctionType) else [
        fn.__code__ for fn in map(_function_of, vars(value).values()) if fn is not None]
    names: set[str] = set()
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def _function_of(member: Any) -> types.FunctionType | None:
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if isinstance(member, property):
        member = member.fget
    return member if isinstance(member, types.FunctionType) else None


def cache_key(code_hash: str, outputs: Iterable[str], inputs: Mapping[str, str],
              extra: Iterable[str] = ()) -> str:
    """The cache key of a cell: its normalised code, what it defines, and its inputs (and
    ``extra``: its notebook, its ``--files`` patterns)."""
    parts = [code_hash, ",".join(outputs), *(f"{n}={fp}" for n, fp in sorted(inputs.items())),
             *extra]
    return KEY_PREFIX + fingerprint_parts(*parts)


def unpicklable_reason(name: str, problem: str) -> str:
    """``'conn' (socket) can't be pickled`` from the problem ``socket can't be pickled``."""
    suffix = " can't be pickled"
    if problem.endswith(suffix):
        return f"{name!r} ({problem[:-len(suffix)]}){suffix}"
    return f"{name!r}: {problem}"
