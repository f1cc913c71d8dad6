"""A cache entry written by one process is a hit in another: after a restart, or from a
worker sharing the same home."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

MODULE = '''
import json, os
from orchestrate_nb import flow, task
from orchestrate_nb.cache_policies import INPUTS, TASK_SOURCE

CALLS = []

@task(cache_policy=INPUTS + TASK_SOURCE)
def expensive(n, options):
    CALLS.append(n)
    return {"n": n, "total": sum(range(n)), "scale": options["scale"]}

@flow
def pipeline(n):
    return expensive(n, {"scale": 2, "labels": {"b", "a"}})
'''


def _import(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("shared_pipeline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_result_cached_by_another_process_is_a_hit_here(events, home, run_python):
    code_dir = home / "code"
    code_dir.mkdir()
    (code_dir / "shared_pipeline.py").write_text(MODULE)
    out = run_python("""
        import json
        import shared_pipeline as p
        print(json.dumps([p.pipeline(1000), p.CALLS]))
    """, home, extra_path=code_dir, env={"PYTHONHASHSEED": "7"})
    value, child_calls = json.loads(out)
    assert child_calls == [1000]

    module = _import(code_dir / "shared_pipeline.py")
    result = module.pipeline(1000)
    assert result["total"] == value["total"] == sum(range(1000))
    assert module.CALLS == []  # not run here: restored from the other process's entry
    (run,) = events.task_runs("expensive")
    assert events.states_of(run.id) == ["Cached"]


def test_a_result_cached_here_is_a_hit_after_a_restart(events, home, run_python):
    code_dir = home / "code"
    code_dir.mkdir()
    (code_dir / "shared_pipeline.py").write_text(MODULE)
    module = _import(code_dir / "shared_pipeline.py")
    module.pipeline(50)
    assert module.CALLS == [50]
    out = run_python("""
        import json
        import shared_pipeline as p
        print(json.dumps([p.pipeline(50)["total"], p.CALLS]))
    """, home, extra_path=code_dir)
    assert json.loads(out) == [sum(range(50)), []]

