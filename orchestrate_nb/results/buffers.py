"""Fingerprint tokens for numpy, pandas and polars values, made from their data buffers.

Only called with a value whose type comes from one of those libraries, so importing the
library here costs a dictionary lookup: it is already loaded.
"""

from __future__ import annotations

from typing import Any

import xxhash

_CHUNK_BYTES = 64 << 20  # non-contiguous arrays are copied to C order this much at a time


def token_for(obj: Any, module: str) -> tuple[Any, ...] | None:
    """A picklable stand-in for ``obj``, or None to pickle it as it is."""
    library = module.partition(".")[0]
    if library == "numpy":
        return _numpy_token(obj)
    if library == "pandas":
        return _pandas_token(obj)
    if library == "polars":
        return _polars_token(obj)
    return None


def _numpy_token(obj: Any) -> tuple[Any, ...] | None:
    import numpy as np

    if type(obj) is not np.ndarray and type(obj) is not np.memmap:
        return None  # scalars, matrices, masked arrays: their own pickling is fine
    if obj.dtype.hasobject:
        return None  # pointers: pickle the elements instead
    dtype = obj.dtype.str if obj.dtype.names is None else str(obj.dtype.descr)
    return ("ndarray", dtype, obj.shape, array_digest(obj))


def array_digest(array: Any) -> str:
    """xxh3-128 of an array's elements in C order, without copying a contiguous array."""
    import numpy as np

    digest = xxhash.xxh3_128()
    if array.flags.c_contiguous:
        digest.update(_byte_view(array))
        return digest.hexdigest()
    row_bytes = max(1, array[0:1].nbytes)
    rows = max(1, _CHUNK_BYTES // row_bytes)
    for start in range(0, array.shape[0], rows):
        digest.update(_byte_view(np.ascontiguousarray(array[start:start + rows])))
    return digest.hexdigest()


def _byte_view(array: Any) -> memoryview:
    import numpy as np

    return memoryview(array.reshape(-1).view(np.uint8))


def _pandas_token(obj: Any) -> tuple[Any, ...] | None:
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        columns = [_column_values(obj, i) for i in range(obj.shape[1])]
        return ("DataFrame", obj.columns, obj.index, [str(d) for d in obj.dtypes], columns)
    if isinstance(obj, pd.Series):
        return ("Series", obj.name, obj.index, str(obj.dtype), obj.array)
    return None  # Index and the rest pickle their ndarrays, which become tokens


def _column_values(frame: Any, position: int) -> Any:
    """The column's array (an ndarray for numpy dtypes, else an ExtensionArray)."""
    fast = getattr(frame, "_get_column_array", None)  # 30x faster than .iloc on pandas 2-3
    if fast is not None:
        try:
            return fast(position)
        except Exception:  # noqa: BLE001 - a private helper: fall back to the public path
            pass
    return frame.iloc[:, position].array


def _polars_token(obj: Any) -> tuple[Any, ...] | None:
    import polars as pl

    if isinstance(obj, pl.Series):
        return ("polars.Series", obj.name, _ipc_digest(obj.to_frame()))
    if isinstance(obj, pl.DataFrame):
        return ("polars.DataFrame", _ipc_digest(obj))
    return None


def _ipc_digest(frame: Any) -> str:
    """Arrow IPC bytes carry the schema and every buffer (padding zeroed)."""
    stream = frame.write_ipc(None, compression="uncompressed")
    return xxhash.xxh3_128(stream.getbuffer()).hexdigest()
