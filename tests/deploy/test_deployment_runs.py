"""How a deployment's run executes, with real worker processes and kernels: it computes
afresh unless the deployment reuses the cache, a saved notebook's ``%flow`` commands do
nothing in it, a failure names the cell's exception, the kernel and the working directory
are the deployment's, and the worker says what it does."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from worker_helpers import WAIT_SECONDS, Query, run_worker_once, write_task_notebook

from orchestrate_nb.deploy.deployments import deploy_flow, deploy_notebook, trigger_deployment
from orchestrate_nb.store.database import Database

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

WORKER = Path(sys.executable).with_name("orchestrate-nb")  # the console script users run


def task_states(query: Query, run_id: str) -> list[str]:
    return [r["state_name"] for r in query(
        "SELECT state_name FROM task_runs WHERE flow_run_id = :id ORDER BY start_time",
        id=run_id)]


def run_state(query: Query, run_id: str) -> dict[str, Any]:
    return query("SELECT state_type, state_message, executed_notebook FROM flow_runs "
                 "WHERE id = :id", id=run_id)[0]


def printed(run: dict[str, Any], display: str | None = None) -> str:
    """What the run's executed notebook printed (or displayed as ``display``)."""
    executed = json.loads(Path(str(run["executed_notebook"])).read_text())
    return "".join("".join(o.get("data", {}).get(display, "") if display else o.get("text", ""))
                   for c in executed["cells"] for o in c.get("outputs", []))


def run_interactively(notebook: Path) -> Any:
    """Execute the notebook in a kernel of its own, as a user's session would (JupyterLab
    tells the kernel its notebook in JPY_SESSION_NAME); the executed notebook."""
    nb = nbformat.read(notebook, as_version=4)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JPY_SESSION_NAME", str(notebook))
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return nb


def _badge(executed: Any, index: int) -> str:
    return "".join(o.get("data", {}).get("text/plain", "") for o in executed.cells[index].outputs
                   if "orchestrate-nb-badge" in o.get("data", {}).get("text/html", ""))


def test_a_deployment_run_computes_afresh_after_an_interactive_session_unless_it_reuses(
        tmp_path: Path, database: Database, query: Query) -> None:
    notebook = write_task_notebook(tmp_path / "etl.ipynb",
                                   "%%task load\nrows = list(range(n))",
                                   "%%task count\nprint('rows', len(rows))")
    run_interactively(notebook)
    deploy_notebook(notebook, name="etl")
    fresh = trigger_deployment("etl")
    run_worker_once()
    assert task_states(query, fresh) == ["Completed", "Completed"]
    assert "rows 3" in printed(run_state(query, fresh))
    assert "re-ran: the cache is not read here (a deployment run computes fresh)" in \
        printed(run_state(query, fresh), "text/plain")

    deploy_notebook(notebook, name="etl", cache="reuse")
    reused = trigger_deployment("etl")
    run_worker_once()
    assert task_states(query, reused) == ["Cached", "Cached"]
    assert "rows 3" in printed(run_state(query, reused))


def test_after_a_deployment_run_the_interactive_session_says_what_changed_for_it(
        tmp_path: Path, database: Database, query: Query) -> None:
    """A run with other parameters rewrote the file the interactive cell writes: the cell
    re-runs because of that file, not because of the run's parameter the user never set."""
    notebook = write_task_notebook(
        tmp_path / "etl.ipynb", "%%task make\nopen('out.csv', 'w').write(str(list(range(n))))")
    assert _badge(run_interactively(notebook), 2).startswith("▶ ran: first run")
    deploy_notebook(notebook, name="etl", parameters={"n": 5})
    run = trigger_deployment("etl")
    run_worker_once()
    assert (tmp_path / "out.csv").read_text() == str(list(range(5)))
    assert "re-ran: n changed" in printed(run_state(query, run), "text/plain")  # n: 3 -> 5

    again = _badge(run_interactively(notebook), 2)

    assert again.startswith("▶ re-ran: out.csv changed"), again
    assert (tmp_path / "out.csv").read_text() == str(list(range(3)))


FLOW_FILE = """
from orchestrate_nb import flow, task

@task(cache_key_fn=lambda context, arguments: f"square-{arguments['x']}")
def square(x: int) -> int:
    return x * x

@flow
def twice(x: int = 3) -> int:
    return square(x) + square(x)
"""


def test_a_python_flow_run_computes_afresh_and_shares_results_within_the_run(
        tmp_path: Path, database: Database, query: Query) -> None:
    (tmp_path / "flows.py").write_text(FLOW_FILE)
    deploy_flow(f"{tmp_path / 'flows.py'}:twice", name="twice")
    sys.path.insert(0, str(tmp_path))
    try:
        from flows import twice  # type: ignore[import-not-found]

        assert twice(3) == 18  # an interactive call: the cache now holds square(3)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("flows", None)
    run_id = trigger_deployment("twice")
    run_worker_once()
    # the first call computed (the interactive entry was not read), the second reused it
    assert sorted(task_states(query, run_id)) == ["Cached", "Completed"]


def test_runs_of_a_python_flow_that_reuses_the_cache_find_each_others_results(
        tmp_path: Path, database: Database, query: Query) -> None:
    (tmp_path / "flows.py").write_text(FLOW_FILE.replace(
        "cache_key_fn=lambda context, arguments: f\"square-{arguments['x']}\"",
        "cache_policy=INPUTS + TASK_SOURCE").replace(
        "from orchestrate_nb import flow, task",
        "from orchestrate_nb import flow, task\n"
        "from orchestrate_nb.cache_policies import INPUTS, TASK_SOURCE"))
    deploy_flow(f"{tmp_path / 'flows.py'}:twice", name="twice", cache="reuse")
    first = trigger_deployment("twice")
    run_worker_once()
    second = trigger_deployment("twice")
    run_worker_once()
    assert sorted(task_states(query, first)) == ["Cached", "Completed"]
    assert task_states(query, second) == ["Cached", "Cached"]


def test_flow_commands_in_a_deployed_notebook_do_nothing_and_say_why(
        tmp_path: Path, database: Database, query: Query) -> None:
    notebook = write_task_notebook(tmp_path / "etl.ipynb", "%flow deploy --name again",
                                   "%flow run", "%flow graph", "%flow clear-cache",
                                   "%%task double\nx = 2 * n\nprint('x is', x)")
    deploy_notebook(notebook, name="etl")
    run_id = trigger_deployment("etl")
    run_worker_once()
    run = run_state(query, run_id)
    assert run["state_type"] == "COMPLETED"
    output = printed(run)
    for command in ("deploy", "run", "graph", "clear-cache"):
        assert f"%flow {command}: skipped, this notebook is running as deployment run " \
               f"{run_id[:8]}" in output
    assert "x is 6" in output
    assert [r["name"] for r in query("SELECT name FROM deployments")] == ["etl"]


def test_a_cell_failing_without_an_error_output_names_its_exception(
        tmp_path: Path, database: Database, query: Query, cli: Any) -> None:
    notebook = write_task_notebook(tmp_path / "bad.ipynb", "%flow nonsense")
    deploy_notebook(notebook, name="bad")
    run_id = trigger_deployment("bad")
    worker = subprocess.run([str(WORKER), "worker", "start", "--run-once"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=WAIT_SECONDS)
    message = "UsageError: %flow: unknown subcommand 'nonsense'"
    assert run_state(query, run_id)["state_message"].startswith(message)
    assert worker.returncode == 1  # --run-once: a run did not complete
    [error] = worker.stderr.splitlines()
    assert error.startswith(f"Error: run {run_id[:8]} bad-") and "ended Failed" in error
    assert message in error and error.endswith(f"its log: {tmp_path}/orchestrate_home/runs/"
                                               f"{run_id}.log")
    shown = cli("runs", "show", run_id)
    assert f"Failed  {message}" in shown.out
    assert "Failed" in cli("runs", "ls").out and message in cli("runs", "ls").out


def test_a_notebook_without_kernelspec_runs_on_python3(
        tmp_path: Path, database: Database, query: Query) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")])
    assert "kernelspec" not in notebook.metadata
    nbformat.write(notebook, tmp_path / "bare.ipynb")
    deploy_notebook(tmp_path / "bare.ipynb", name="bare")
    run_id = trigger_deployment("bare")
    run_worker_once()
    run = run_state(query, run_id)
    assert (run["state_type"], run["state_message"]) == ("COMPLETED", None)
    assert "hello" in printed(run)


def test_untyped_parameters_reach_the_notebook_as_papermill_gives_them(
        tmp_path: Path, database: Database, query: Query, cli: Any) -> None:
    notebook = write_task_notebook(tmp_path / "etl.ipynb",
                                   "print(repr(limit), repr(debug), repr(n_rows))",
                                   parameters="limit = None\ndebug = None\nn_rows = None\n")
    assert cli("deploy", str(notebook), "--name", "etl", "-p", "limit=None",
               "-p", "debug=False", "-p", "n_rows=3").code == 0
    run_id = trigger_deployment("etl")
    run_worker_once()
    assert "None False 3" in printed(run_state(query, run_id))


def test_a_module_named_like_a_standard_one_in_the_workers_folder_breaks_no_run(
        tmp_path: Path, database: Database, query: Query) -> None:
    folder = tmp_path / "worker_folder"
    folder.mkdir()
    for shadow in ("inspect.py", "json.py"):
        (folder / shadow).write_text("raise ImportError('the user file was imported')\n")
    notebook = write_task_notebook(tmp_path / "etl.ipynb", "%%task one\nx = n + 1")
    deploy_notebook(notebook, name="etl")
    run_id = trigger_deployment("etl")
    worker = subprocess.run([str(WORKER), "worker", "start", "--run-once"], cwd=folder,
                            capture_output=True, text=True, timeout=WAIT_SECONDS)
    assert worker.returncode == 0, worker.stderr
    assert run_state(query, run_id)["state_type"] == "COMPLETED"


def test_runs_work_in_the_deployments_folder_by_default_or_in_the_one_given(
        tmp_path: Path, database: Database, query: Query) -> None:
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    notebook = write_task_notebook(tmp_path / "etl.ipynb",
                                   "from pathlib import Path\nPath('out.txt').write_text('x')")
    deploy_notebook(notebook, name="here")
    deploy_notebook(notebook, name="there", cwd=elsewhere)
    runs = [trigger_deployment(name) for name in ("here", "there")]
    run_worker_once()
    assert [run_state(query, r)["state_type"] for r in runs] == ["COMPLETED", "COMPLETED"]
    assert (tmp_path / "out.txt").is_file() and (elsewhere / "out.txt").is_file()


def test_the_worker_says_what_it_does(tmp_path: Path, database: Database,
                                      query: Query) -> None:
    deploy_notebook(write_task_notebook(tmp_path / "ok.ipynb", "x = 1"), name="ok")
    deploy_notebook(write_task_notebook(tmp_path / "bad.ipynb", "1 / 0"), name="bad")
    runs = {name: trigger_deployment(name) for name in ("ok", "bad")}
    with open(tmp_path / "worker.log", "w") as log:  # a file: plain lines
        code = subprocess.run([str(WORKER), "worker", "start", "--run-once", "--limit", "2"],
                              cwd=tmp_path, stdout=log, stderr=subprocess.PIPE,
                              timeout=WAIT_SECONDS).returncode
    assert code == 1
    lines = (tmp_path / "worker.log").read_text().splitlines()
    assert "worker started: pool 'default', up to 2 runs at once, database sqlite:///" in lines[0]
    for name, run_id in runs.items():
        assert any(f"claimed run {run_id[:8]} {name}-" in line for line in lines)
    assert any(f"run {runs['ok'][:8]} ok-" in line and " ended Completed in " in line
               for line in lines)
    [failed] = [line for line in lines if f"run {runs['bad'][:8]} bad-" in line
                and "ended Failed" in line]
    assert "ZeroDivisionError: division by zero" in failed and runs["bad"] in failed


def test_the_worker_refuses_to_start_without_a_kernel_its_pool_needs(
        tmp_path: Path, database: Database, save: Any) -> None:
    notebook = write_task_notebook(tmp_path / "r.ipynb", "print(1)")
    save(dt.datetime.now(dt.timezone.utc), name="r-report", cron=None,
         entrypoint=str(notebook), kernel="ir")  # (deploying would refuse it)
    worker = subprocess.run([str(WORKER), "worker", "start", "--run-once"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=WAIT_SECONDS)
    assert worker.returncode == 1
    assert worker.stderr.splitlines() == [
        "Error: the worker cannot start: deployment 'r-report' needs the Jupyter kernel "
        "'ir', which is not installed here; installed kernels: python3"]
