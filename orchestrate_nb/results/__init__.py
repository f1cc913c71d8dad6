"""Results and caching: the result store (local folder or fsspec URL), serializers,
fingerprints of values, and the cache of a task run.

Kernel-side and light: importing this package loads neither numpy, pandas nor fsspec.
"""

from orchestrate_nb.results.fingerprint import FingerprintError, fingerprint
from orchestrate_nb.results.serializers import (
    CloudpickleSerializer,
    JSONSerializer,
    PickleSerializer,
    SerializationError,
    Serializer,
    get_serializer,
    register_serializer,
)
from orchestrate_nb.results.store import (
    FsspecResultStore,
    LocalResultStore,
    ResultStore,
    ResultStoreError,
    default_store,
    open_store,
)

__all__ = [
    "CloudpickleSerializer", "FingerprintError", "FsspecResultStore", "JSONSerializer",
    "LocalResultStore", "PickleSerializer", "ResultStore", "ResultStoreError",
    "SerializationError", "Serializer", "default_store", "fingerprint", "get_serializer",
    "open_store", "register_serializer",
]
