"""Serializers for task results: cloudpickle (default), pickle, json, and compressed forms.

A serializer turns a value into *frames*: the first frame is the main byte stream, the
others are out-of-band buffers (pickle protocol 5) written to disk as they are, so a large
numpy array is neither copied into the pickle stream on save nor copied out of it on load.
Serializers that have no out-of-band buffers return one frame.

Plug in another one with ``register_serializer(MySerializer())``; a task selects it with
``result_serializer="name"`` or by passing the instance.
"""

from __future__ import annotations

import json
import pickle
import threading
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from orchestrate_nb.errors import OrchestrateError

Frame = Any  # bytes, bytearray, memoryview or pickle.PickleBuffer: anything with a buffer

# Buffers smaller than this stay inside the pickle stream: splitting them off would cost
# more (header entries, reads) than the copy they save.
OUT_OF_BAND_MIN_BYTES = 64 * 1024
OUT_OF_BAND_MAX_FRAMES = 256


class SerializationError(OrchestrateError):
    """A value could not be serialized or deserialized with the chosen serializer."""


@runtime_checkable
class Serializer(Protocol):
    """What a result serializer provides. ``name`` is written into every entry it makes."""

    name: str

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class BaseSerializer:
    """Serializers with one frame: subclasses define ``dumps`` and ``loads``."""

    name = "base"

    def dumps(self, value: Any) -> bytes:
        raise NotImplementedError

    def loads(self, data: bytes) -> Any:
        raise NotImplementedError

    def dump_frames(self, value: Any) -> list[Frame]:
        return [self.dumps(value)]

    def load_frames(self, frames: Sequence[Frame]) -> Any:
        return self.loads(frames[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class PickleSerializer(BaseSerializer):
    """Standard-library pickle, protocol 5, large buffers out of band."""

    name = "pickle"

    def _dump(self, value: Any, buffer_callback: Callable[[pickle.PickleBuffer], Any] | None
              ) -> bytes:
        return pickle.dumps(value, protocol=5, buffer_callback=buffer_callback)

    def dumps(self, value: Any) -> bytes:
        return self._dump(value, None)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)

    def dump_frames(self, value: Any) -> list[Frame]:
        buffers: list[Frame] = []

        def out_of_band(buffer: pickle.PickleBuffer) -> bool:
            try:
                raw = buffer.raw()
            except BufferError:  # not contiguous: keep it in the stream
                return True
            if raw.nbytes < OUT_OF_BAND_MIN_BYTES or len(buffers) >= OUT_OF_BAND_MAX_FRAMES:
                return True
            buffers.append(raw)
            return False

        main = self._dump(value, out_of_band)
        return [main, *buffers]

    def load_frames(self, frames: Sequence[Frame]) -> Any:
        return pickle.loads(frames[0], buffers=frames[1:])


class CloudpickleSerializer(PickleSerializer):
    """cloudpickle (lambdas, closures, classes defined in a notebook); read back by pickle."""

    name = "cloudpickle"

    def _dump(self, value: Any, buffer_callback: Callable[[pickle.PickleBuffer], Any] | None
              ) -> bytes:
        import cloudpickle

        return cloudpickle.dumps(value, protocol=5, buffer_callback=buffer_callback)


class JSONSerializer(BaseSerializer):
    """JSON text: readable by anything, limited to JSON's types (tuples come back as lists)."""

    name = "json"

    def dumps(self, value: Any) -> bytes:
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=True).encode()
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"value is not JSON-serializable: {exc}") from None

    def loads(self, data: bytes) -> Any:
        return json.loads(bytes(data))


class CompressedSerializer(BaseSerializer):
    """Another serializer's bytes, zlib-compressed (Prefect's ``compressed/<name>``)."""

    def __init__(self, inner: BaseSerializer, level: int = 6) -> None:
        self.inner = inner
        self.level = level
        self.name = f"compressed/{inner.name}"

    def dumps(self, value: Any) -> bytes:
        return zlib.compress(self.inner.dumps(value), self.level)

    def loads(self, data: bytes) -> Any:
        return self.inner.loads(zlib.decompress(data))


_registry: dict[str, Serializer] = {}
_registry_lock = threading.Lock()
DEFAULT_SERIALIZER = "cloudpickle"


def register_serializer(serializer: Serializer, name: str | None = None) -> None:
    """Make ``serializer`` selectable by name and readable in entries that name it."""
    name = name or serializer.name
    if not name or any(c.isspace() for c in name):
        raise SerializationError(f"a serializer's name must be one word, got {name!r}")
    with _registry_lock:
        _registry[name] = serializer


def get_serializer(spec: str | Serializer | None = None) -> Serializer:
    """The serializer a task option names (None: the default)."""
    if spec is None:
        spec = DEFAULT_SERIALIZER
    if not isinstance(spec, str):
        if not isinstance(spec, Serializer):
            raise SerializationError(
                f"result_serializer must be a name or have name/dumps/loads, got {spec!r}")
        if spec.name not in _registry:  # so that its entries can be read back
            register_serializer(spec)
        return spec
    serializer = _registry.get(spec)
    if serializer is None:
        known = ", ".join(sorted(_registry))
        raise SerializationError(f"unknown result serializer {spec!r} (known: {known})")
    return serializer


def registered_serializer(name: str) -> Serializer | None:
    """The serializer registered under ``name`` (how entries on disk are read back)."""
    return _registry.get(name)


def dump_frames(serializer: Serializer, value: Any) -> list[Frame]:
    """``serializer``'s frames for ``value``; one frame when it has no streaming path."""
    dump = getattr(serializer, "dump_frames", None)
    return list(dump(value)) if dump is not None else [serializer.dumps(value)]


def load_frames(serializer: Serializer, frames: Sequence[Frame]) -> Any:
    load = getattr(serializer, "load_frames", None)
    if load is not None:
        return load(frames)
    return serializer.loads(frames[0])


for _serializer in (CloudpickleSerializer(), PickleSerializer(), JSONSerializer()):
    register_serializer(_serializer)
    register_serializer(CompressedSerializer(_serializer))
