"""Fingerprints: equal values give equal digests, in any process; changes are seen."""

from __future__ import annotations

import json
import socket
import sys
import threading

import pytest

from orchestrate_nb.results import FingerprintError, fingerprint

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")


def test_equal_arrays_have_equal_fingerprints_and_a_changed_element_is_seen():
    a = np.arange(1000, dtype=np.float64)
    b = a.copy()
    assert fingerprint(a) == fingerprint(b)
    b[500] += 1e-9
    assert fingerprint(a) != fingerprint(b)


def test_arrays_are_fingerprinted_by_their_elements_whatever_their_memory_layout():
    a = np.arange(60, dtype=np.int64).reshape(6, 10)
    assert fingerprint(np.asfortranarray(a)) == fingerprint(a)
    assert fingerprint(a[:, ::3]) == fingerprint(np.ascontiguousarray(a[:, ::3]))
    assert fingerprint(a.T) == fingerprint(a.T.copy())
    assert fingerprint(a[::-1]) == fingerprint(a[::-1].copy())
    assert fingerprint(a[:, ::3]) != fingerprint(a[:, ::2])


def test_dtype_and_shape_are_part_of_an_arrays_fingerprint():
    a = np.arange(12, dtype=np.int64)
    assert fingerprint(a) != fingerprint(a.astype(np.int32))
    assert fingerprint(a) != fingerprint(a.reshape(3, 4))
    assert fingerprint(a.reshape(3, 4)) != fingerprint(a.reshape(4, 3))


def test_unusual_arrays_are_fingerprinted_too():
    dates = np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[ns]")
    records = np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")])
    objects = np.array(["x", None, 3], dtype=object)
    for value in (dates, records, objects, np.float64(1.5), np.zeros((0, 3)), np.array(7)):
        assert fingerprint(value) == fingerprint(value.copy())
    assert fingerprint(objects) != fingerprint(np.array(["x", None, 4], dtype=object))


def test_a_memory_mapped_array_matches_the_same_array_in_memory(tmp_path):
    a = np.arange(100, dtype=np.float32)
    mapped = np.memmap(tmp_path / "a.bin", dtype=np.float32, mode="w+", shape=(100,))
    mapped[:] = a
    assert fingerprint(mapped) == fingerprint(a)


def frame():  # type: ignore[no-untyped-def]
    return pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 1.5, 2.5], "name": ["a", "b", "c"]},
                        index=[10, 20, 30])


def test_equal_dataframes_have_equal_fingerprints():
    assert fingerprint(frame()) == fingerprint(frame())
    assert fingerprint(frame()) == fingerprint(frame().copy())


@pytest.mark.parametrize("change", [
    pytest.param(lambda df: df.assign(y=[0.5, 1.5, 2.6]), id="a-value"),
    pytest.param(lambda df: df.assign(name=["a", "b", "z"]), id="an-object-value"),
    pytest.param(lambda df: df.set_axis([10, 20, 31]), id="the-index"),
    pytest.param(lambda df: df.rename(columns={"x": "x2"}), id="a-column-name"),
    pytest.param(lambda df: df.astype({"x": "int32"}), id="a-dtype"),
    pytest.param(lambda df: df[["y", "x", "name"]], id="the-column-order"),
    pytest.param(lambda df: df.iloc[:2], id="a-row-fewer"),
])
def test_a_changed_dataframe_has_a_different_fingerprint(change):
    assert fingerprint(change(frame())) != fingerprint(frame())


def test_series_and_extension_dtypes_are_fingerprinted():
    s = pd.Series([1, 2, None], dtype="Int64", name="n")
    assert fingerprint(s) == fingerprint(s.copy())
    assert fingerprint(s) != fingerprint(s.rename("m"))
    cat = pd.DataFrame({"c": pd.Categorical(["u", "v", "u"])})
    assert fingerprint(cat) == fingerprint(cat.copy())
    assert fingerprint(cat) != fingerprint(pd.DataFrame({"c": pd.Categorical(["u", "v", "v"])}))


def test_polars_frames_are_fingerprinted_when_polars_is_installed():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert fingerprint(df) == fingerprint(df.clone())
    assert fingerprint(df) != fingerprint(df.with_columns(pl.col("a") + 1))


def test_dict_order_does_not_matter_but_contents_do():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": {"x": 1, "y": 2}}) == fingerprint({"a": {"y": 2, "x": 1}})
    assert fingerprint({"a": 1}) != fingerprint({"a": 1.0})
    assert fingerprint({"a": 1}) != fingerprint({"a": True})
    assert fingerprint({"a": "1"}) != fingerprint({"a": b"1"})
    assert fingerprint([1, 2]) != fingerprint((1, 2))


def test_identity_sharing_does_not_change_a_fingerprint():
    word = "".join(["sha", "red"])
    assert fingerprint([word, word]) == fingerprint(["shared", "".join(["sha", "red"])])


def test_functions_are_fingerprinted_by_their_code_and_captured_values():
    def make(k):  # type: ignore[no-untyped-def]
        return lambda x: x + k

    assert fingerprint(make(1)) == fingerprint(make(1))
    assert fingerprint(make(1)) != fingerprint(make(2))
    assert fingerprint(lambda x: x + 1) != fingerprint(lambda x: x + 2)


def test_recursive_and_cyclic_values_are_fingerprinted():
    def countdown(n):  # type: ignore[no-untyped-def]
        return countdown(n - 1) if n else 0

    assert fingerprint(countdown) == fingerprint(countdown)
    loop: dict[str, object] = {"name": "loop"}
    loop["self"] = loop
    assert fingerprint(loop) == fingerprint(loop)


def test_modules_are_fingerprinted_by_name_and_version():
    assert fingerprint(np) == fingerprint(sys.modules["numpy"])
    assert fingerprint(np) != fingerprint(json)


@pytest.mark.parametrize("value, problem", [
    pytest.param(threading.Lock(), "lock can't be pickled", id="lock"),
    pytest.param({"nested": [threading.RLock()]}, "lock can't be pickled", id="nested-rlock"),
    pytest.param((x for x in []), "generator can't be pickled", id="generator"),
])
def test_a_value_that_cannot_be_pickled_raises_a_one_line_error(value, problem):
    with pytest.raises(FingerprintError) as caught:
        fingerprint(value)
    assert str(caught.value) == problem


def test_a_socket_cannot_be_fingerprinted():
    with socket.socket() as sock, pytest.raises(FingerprintError, match="socket can't be pickled"):
        fingerprint(sock)


def test_fingerprinting_never_imports_numpy_or_pandas(run_python, tmp_path):
    out = run_python("""
        import sys
        from orchestrate_nb.results import fingerprint
        fingerprint({"a": [1, {2, 3}], "b": object.__name__})
        print("numpy" in sys.modules, "pandas" in sys.modules)
    """, tmp_path)
    assert out.split() == ["False", "False"]


SAMPLES = """
    import json
    import numpy as np, pandas as pd
    from orchestrate_nb.results import fingerprint
    values = [
        {"b": 1, "a": [1, 2.5, "x"], "c": None},
        {"alpha", "beta", "gamma", "delta"},
        frozenset({"x", ("y", 1)}),
        {"outer": {"z": {"q", "r"}, "a": b"bytes"}},
        np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2],
        pd.DataFrame({"k": ["a", "b"], "v": [1.0, 2.0]}).set_index("k"),
        ("tuple", True, 3.14159, -7, "ünïcode"),
    ]
    print(json.dumps([fingerprint(v) for v in values]))
"""


def test_fingerprints_are_the_same_in_other_processes_with_other_hash_seeds(run_python,
                                                                            tmp_path):
    first = json.loads(run_python(SAMPLES, tmp_path, env={"PYTHONHASHSEED": "1"}))
    second = json.loads(run_python(SAMPLES, tmp_path, env={"PYTHONHASHSEED": "2"}))
    assert first == second
    assert len(set(first)) == len(first)
