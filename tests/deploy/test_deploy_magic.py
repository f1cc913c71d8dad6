"""``%flow deploy`` deploys the saved notebook; a mistake is one UsageError line.

Called as the ``%flow`` magic calls it, with a kernel that knows the notebook's path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError

from orchestrate_nb.notebook.deploy_command import deploy_command


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


@pytest.mark.parametrize(("line", "message"), [
    ("--name x -p zz=1", "unknown parameter 'zz'"),
    ("--name x --cron 'not cron'", "invalid cron expression 'not cron'"),
    ("--name x --cron '0 0 31 2 *'", "cron 0 0 31 2 \\* \\(UTC\\) never fires"),
    ("--name x --interval 1e308", "every 1e\\+308 s never fires"),
    ("--name x --cron '* * * * *' --interval 5", "not allowed with argument"),
    ("--cron '* * * * *'", "the following arguments are required: --name"),
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
