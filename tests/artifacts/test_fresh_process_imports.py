"""A flow whose first task makes an artifact, in a fresh process: the task imports SQLAlchemy
(through the artifacts store) while the store's writer thread imports it too. Python breaks
such an import race by handing one thread a half-initialised module, which failed 1 run in 5
with "cannot import name 'AdaptedConnection' from partially initialized module"."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    from orchestrate_nb import flow, task
    from orchestrate_nb.artifacts import create_markdown_artifact

    @task
    def report():
        create_markdown_artifact("# done", key="report")
        return 1

    @flow
    def nightly():
        return report()

    assert nightly() == 1
    print("ok")
""")


def test_a_fresh_process_whose_first_task_makes_an_artifact_never_fails_on_imports(
        tmp_path: Path) -> None:
    script = tmp_path / "flow.py"
    script.write_text(SCRIPT)
    for attempt in range(12):
        env = {**os.environ, "ORCHESTRATE_NB_HOME": str(tmp_path / f"home{attempt}")}
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0 and "ok" in done.stdout, (attempt, done.stderr[-2000:])
        assert "partially initialized" not in done.stderr
