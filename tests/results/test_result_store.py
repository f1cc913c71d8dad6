"""The result store: entries survive, broken entries are misses, writes are atomic,
serializers are pluggable, fsspec URLs work."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import pytest

from orchestrate_nb import task
from orchestrate_nb.cache_policies import INPUTS
from orchestrate_nb.results import (
    JSONSerializer,
    LocalResultStore,
    SerializationError,
    get_serializer,
    open_store,
    register_serializer,
)
from orchestrate_nb.results.serializers import BaseSerializer
from orchestrate_nb.results.store import FsspecResultStore, default_store, entry_name


def counted_square(**options):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    @task(cache_policy=INPUTS, **options)
    def square(x):
        calls.append(x)
        return x * x

    return square, calls


def test_entries_live_under_the_home_results_folder(entries, events, results_dir):
    square, _ = counted_square()
    square(3)
    (entry,) = entries(results_dir)
    assert entry.read_bytes().startswith(b"ONBR2 ")


def test_a_truncated_entry_is_a_miss_with_one_warning_and_the_task_runs_again(
        entries, events, results_dir, results_warnings):
    square, calls = counted_square()
    square(3)
    (entry,) = entries(results_dir)
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) - 3])
    assert square(3) == 9
    assert calls == [3, 3]
    assert len(results_warnings) == 1
    assert "unreadable" in results_warnings[0] and "\n" not in results_warnings[0]
    assert square(3) == 9  # the second run rewrote a good entry
    assert calls == [3, 3]


@pytest.mark.parametrize("damage", [
    pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]), id="flipped-payload-byte"),
    pytest.param(lambda data: b"garbage" + data[7:], id="garbled-header"),
    pytest.param(lambda data: data[:10], id="cut-inside-the-header"),
    pytest.param(lambda data: b"", id="empty-file"),
    pytest.param(lambda data: os.urandom(len(data)), id="random-bytes"),
])
def test_a_damaged_entry_is_a_miss_never_a_crash(entries, events, results_dir,
                                                 results_warnings, damage):
    square, calls = counted_square()
    square(4)
    (entry,) = entries(results_dir)
    entry.write_bytes(damage(entry.read_bytes()))
    state = square(4, return_state=True)
    assert state.name == "Completed" and state.result() == 16
    assert calls == [4, 4]
    assert len(results_warnings) == 1


def test_a_large_numpy_result_round_trips_through_out_of_band_frames(entries, events,
                                                                      results_dir):
    np = pytest.importorskip("numpy")

    @task(cache_policy=INPUTS)
    def make(n):
        return {"a": np.arange(n, dtype=np.float64), "b": np.ones((n // 10, 10)).T}

    first = make(200_000)
    again = make(200_000)
    assert np.array_equal(first["a"], again["a"]) and np.array_equal(first["b"], again["b"])
    again["a"][0] = 5.0  # restored arrays are writable
    (entry,) = entries(results_dir)
    header = entry.read_bytes().split(b"\n", 1)[0].decode()
    assert len(header.split(" ")[5].split(",")) >= 2  # the array went out of band


def test_a_truncated_large_entry_is_a_miss(entries, events, results_dir, results_warnings):
    np = pytest.importorskip("numpy")
    calls = []

    @task(cache_policy=INPUTS)
    def make(n):
        calls.append(n)
        return np.arange(n, dtype=np.float64)

    make(100_000)
    (entry,) = entries(results_dir)
    with open(entry, "r+b") as f:
        f.truncate(entry.stat().st_size // 2)
    assert make(100_000).sum() == np.arange(100_000).sum()
    assert calls == [100_000, 100_000] and len(results_warnings) == 1


def test_a_leftover_temporary_file_is_never_read(entries, events, results_dir):
    square, calls = counted_square()
    square(5)
    (entry,) = entries(results_dir)
    temp = entry.with_name(f".{entry.name}.999.dead.tmp")
    os.replace(entry, temp)  # as if the writer died before its rename
    assert square(5) == 25
    assert calls == [5, 5]


def test_readers_never_see_half_a_write(home, results_warnings):
    store = LocalResultStore(home / "atomic")
    serializer = get_serializer("pickle")
    stop = threading.Event()
    seen: list[int] = []

    def reader() -> None:
        while not stop.is_set():
            hit, value = store.read("contended")
            if hit:
                assert value == bytes([value[0]]) * len(value)
                seen.append(value[0])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(60):
            store.write("contended", bytes([i]) * 2_000_000, serializer)
    finally:
        stop.set()
        thread.join()
    assert seen and results_warnings == []
    assert [p.name for p in (home / "atomic").iterdir()] == ["contended"]


def test_a_failed_write_leaves_no_entry_and_no_temporary_file(home, monkeypatch):
    store = LocalResultStore(home / "r")

    def refuse(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        store.write("k", 1, get_serializer())
    assert list((home / "r").iterdir()) == []


def test_the_json_serializer_round_trips_and_writes_readable_json(entries, events,
                                                                   results_dir):
    @task(cache_policy=INPUTS, result_serializer="json")
    def summary(n):
        return {"n": n, "items": [1, 2.5, "three", None, True]}

    assert summary(2) == summary(2) == {"n": 2, "items": [1, 2.5, "three", None, True]}
    (entry,) = entries(results_dir)
    header, payload = entry.read_bytes().split(b"\n", 1)
    assert b" json " in header
    assert payload == b'{"n": 2, "items": [1, 2.5, "three", null, true]}'


def test_a_result_json_cannot_hold_is_not_cached_and_the_run_completes(entries, events,
                                                                       results_dir):
    calls = []

    @task(cache_policy=INPUTS, result_serializer=JSONSerializer())
    def tags(n):
        calls.append(n)
        return {"a", "b"}

    assert tags(1) == {"a", "b"}
    assert tags(1) == {"a", "b"}
    assert calls == [1, 1]
    assert ("result not cached: value is not JSON-serializable: Object of type set is not "
            "JSON serializable") in events.log_lines()
    assert entries(results_dir) == []


def test_the_json_serializer_refuses_clearly():
    with pytest.raises(SerializationError, match="not JSON-serializable"):
        JSONSerializer().dumps(object())


def test_a_custom_serializer_can_be_registered_and_selected_by_name(events, results_dir):
    class Upper(BaseSerializer):
        name = "upper-text"

        def dumps(self, value: object) -> bytes:
            return str(value).upper().encode()

        def loads(self, data: bytes) -> object:
            return bytes(data).decode()

    register_serializer(Upper())

    @task(cache_policy=INPUTS, result_serializer="upper-text")
    def greet(name):
        return f"hello {name}"

    assert greet("ada") == "hello ada"
    assert greet("ada") == "HELLO ADA"  # what the serializer gave back
    with pytest.raises(SerializationError, match="one word"):
        register_serializer(Upper(), name="two words")


def test_compressed_serializers_exist_under_prefects_names():
    for name in ("compressed/pickle", "compressed/json", "compressed/cloudpickle"):
        serializer = get_serializer(name)
        assert serializer.loads(serializer.dumps([1, "x"])) == [1, "x"]


def test_a_memory_fsspec_store_works_as_result_storage(events):
    pytest.importorskip("fsspec")
    url = f"memory://onb-{uuid.uuid4().hex}"
    square, calls = counted_square(result_storage=url)
    assert square(6) == square(6) == 36
    assert calls == [6]
    store = open_store(url)
    assert isinstance(store, FsspecResultStore) and store.single_put
    assert store.fs.ls(store.root)


def test_the_results_url_setting_selects_an_fsspec_store(events, monkeypatch):
    pytest.importorskip("fsspec")
    monkeypatch.setenv("ORCHESTRATE_NB_RESULTS_URL", f"memory://onb-{uuid.uuid4().hex}")
    assert isinstance(default_store(), FsspecResultStore)
    square, calls = counted_square()
    square(2)
    square(2)
    assert calls == [2]


def test_a_damaged_fsspec_entry_is_a_miss(home, results_warnings):
    pytest.importorskip("fsspec")
    store = open_store(f"memory://onb-{uuid.uuid4().hex}")
    store.write("k", [1, 2, 3], get_serializer())
    assert store.read("k") == (True, [1, 2, 3])
    path = f"{store.root}/k"
    assert isinstance(store, FsspecResultStore)
    store.fs.pipe_file(path, store.fs.cat_file(path)[:-2])
    assert store.read("k") == (False, None) and len(results_warnings) == 1


def test_file_urls_and_paths_open_a_local_store(home):
    for location in (f"file://{home}/a", str(home / "b"), home / "c"):
        store = open_store(location)
        assert isinstance(store, LocalResultStore)
        store.write("k", 1, get_serializer("pickle"))
        assert store.read("k") == (True, 1)


def test_a_result_store_instance_can_be_passed_to_the_task(entries, events, tmp_path):
    store = LocalResultStore(tmp_path / "elsewhere")
    square, calls = counted_square(result_storage=store)
    square(9)
    square(9)
    assert calls == [9]
    assert len(entries(tmp_path / "elsewhere")) == 1


def test_keys_that_are_not_file_names_are_hashed_and_still_checked(home):
    store = LocalResultStore(home / "r")
    odd = "a key with spaces / and ../dots\n"
    store.write(odd, "value", get_serializer())
    assert entry_name(odd).startswith("h-")
    assert store.read(odd) == (True, "value")
    assert store.read("another") == (False, None)


def test_a_missing_store_folder_is_a_plain_miss(home, results_warnings):
    assert LocalResultStore(home / "nowhere").read("k") == (False, None)
    assert results_warnings == []


def test_storage_keys_may_use_subfolders(home: Path):
    store = LocalResultStore(home / "r")
    store.write("models/v1/weights", [1.0], get_serializer())
    assert (home / "r" / "models" / "v1" / "weights").is_file()
    assert store.read("models/v1/weights") == (True, [1.0])
    assert store.delete("models/v1/weights") and not store.delete("models/v1/weights")


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_clear_removes_all_entries_or_only_one_tasks(home, kind):
    location = home / "r" if kind == "local" else f"memory://onb-{uuid.uuid4().hex}"
    store = open_store(location)
    serializer = get_serializer()
    store.write("a1", 1, serializer, task_key="mod.a")
    store.write("sub/a2", 2, serializer, task_key="mod.a")
    store.write("b1", 3, serializer, task_key="mod.b")
    assert store.clear("mod.a") == 2
    assert store.read("a1") == (False, None) and store.read("b1") == (True, 3)
    assert store.clear() == 1 and store.read("b1") == (False, None)


def test_a_result_that_cannot_be_saved_keeps_the_run_completed_and_warns(events):
    calls = []

    @task(cache_policy=INPUTS)
    def opener(x):
        calls.append(x)
        return threading.Lock()

    assert opener(1) is not None
    assert opener(1) is not None
    assert len(calls) == 2
    warnings = [line for line in events.log_lines() if line.startswith("result not cached")]
    assert warnings and "lock" in warnings[0]
    assert all(events.states_of(t.id)[-1] == "Completed" for t in events.task_runs("opener"))


def test_an_unknown_serializer_name_is_a_reason_not_a_crash(events):
    square, _ = counted_square(result_serializer="yaml")
    assert square(3) == 9
    assert any("not cached: unknown result serializer 'yaml'" in line
               for line in events.log_lines())


KILLED_WRITER = """
import sys, time
from orchestrate_nb.results.store import LocalResultStore

def chunks():
    yield b"half an entry"
    print("writing", flush=True)
    time.sleep(600)

LocalResultStore(sys.argv[1])._put("entry", chunks())
"""


def test_clearing_the_cache_sweeps_the_temporary_file_of_a_killed_write(home, tmp_path):
    import subprocess
    import sys

    root = home / "results"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(root)],
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    finally:
        writer.kill()
        writer.wait()
    (orphan,) = [p for p in root.iterdir() if p.name.endswith(".tmp")]
    in_progress = root / f".other.{os.getpid()}.0123abcd.tmp"  # a live process's write
    in_progress.write_bytes(b"")
    assert LocalResultStore(root).clear() == 0
    assert not orphan.exists() and in_progress.exists()
