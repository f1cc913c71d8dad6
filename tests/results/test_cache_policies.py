"""Cache policies through the engine, as a Prefect user sees them: what runs, what is Cached."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import re
import sys
import threading
from pathlib import Path

import pytest

from orchestrate_nb import flow, task
from orchestrate_nb.cache_policies import (
    DEFAULT,
    FLOW_PARAMETERS,
    INPUTS,
    NO_CACHE,
    NONE,
    RUN_ID,
    TASK_SOURCE,
    CacheKeyFnPolicy,
    CompoundCachePolicy,
    Inputs,
)
from orchestrate_nb.results import store as store_module
from orchestrate_nb.task_runners import ThreadPoolTaskRunner
from orchestrate_nb.tasks import task_input_hash

HEX_KEY = re.compile(r"[0-9a-f]{32}")


def counting(policy=INPUTS, **options):  # type: ignore[no-untyped-def]
    """A cached task that records its calls."""
    calls: list[tuple[int, ...]] = []

    @task(cache_policy=policy, **options)
    def add(x, y=0):
        calls.append((x, y))
        return x + y

    return add, calls


def test_a_cached_task_does_not_run_again_and_ends_cached_with_its_key(events):
    add, calls = counting()

    @flow
    def pipeline():
        return add(1, 2)

    assert pipeline() == 3
    assert pipeline() == 3
    assert calls == [(1, 2)]
    first, second = events.task_runs("add")
    assert events.states_of(first.id) == ["Running", "Completed"]
    assert events.states_of(second.id) == ["Cached"]
    cached = events.final_change(second.id)
    assert cached.state_type == "COMPLETED"
    assert HEX_KEY.fullmatch(cached.cache_key or "")


def test_return_state_shows_the_cached_state_and_its_key(events):
    add, _ = counting()
    add(1, 2)
    state = add(1, 2, return_state=True)
    assert state.name == "Cached" and state.is_completed()
    assert state.result() == 3
    assert HEX_KEY.fullmatch(state.details["cache_key"])


def test_changed_inputs_miss_the_cache(events):
    add, calls = counting()
    assert [add(1, 2), add(1, 3), add(x=1, y=2), add(1)] == [3, 4, 3, 1]
    assert calls == [(1, 2), (1, 3), (1, 0)]


def test_an_argument_left_to_its_default_is_the_same_input_as_passing_it(events):
    add, calls = counting()
    add(5)
    add(5, 0)
    add(x=5, y=0)
    assert calls == [(5, 0)]


def _load_module(path: Path, source: str):  # type: ignore[no-untyped-def]
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("pipeline_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PIPELINE = '''
from orchestrate_nb import task
from orchestrate_nb.cache_policies import INPUTS, TASK_SOURCE
CALLS = []

@task(cache_policy=INPUTS + TASK_SOURCE)
def compute(x):
    CALLS.append(x)
    return x {op} 1
'''


def test_task_source_misses_after_the_code_changes_and_hits_when_it_is_changed_back(
        events, tmp_path):
    v1 = _load_module(tmp_path / "v1.py", PIPELINE.format(op="+"))
    assert v1.compute(10) == 11
    v2 = _load_module(tmp_path / "v2.py", PIPELINE.format(op="*"))
    assert v1.compute.task_key == v2.compute.task_key
    assert v2.compute(10) == 10  # same task, same input, new code: runs
    v3 = _load_module(tmp_path / "v3.py", PIPELINE.format(op="+"))
    assert v3.compute(10) == 11  # the first version's entry
    assert (v1.CALLS, v2.CALLS, v3.CALLS) == ([10], [10], [])


def test_two_tasks_with_equal_inputs_do_not_share_entries(events):
    @task(cache_policy=INPUTS)
    def double(x):
        return 2 * x

    @task(cache_policy=INPUTS)
    def square(x):
        return x * x

    assert (double(3), square(3)) == (6, 9)


def test_default_policy_with_persist_result_caches_only_within_one_flow_run(events):
    calls = []

    @task(persist_result=True)
    def load(x):
        calls.append(x)
        return x

    @flow
    def pipeline():
        return load(1) + load(1)

    assert pipeline() == 2
    assert calls == [1]
    pipeline()
    assert calls == [1, 1]
    assert [events.states_of(t.id)[-1] for t in events.task_runs("load")] == [
        "Completed", "Cached", "Completed", "Cached"]


def test_the_none_policy_never_caches_even_with_persist_result(events, results_dir):
    for policy in (NONE, NO_CACHE):
        add, calls = counting(policy, persist_result=True)
        add(1)
        add(1)
        assert len(calls) == 2
    assert not results_dir.exists()


def test_persist_result_false_turns_caching_off(events):
    add, calls = counting(INPUTS, persist_result=False)
    add(1)
    add(1)
    assert len(calls) == 2


def test_subtracting_a_parameter_ignores_it(events):
    calls = []

    @task(cache_policy=INPUTS - "verbose")
    def fit(x, verbose=False):
        calls.append((x, verbose))
        return x

    fit(1, verbose=True)
    fit(1, verbose=False)
    fit(2)
    assert calls == [(1, True), (2, False)]


def test_policies_compose_with_plus_and_minus():
    combined = INPUTS + TASK_SOURCE + RUN_ID
    assert isinstance(combined, CompoundCachePolicy)
    assert combined == DEFAULT
    assert NONE + INPUTS is INPUTS and INPUTS + NONE is INPUTS
    minus = (INPUTS + TASK_SOURCE) - "a" - "b"
    inputs = [p for p in minus.policies if isinstance(p, Inputs)]
    assert len(inputs) == 1 and inputs[0].exclude == ["a", "b"]
    assert TASK_SOURCE - "a" is TASK_SOURCE
    with pytest.raises(TypeError):
        INPUTS - 1  # type: ignore[operator]


def test_a_compound_policy_misses_when_any_part_changes(events):
    calls = []

    @task(cache_policy=(INPUTS + TASK_SOURCE) - "seed")
    def sample(n, seed=0):
        calls.append((n, seed))
        return n

    sample(3, seed=1)
    sample(3, seed=2)
    sample(4, seed=1)
    assert calls == [(3, 1), (4, 1)]


def test_flow_parameters_policy_keys_on_the_flow_runs_parameters(events):
    calls = []

    @task(cache_policy=FLOW_PARAMETERS)
    def report():
        calls.append(1)
        return len(calls)

    @flow
    def pipeline(n: int):
        return report()

    assert [pipeline(1), pipeline(1), pipeline(2)] == [1, 1, 2]


def test_cache_key_fn_with_task_input_hash_caches_by_task_and_inputs(events):
    calls = []

    @task(cache_key_fn=task_input_hash)
    def fetch(url):
        calls.append(url)
        return url.upper()

    assert [fetch("a"), fetch("a"), fetch("b")] == ["A", "A", "B"]
    assert calls == ["a", "b"]


def test_cache_key_fn_keys_are_shared_between_tasks_as_in_prefect(events):
    @task(cache_key_fn=lambda ctx, params: "shared-answer")
    def first():
        return 1

    @task(cache_key_fn=lambda ctx, params: "shared-answer")
    def second():
        return 2

    assert first() == 1
    state = second(return_state=True)
    assert state.name == "Cached" and state.result() == 1
    assert state.details["cache_key"] == "shared-answer"


def test_cache_key_fn_sees_the_task_run_context_and_may_decline_to_cache(events):
    seen = []

    def key(ctx, params):
        seen.append((ctx.task.name, ctx.task_run.name, params))
        return None if params["x"] < 0 else f"x={params['x']}"

    add, calls = counting(CacheKeyFnPolicy(cache_key_fn=key))
    add(-1)
    add(-1)
    add(2)
    add(2)
    assert calls == [(-1, 0), (-1, 0), (2, 0)]
    assert seen[0][0] == "add" and seen[0][2] == {"x": -1, "y": 0}


def test_a_failing_cache_key_fn_runs_the_task_uncached_and_says_why(events):
    def broken(ctx, params):
        raise RuntimeError("no key today")

    @task(cache_key_fn=broken)
    def work():
        return 1

    assert work() == 1
    assert any("not cached: the cache key could not be computed (RuntimeError: no key today)"
               in line for line in events.log_lines())


def test_an_expired_entry_is_a_miss(events, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(store_module, "now", lambda: clock[0])
    add, calls = counting(INPUTS, cache_expiration=dt.timedelta(seconds=60))
    add(1)
    clock[0] += 59
    add(1)
    assert len(calls) == 1
    clock[0] += 2
    add(1)
    assert len(calls) == 2
    add(1)  # the new entry has a fresh expiry
    assert len(calls) == 2


def test_a_tiny_expiration_expires_in_real_time(events):
    import time

    add, calls = counting(INPUTS, cache_expiration=dt.timedelta(milliseconds=300))
    add(1)
    add(1)
    time.sleep(0.35)
    add(1)
    assert len(calls) == 2


def test_refresh_cache_runs_again_and_overwrites_the_entry(events):
    calls = []

    @task(cache_policy=INPUTS)
    def stamp(x):
        calls.append(x)
        return len(calls)

    assert stamp(1) == 1
    assert stamp(1) == 1
    assert stamp.with_options(refresh_cache=True)(1) == 2
    assert stamp(1) == 2


def test_the_refresh_every_cache_switch_reads_only_what_this_process_stored(
        events, monkeypatch):
    from orchestrate_nb.engine import caching

    calls = []

    @task(cache_policy=INPUTS)
    def stamp(x):
        calls.append(x)
        return len(calls)

    assert stamp(1) == 1  # an entry stored before the switch (another session's, say)
    monkeypatch.setattr(caching, "_stored_here", set())  # as in a new process
    monkeypatch.setenv("ORCHESTRATE_NB_TASKS_REFRESH_CACHE", "1")
    assert stamp(1) == 2  # not read: computed and stored again
    assert stamp(1) == 2  # what this process stored is shared
    monkeypatch.delenv("ORCHESTRATE_NB_TASKS_REFRESH_CACHE")
    assert stamp(1) == 2


def test_result_storage_key_names_the_entry_from_a_template(events, results_dir):
    @task(cache_policy=INPUTS, result_storage_key="square-{parameters[x]}")
    def square(x):
        return x * x

    assert square(7) == 49
    assert (results_dir / "square-7").is_file()
    assert square(7, return_state=True).details["cache_key"] == "square-7"


def test_an_unpicklable_input_runs_uncached_and_names_the_parameter(events):
    calls = []

    @task(cache_policy=INPUTS)
    def locked(lock, x):
        calls.append(x)
        return x

    lock = threading.Lock()
    assert locked(lock, 1) == 1
    assert locked(lock, 1) == 1
    assert len(calls) == 2
    assert "not cached: parameter 'lock': lock can't be pickled" in events.log_lines()
    assert all(events.states_of(t.id)[-1] == "Completed" for t in events.task_runs("locked"))


def test_submitted_tasks_in_a_thread_pool_share_the_cache(events):
    add, calls = counting()

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
    def pipeline():
        return [f.result() for f in [add.submit(i) for i in range(4)]]

    assert pipeline() == [0, 1, 2, 3]
    assert pipeline() == [0, 1, 2, 3]
    assert sorted(calls) == [(i, 0) for i in range(4)]


def test_async_tasks_are_cached_too(events):
    calls = []

    @task(cache_policy=INPUTS)
    async def fetch(x):
        calls.append(x)
        return x * 10

    @flow
    async def pipeline():
        return await fetch(1) + await fetch(1)

    assert asyncio.run(pipeline()) == 20
    assert calls == [1]


def test_a_cached_value_is_the_saved_value_not_the_same_object(events):
    @task(cache_policy=INPUTS)
    def make(n):
        return {"items": list(range(n))}

    first = make(3)
    second = make(3)
    assert first == second and first is not second


def test_the_module_is_importable_as_in_prefect():
    from orchestrate_nb.cache_policies import DEFAULT as default

    assert "orchestrate_nb.cache_policies" in sys.modules
    assert default is DEFAULT


@pytest.mark.parametrize("key", [42, {"k": 1}, b"bytes"], ids=["int", "dict", "bytes"])
def test_a_cache_key_fn_returning_a_non_string_runs_uncached_with_one_line(events, key):
    calls = []

    @task(cache_key_fn=lambda ctx, params: key)
    def work(x):
        calls.append(x)
        return x

    @flow
    def pipeline():
        return work(1), work(1)

    assert pipeline() == (1, 1)
    assert calls == [1, 1]
    warnings = [line for line in events.log_lines() if line.startswith("not cached:")]
    assert len(warnings) == 2 and "\n" not in warnings[0]
    assert f"cache_key_fn returned {type(key).__name__}" in warnings[0]
    assert "not a str" in warnings[0]
