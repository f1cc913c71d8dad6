"""``%flow deploy`` deploys the saved notebook; a mistake is one UsageError line.

Called as the ``%flow`` magic calls it (inside the magics' one error translation), with a
kernel that knows the notebook's path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploy_helpers import write_notebook
from IPython.core.error import UsageError

from orchestrate_nb.notebook import deploy_command as command
from orchestrate_nb.notebook.magics import user_errors


def deploy_command(kernel: Kernel, line: str) -> None:
    with user_errors():
        command.deploy_command(kernel, line)


class Kernel:
    shell = None

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def notebook_path(self, explicit: str | None = None) -> Path | None:
        return Path(explicit) if explicit else self.path


def test_flow_deploy_deploys_this_notebook(notebook, query, capsys):
    deploy_command(Kernel(notebook), "--name nightly --cron '0 2 * * *' -p n=5 --pool gpu")
    assert "Deployed etl.ipynb as 'nightly': cron 0 2 * * * (UTC)" in capsys.readouterr().out
    [row] = query("SELECT name, entrypoint, pool, parameters FROM deployments")
    assert (row["name"], row["entrypoint"], row["pool"]) == ("nightly", str(notebook), "gpu")


def test_flow_deploy_reads_untyped_parameters_as_papermill_and_takes_run_options(
        tmp_path, query):
    notebook = write_notebook(tmp_path / "nb.ipynb", "x = None\ny = None\nz = None\n")
    deploy_command(Kernel(notebook), f"--name nb -p x=None -p y=False -p z=3 --cache reuse "
                                     f"--kernel python3 --cwd {tmp_path}")
    [row] = query("SELECT parameters, cache, kernel, cwd FROM deployments")
    parameters = row["parameters"]
    assert (parameters if isinstance(parameters, dict) else json.loads(parameters)) == {
        "x": None, "y": False, "z": 3}
    assert (row["cache"], row["kernel"], row["cwd"]) == ("reuse", "python3", str(tmp_path))


@pytest.mark.parametrize(("line", "message"), [
    ("--name x -p zz=1", "unknown parameter 'zz'"),
    ("--name x --cron 'not cron'", "invalid cron expression 'not cron'"),
    ("--name x --cron '0 0 31 2 *'", "cron 0 0 31 2 \\* \\(UTC\\) never fires"),
    ("--name x --interval 1e308", "every 1e\\+308 s never fires"),
    ("--name x --cron '* * * * *' --interval 5", "not allowed with argument"),
    ("--cron '* * * * *'", "the following arguments are required: --name"),
    ("--name x --cache sometimes", "unknown cache mode 'sometimes'"),
    ("--name x --kernel ir", "needs the Jupyter kernel 'ir', which is not installed here"),
])
def test_a_bad_flow_deploy_is_one_usage_error_line_and_nothing_written(notebook, query, line,
                                                                       message):
    with pytest.raises(UsageError, match=message) as caught:
        deploy_command(Kernel(notebook), line)
    assert "\n" not in str(caught.value)
    assert query("SELECT id FROM deployments") == []


def test_flow_deploy_without_a_saved_notebook_asks_for_one(query):
    with pytest.raises(UsageError, match="can't find this notebook's file"):
        deploy_command(Kernel(None), "--name x")
