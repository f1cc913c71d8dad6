"""``orchestrate-nb deploy`` and ``deployment ...``: one line on a mistake, nothing written."""

from __future__ import annotations

import json
import textwrap

import pytest
from deploy_helpers import write_notebook
from sqlalchemy import text

import orchestrate_nb
from orchestrate_nb.errors import DeploymentError


def deployments(query):
    return query("SELECT name, kind, cron, timezone, parameters, pool, retries, paused "
                 "FROM deployments ORDER BY name")


def test_deploying_a_notebook_lists_it_with_its_schedule_and_next_run(cli, notebook, query):
    result = cli("deploy", str(notebook), "--name", "nightly", "--cron", "0 2 * * *",
                 "--timezone", "Europe/Berlin", "-p", "n=100", "--retries", "1")
    assert result.code == 0, result.err
    assert "Deployed notebook" in result.out and "'nightly'" in result.out
    [row] = deployments(query)
    assert row["parameters"] in ({"n": 100}, '{"n":100}')
    assert (row["kind"], row["cron"], row["timezone"], row["retries"]) == (
        "notebook", "0 2 * * *", "Europe/Berlin", 1)

    listing = cli("deployment", "ls")
    assert listing.code == 0
    assert "nightly" in listing.out and "cron 0 2 * * * (Europe/Berlin)" in listing.out
    assert "02:00 CE" in listing.out  # the next run, in the deployment's timezone


@pytest.mark.parametrize(("extra", "message"), [
    (["-p", "x=1"], "unknown parameter 'x' (the notebook's parameters cell declares: n,"),
    (["-p", "n=abc"], "parameter 'n' expects int, got 'abc'"),
    (["--cron", "0 25 * * *"], "invalid cron expression '0 25 * * *'"),
    (["--cron", "0 2 * * *", "--timezone", "Mars/Olympus"], "unknown timezone 'Mars/Olympus'"),
    (["--rrule", "FREQ=SOMETIMES"], "invalid rrule 'FREQ=SOMETIMES'"),
    (["--interval", "-5"], "invalid interval -5"),
    (["-p", "n"], "invalid parameter 'n': write it as NAME=VALUE"),
    (["--cache", "sometimes"], "unknown cache mode 'sometimes'; choose refresh"),
    (["--kernel", "ir"], "etl.ipynb needs the Jupyter kernel 'ir', which is not installed"),
    (["--cwd", "/no/such/folder"], "working directory not found: /no/such/folder"),
], ids=["unknown-parameter", "wrong-type", "invalid-cron", "bad-timezone", "invalid-rrule",
        "bad-interval", "bad-pair", "bad-cache", "missing-kernel", "missing-cwd"])
def test_a_bad_deployment_is_one_line_exit_1_and_nothing_written(cli, notebook, query, extra,
                                                                  message):
    result = cli("deploy", str(notebook), "--name", "nightly", *extra)
    assert result.code == 1
    assert result.err.strip() == f"Error: {message}" or (
        result.err.startswith(f"Error: {message}") and result.err.count("\n") == 1)
    assert deployments(query) == []


def test_a_missing_notebook_is_one_line_and_nothing_written(cli, tmp_path, query):
    result = cli("deploy", str(tmp_path / "nope.ipynb"), "--name", "nightly")
    assert (result.code, result.err.count("\n")) == (1, 1)
    assert "notebook not found" in result.err and "nope.ipynb" in result.err
    assert deployments(query) == []


def test_two_schedules_at_once_are_refused(notebook, query):
    with pytest.raises(DeploymentError, match="give one schedule, not cron and interval"):
        orchestrate_nb.deploy_notebook(notebook, "x", cron="* * * * *", interval=60)
    assert deployments(query) == []


def test_redeploying_a_name_updates_the_deployment(notebook, query):
    first = orchestrate_nb.deploy_notebook(notebook, "nightly", cron="0 2 * * *")
    second = orchestrate_nb.deploy_notebook(notebook, "nightly", interval=3600, pool="gpu",
                                            parameters={"n": 5})
    assert first.id == second.id and second.created == first.created
    [row] = deployments(query)
    assert (row["cron"], row["pool"]) == (None, "gpu")
    assert second.schedule_kind == "interval" and second.interval_seconds == 3600


def test_triggering_a_run_checks_parameters_and_creates_a_scheduled_run(cli, notebook, query):
    orchestrate_nb.deploy_notebook(notebook, "adhoc", parameters={"n": 1, "day": "tue"})
    result = cli("deployment", "run", "adhoc", "-p", "n=7")
    assert result.code == 0, result.err
    assert "waiting for a worker" in result.out
    [run] = query("SELECT id, state_type, state_name, parameters, scheduled_time, pool "
                  "FROM flow_runs")
    assert run["id"] in result.out
    assert (run["state_type"], run["state_name"], run["pool"]) == (
        "SCHEDULED", "Scheduled", "default")
    assert run["parameters"] in ({"n": 7, "day": "tue"}, '{"n":7,"day":"tue"}')
    assert run["scheduled_time"] is not None
    assert len(query("SELECT * FROM run_states WHERE flow_run_id = :id", id=run["id"])) == 1


@pytest.mark.parametrize("param", ["x=1", "n=abc"])
def test_triggering_with_a_bad_parameter_writes_nothing(cli, notebook, query, param):
    orchestrate_nb.deploy_notebook(notebook, "adhoc")
    result = cli("deployment", "run", "adhoc", "-p", param)
    assert (result.code, result.err.count("\n")) == (1, 1)
    assert query("SELECT id FROM flow_runs") == []


def test_the_notebook_is_checked_again_when_triggered(cli, tmp_path, query):
    notebook = write_notebook(tmp_path / "etl.ipynb")
    orchestrate_nb.deploy_notebook(notebook, "adhoc")
    write_notebook(notebook, parameters="m = 1\n")  # n was renamed since deploying
    result = cli("deployment", "run", "adhoc", "-p", "n=1")
    assert result.code == 1 and "unknown parameter 'n'" in result.err


def test_pause_resume_and_rm(cli, notebook, query, database):
    orchestrate_nb.deploy_notebook(notebook, "nightly", cron="0 2 * * *")
    assert cli("deployment", "pause", "nightly").code == 0
    assert deployments(query)[0]["paused"] in (True, 1)
    assert "yes" in cli("deployment", "ls").out
    assert "already paused" in cli("deployment", "pause", "nightly").out
    assert cli("deployment", "resume", "nightly").code == 0
    assert deployments(query)[0]["paused"] in (False, 0)
    cli("deployment", "run", "nightly")
    cli("deployment", "run", "nightly")
    with database.write() as conn:  # one of them ran
        conn.execute(text("UPDATE flow_runs SET state_type = 'COMPLETED' WHERE id IN "
                          "(SELECT id FROM flow_runs LIMIT 1)"))
    removed = cli("deployment", "rm", "nightly")
    assert removed.code == 0 and "1 run(s) not started yet dropped" in removed.out
    assert deployments(query) == []
    assert [r["state_type"] for r in query("SELECT state_type FROM flow_runs")] == [
        "COMPLETED"]  # its history is kept


def test_an_unknown_deployment_is_named(cli, database):
    result = cli("deployment", "pause", "ghost")
    assert result.code == 1 and "no deployment named 'ghost'" in result.err


def test_a_python_flow_is_deployed_by_file_and_function(cli, tmp_path, query, database):
    flows = tmp_path / "flows.py"
    flows.write_text(textwrap.dedent("""
        from orchestrate_nb import flow

        @flow
        def add(x: int, y: int = 1) -> int:
            return x + y

        if __name__ == "__main__":
            raise SystemExit("the main block must not run when deploying")
    """))
    ok = cli("deploy", f"{flows}:add", "--name", "adder", "--interval", "1h", "-p", "x=2")
    assert ok.code == 0, ok.err
    [row] = deployments(query)
    assert row["kind"] == "python" and row["parameters"] in ({"x": 2}, '{"x":2}')
    assert "every hour" in cli("deployment", "ls").out
    unknown = cli("deploy", f"{flows}:add", "--name", "adder2", "-p", "z=1")
    assert unknown.code == 1 and "unknown parameter 'z' (flow 'add' takes: x, y)" in unknown.err
    wrong = cli("deploy", f"{flows}:add", "--name", "adder2", "-p", "x=abc")
    assert wrong.code == 1 and "parameter 'x'" in wrong.err
    missing = cli("deploy", f"{flows}:nope", "--name", "adder2")
    assert missing.code == 1 and "has no @flow named 'nope'" in missing.err
    assert len(deployments(query)) == 1


def test_deployment_ls_shows_how_runs_use_the_cache(cli, notebook, query):
    assert cli("deploy", str(notebook), "--name", "fresh").code == 0
    assert cli("deploy", str(notebook), "--name", "cached", "--cache", "reuse").code == 0
    rows = query("SELECT name, cache FROM deployments ORDER BY name")
    assert [(r["name"], r["cache"]) for r in rows] == [("cached", "reuse"), ("fresh", "refresh")]
    listing = cli("deployment", "ls").out
    assert "CACHE" in listing
    assert [line.split()[-2] for line in listing.splitlines() if "etl.ipynb" in line] == [
        "reuse", "refresh"]


def saved_parameters(query, table="deployments"):
    value = query(f"SELECT parameters FROM {table}")[0]["parameters"]
    return value if isinstance(value, dict) else json.loads(value)


def test_untyped_parameters_given_as_text_are_read_as_papermill_reads_them(cli, tmp_path,
                                                                           query):
    notebook = write_notebook(tmp_path / "nb.ipynb", "a = None\nb = None\nc = None\nd = None\n"
                                                      "e = None\n")
    args = ["-p", "a=None", "-p", "b=False", "-p", "c=3", "-p", "d=0.5", "-p", "e=some text"]
    assert cli("deploy", str(notebook), "--name", "nb", *args).code == 0
    assert saved_parameters(query) == {"a": None, "b": False, "c": 3, "d": 0.5, "e": "some text"}
    assert cli("deployment", "run", "nb", "-p", "a=True", "-p", "c=-2").code == 0
    assert saved_parameters(query, "flow_runs") == {
        "a": True, "b": False, "c": -2, "d": 0.5, "e": "some text"}


def test_python_values_of_untyped_parameters_are_kept_as_given(tmp_path, query):
    notebook = write_notebook(tmp_path / "nb.ipynb", "label = None\n")
    orchestrate_nb.deploy_notebook(notebook, "nb", parameters={"label": "3"})
    assert saved_parameters(query) == {"label": "3"}


def test_unannotated_flow_parameters_given_as_text_are_read_as_papermill_reads_them(
        cli, tmp_path, query):
    flows = tmp_path / "flows.py"
    flows.write_text("from orchestrate_nb import flow\n\n@flow\n"
                     "def etl(limit=None, label: str = 'x'):\n    return limit\n")
    result = cli("deploy", f"{flows}:etl", "--name", "etl", "-p", "limit=3", "-p", "label=3")
    assert result.code == 0, result.err
    assert saved_parameters(query) == {"limit": 3, "label": "3"}
    refused = cli("deploy", f"{flows}:etl", "--name", "etl2", "--kernel", "python3")
    assert (refused.code, refused.err) == (
        1, "Error: --kernel and --cwd are options of notebook deployments\n")


@pytest.mark.parametrize("schedule", [
    ["--cron", "0 0 31 2 *"], ["--cron", "0 0 30 2 *"], ["--interval", "1e308"],
    ["--interval", "3e11"], ["--rrule", "FREQ=DAILY;COUNT=1;BYMONTH=2;BYMONTHDAY=30"],
], ids=["feb-31", "feb-30", "interval-1e308", "interval-3e11", "rrule-feb-30"])
def test_a_schedule_that_never_fires_is_refused_with_one_line(cli, notebook, query, schedule):
    result = cli("deploy", str(notebook), "--name", "never", *schedule)
    assert result.code == 1
    assert result.err.startswith("Error: ") and "never fires" in result.err
    assert result.err.count("\n") == 1
    assert deployments(query) == []
    with pytest.raises(DeploymentError, match="never fires"):
        orchestrate_nb.deploy_notebook(notebook, "never", cron="0 0 31 2 *")
    assert deployments(query) == []


def test_deployment_ls_notes_a_stored_schedule_that_cannot_fire(cli, notebook, save):
    import datetime as dt

    orchestrate_nb.deploy_notebook(notebook, "nightly", cron="0 2 * * *")
    save(dt.datetime.now(dt.timezone.utc), name="impossible", cron="0 0 31 2 *")  # (older)
    listing = cli("deployment", "ls")
    assert listing.code == 0, listing.err
    assert "nightly" in listing.out and "impossible" in listing.out
    assert "never: this schedule cannot fire" in listing.out


def test_deploying_without_a_schedule_says_how_to_start_a_run(cli, notebook):
    result = cli("deploy", str(notebook), "--name", "adhoc")
    assert result.code == 0, result.err
    assert result.out.split(": ", 1)[1].split() == [
        "no", "schedule;", "start", "a", "run", "with", "orchestrate-nb", "deployment", "run",
        "adhoc."]  # not "no schedule (run on demand); next run —."
