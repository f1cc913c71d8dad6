"""Fingerprints: a stable digest of a value, the same in every process and after restarts.

A value is pickled (protocol 5, no memo) into an xxh3-128 digest, never into memory, with
four normalisations so equal values give equal digests:

- numpy arrays, pandas frames/series/indexes and polars frames are replaced by a token made
  from their dtype, shape, labels and the digest of their data buffers (C order, whatever
  the strides), so a 1 GB array costs one pass of xxh3 over its memory and no copy;
- plain dicts are pickled with their keys sorted, sets and frozensets with their elements
  sorted (string hashing is randomised per process, so their own order is not stable);
- functions are fingerprinted by their source (their code when the source is unavailable),
  defaults and closure values; classes that live in ``__main__`` or inside a function by
  their source; modules by name and version;
- ``id()`` and ``hash()`` never enter a digest.

numpy, pandas and polars are never imported to check a type: ``type(value).__module__`` is
looked at first.
"""

from __future__ import annotations

import inspect
import pickle
import re
import types
import weakref
from typing import Any

import xxhash

from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.results import buffers


class FingerprintError(OrchestrateError):
    """A value cannot be fingerprinted; ``problem`` says why in a few words."""

    def __init__(self, problem: str, parameter: str | None = None, what: str = "parameter"
                 ) -> None:
        self.problem = problem
        self.parameter = parameter
        super().__init__(f"{what} {parameter!r}: {problem}" if parameter else problem)


class _Token:
    """Stands in for a normalised value inside the pickle stream (never instantiated)."""


_source_digests: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_BUFFER_MODULES = ("numpy", "pandas", "polars")


class _FingerprintPickler(pickle.Pickler):
    def __init__(self, sink: Any, normalise: bool, models_as_json: bool = False) -> None:
        super().__init__(sink, protocol=5)
        self.fast = normalise  # no memo: identical-but-distinct objects pickle the same
        self.normalise = normalise
        self.models_as_json = models_as_json
        self.functions_seen: set[int] = set()

    def persistent_id(self, obj: Any) -> Any:
        if not self.normalise:
            return None
        kind = type(obj)
        if kind is dict and len(obj) > 1:
            return _sorted_dict(obj)
        if kind is set or kind is frozenset:
            return (kind.__name__, _sorted_elements(obj))
        return None

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        module = kind.__module__
        if module.startswith(_BUFFER_MODULES):
            token = buffers.token_for(obj, module)
            return NotImplemented if token is None else (_Token, token)
        if kind is types.FunctionType:
            return (_Token, self._function_token(obj))
        if self.models_as_json and hasattr(kind, "__pydantic_fields__") and hasattr(
                obj, "model_dump_json"):  # (Prefect hashes a model by its JSON too)
            return (_Token, ("pydantic", kind.__qualname__, obj.model_dump_json()))
        if kind is types.ModuleType:
            return (_Token, ("module", obj.__name__, str(getattr(obj, "__version__", ""))))
        if isinstance(obj, type) and obj is not _Token and _defined_dynamically(obj):
            return (_Token, ("class", obj.__module__, obj.__qualname__, source_digest(obj)))
        return NotImplemented

    def _function_token(self, fn: types.FunctionType) -> tuple[Any, ...]:
        name = (fn.__module__, fn.__qualname__)
        if id(fn) in self.functions_seen:  # a recursive closure refers to itself
            return ("function-ref", *name)
        self.functions_seen.add(id(fn))
        closure = tuple(_cell_value(cell) for cell in fn.__closure__ or ())
        return ("function", *name, source_digest(fn.__code__), fn.__defaults__,
                fn.__kwdefaults__, closure)


def fingerprint(value: Any) -> str:
    """A hex digest of ``value``; raises FingerprintError when it cannot be pickled."""
    text = _plain_text(value)
    if text is not None:
        return xxhash.xxh3_128(text.encode()).hexdigest()
    try:
        return _digest(value, normalise=True)
    except (ValueError, RecursionError):
        pass  # a cycle: fast mode and sorting cannot follow it, the memo can
    except FingerprintError as exc:
        return _models_as_json(value, exc)
    try:
        return _digest(value, normalise=False)
    except FingerprintError as exc:
        return _models_as_json(value, exc)
    except Exception as exc:
        return _models_as_json(value, FingerprintError(_problem(value, exc)))


def _models_as_json(value: Any, problem: FingerprintError) -> str:
    """A value that cannot be pickled: hashed with its pydantic models as their JSON
    dumps (as Prefect does), or ``problem`` raised when that does not help either."""
    try:
        return _digest(value, normalise=False, models_as_json=True)
    except Exception:
        raise problem from None


_ATOMS = frozenset({int, float, str, bytes, bool, type(None)})
_SHORT = 1024


def _plain_text(value: Any) -> str | None:
    """The fast path for the commonest input, a small dict of numbers and short strings
    keyed by name: its sorted ``ascii()`` (exact and the same in every process). None when
    ``value`` is anything else. The ``plain:`` prefix keeps it apart from pickle streams."""
    if type(value) is not dict or len(value) > 64:
        return None
    for name, item in value.items():
        kind = type(item)
        if type(name) is not str or kind not in _ATOMS:
            return None
        if (kind is str or kind is bytes) and len(item) > _SHORT:
            return None
    return "plain:" + ascii(sorted(value.items()))


def _digest(value: Any, normalise: bool, models_as_json: bool = False) -> str:
    digest = xxhash.xxh3_128()
    sink = types.SimpleNamespace(write=digest.update)
    try:
        _FingerprintPickler(sink, normalise, models_as_json).dump(value)
    except (ValueError, RecursionError, FingerprintError):
        raise
    except Exception as exc:
        raise FingerprintError(_problem(value, exc)) from None
    return digest.hexdigest()


def fingerprint_parts(*parts: str) -> str:
    """A digest of a few strings (cache keys combined from policies)."""
    return xxhash.xxh3_128("\x00".join(parts).encode()).hexdigest()


def _sorted_dict(obj: dict[Any, Any]) -> Any:
    try:
        return ("dict", sorted(obj.items(), key=_first))
    except TypeError:  # keys of mixed types: insertion order is still deterministic
        return None


def _first(item: tuple[Any, Any]) -> Any:
    return item[0]


def _sorted_elements(obj: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(obj)
    except TypeError:
        return sorted(fingerprint(element) for element in obj)


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return "<empty cell>"


def _defined_dynamically(cls: type) -> bool:
    """Classes pickle cannot find again by name (notebook cells, function bodies)."""
    return cls.__module__ == "__main__" or "<locals>" in cls.__qualname__


def source_digest(obj: Any) -> str:
    """Digest of a class's source, or of a code object's source and bytecode (the bytecode
    alone when there is no source); memoised, because ``inspect.getsource`` is slow."""
    try:
        return _source_digests[obj]
    except (KeyError, TypeError):
        pass
    try:
        text = inspect.getsource(obj).encode()
    except (OSError, TypeError):
        text = b"" if isinstance(obj, types.CodeType) else obj.__qualname__.encode()
    if isinstance(obj, types.CodeType):  # two lambdas on one line share their source
        text += b"\x00" + _code_bytes(obj)
    digest = xxhash.xxh3_128(text).hexdigest()
    try:
        _source_digests[obj] = digest
    except TypeError:
        pass
    return digest


def _code_bytes(code: types.CodeType) -> bytes:
    """What a code object does, without its file name or line numbers."""
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            parts.append(_code_bytes(const))
        elif isinstance(const, frozenset):
            parts.append(repr(sorted(map(repr, const))).encode())
        else:
            parts.append(repr(const).encode())
    return b"\x00".join(parts)


_CANNOT_PICKLE = re.compile(r"(?:cannot|can't) pickle '([^']+)' object", re.IGNORECASE)
_FRIENDLY_NAMES = {
    "_thread.lock": "lock", "_thread.RLock": "lock", "_io.TextIOWrapper": "open file",
    "_io.BufferedReader": "open file", "_io.BufferedWriter": "open file",
    "_io.BufferedRandom": "open file", "_io.FileIO": "open file", "generator": "generator",
    "coroutine": "coroutine", "_asyncio.Future": "future", "_asyncio.Task": "asyncio task",
}


def _problem(value: Any, exc: BaseException) -> str:
    """One line naming what could not be pickled: "lock can't be pickled"."""
    text = str(exc).strip()
    match = _CANNOT_PICKLE.search(text)
    if match:
        name = match.group(1)
        friendly = _FRIENDLY_NAMES.get(name) or name.rsplit(".", 1)[-1].lstrip("_")
        return f"{friendly} can't be pickled"
    first_line = text.splitlines()[0] if text else type(exc).__name__
    return f"{type(value).__name__} can't be pickled ({first_line})"
