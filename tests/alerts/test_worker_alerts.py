"""Alerts on deployment runs, sent by workers: a run failing in a notebook cell, a run
whose worker was SIGKILLed (found Crashed by the reaper), a Late run, a deployment with no
success for its freshness window (fake clock); two workers racing send one delivery; a
secret's value appears nowhere."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import time
from pathlib import Path

import pytest
from alert_helpers import slack_alert, texts
from polling import wait_for

from orchestrate_nb.blocks import Secret
from orchestrate_nb.deploy.deployments import deploy_notebook, trigger_deployment
from orchestrate_nb.deploy.worker import Worker
from orchestrate_nb.store import claims

sys.path.insert(0, str(Path(__file__).parents[1] / "deploy"))
from worker_helpers import run_worker_once, start_worker, stop, write_task_notebook  # noqa: E402

pytestmark = pytest.mark.timeout(180)
UTC = dt.timezone.utc
SECRET_VALUE = "tok-9f8e7d6c5b4a"


def test_a_notebook_run_failing_in_a_cell_is_alerted_once(tmp_path, receiver, database,
                                                           query):
    notebook = write_task_notebook(
        tmp_path / "sales.ipynb", "%%task load\nrows = list(range(n))",
        "%%task check\nassert len(rows) > 100, f'only {len(rows)} rows\\nmore detail'")
    deploy_notebook(notebook, name="sales")
    slack_alert(receiver, on=("failed", "crashed"), deployment="sales")
    run_id = trigger_deployment("sales", {"n": 5})
    run_worker_once(completes=False)
    [text] = wait_for(lambda: texts(receiver), "the alert")
    assert "Failed: sales /" in text and f"({run_id})" in text
    assert "(deployment sales)" in text
    assert "Failing task: check" in text and "only 5 rows" in text
    assert '"n": 5' in text
    executed = query("SELECT executed_notebook FROM flow_runs WHERE id = :id", id=run_id)
    assert f"Executed notebook: {executed[0]['executed_notebook']}" in text
    run_worker_once()  # another worker pass: nothing more is sent (the first worker
    assert len(receiver.posts) == 1  # recorded its delivery before it exited)
    assert [(r["status"], r["attempts"]) for r in
            query("SELECT status, attempts FROM alert_deliveries")] == [("sent", 1)]


SLEEPS = "%%task work\nimport time\nopen('started', 'w').close()\ntime.sleep(120)"


def test_a_killed_workers_run_is_alerted_as_crashed_by_the_reaper(tmp_path, receiver,
                                                                   database):
    notebook = write_task_notebook(tmp_path / "slow.ipynb", SLEEPS)
    deploy_notebook(notebook, name="slow")
    slack_alert(receiver, on=("crashed",), deployment="slow")
    run_id = trigger_deployment("slow")
    worker = start_worker()
    try:
        wait_for(lambda: (tmp_path / "started").exists(), "the run to start")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=60)
    run_worker_once()  # its reaper finds the run Crashed; its alert pass sends
    [text] = wait_for(lambda: texts(receiver), "the crash alert")
    assert "Crashed: slow /" in text and run_id in text


def test_a_late_run_is_alerted(tmp_path, receiver, database):
    notebook = write_task_notebook(tmp_path / "hourly.ipynb", "x = 1")
    deployed = deploy_notebook(notebook, name="hourly", cron="0 * * * *")
    slack_alert(receiver, on=("late",), deployment="hourly")
    worker = Worker(database)
    start = deployed.created
    worker.loop(start, claim=False)  # pre-creates the next hour's run
    next_hour = start.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    worker.loop(next_hour + dt.timedelta(minutes=5), claim=False)  # nobody ran it
    [text] = wait_for(lambda: texts(receiver), "the late alert")
    assert "Late: hourly /" in text and "Scheduled for: " in text
    worker.loop(next_hour + dt.timedelta(minutes=6), claim=False)
    assert len(receiver.posts) == 1


def test_freshness_fires_once_per_quiet_spell_on_a_fake_clock(tmp_path, receiver, database):
    notebook = write_task_notebook(tmp_path / "daily.ipynb", "x = 1")
    deployed = deploy_notebook(notebook, name="daily")
    slack_alert(receiver, "stale-daily", on=(), deployment="daily", no_success_for="26h")
    worker = Worker(database)
    t0 = deployed.created
    worker.loop(t0 + dt.timedelta(hours=25), claim=False)
    assert receiver.posts == []
    worker.loop(t0 + dt.timedelta(hours=27), claim=False)
    [text] = wait_for(lambda: texts(receiver), "the freshness alert")
    assert "No successful run of daily for 26 h" in text and "it has never completed" in text
    worker.loop(t0 + dt.timedelta(hours=28), claim=False)
    assert len(receiver.posts) == 1
    run_id = trigger_deployment("daily", now=t0 + dt.timedelta(hours=29))
    with database.write() as conn:
        claims.set_state(conn, run_id, "COMPLETED", "Completed", None,
                         t0 + dt.timedelta(hours=30), only_from=("SCHEDULED",))
    worker.loop(t0 + dt.timedelta(hours=40), claim=False)
    assert len(receiver.posts) == 1  # it succeeded 10 h ago
    worker.loop(t0 + dt.timedelta(hours=57), claim=False)
    wait_for(lambda: len(receiver.posts) == 2, "the next quiet spell's alert")
    assert "its last Completed run ended" in texts(receiver)[1]


def test_two_workers_racing_send_one_delivery(tmp_path, receiver, database, query):
    notebook = write_task_notebook(tmp_path / "race.ipynb", "x = 1")
    deploy_notebook(notebook, name="race")
    slack_alert(receiver, deployment="race")
    run_id = trigger_deployment("race")
    with database.write() as conn:
        claims.set_state(conn, run_id, "FAILED", "Failed", "boom", dt.datetime.now(UTC),
                         only_from=("SCHEDULED",))
    workers = [start_worker("--pool", "elsewhere") for _ in range(2)]
    try:
        wait_for(lambda: texts(receiver), "the alert")
        deadline = time.monotonic() + 3  # several more passes of both workers
        while time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for worker in workers:
            stop(worker)
    assert len(receiver.posts) == 1
    assert len(query("SELECT id FROM alert_deliveries")) == 1


def test_a_secrets_value_is_found_nowhere(tmp_path, receiver, database, database_url, query,
                                          cli, orchestrate_home):
    Secret(value=SECRET_VALUE).save("api-token")
    notebook = write_task_notebook(
        tmp_path / "uses_secret.ipynb",
        "%%task call_api\nfrom orchestrate_nb.blocks import Secret\n"
        "from orchestrate_nb import get_run_logger\n"
        "token = Secret.load('api-token').get()\n"
        "get_run_logger().info('calling the API with %s', token)\n"
        "assert token.startswith('nope'), 'the API refused the call'")
    deploy_notebook(notebook, name="uses-secret")
    slack_alert(receiver, deployment="uses-secret")
    run_id = trigger_deployment("uses-secret")
    run_worker_once(completes=False)
    wait_for(lambda: texts(receiver), "the alert")
    logs = [r["message"] for r in query("SELECT message FROM logs")]
    assert any("calling the API with **********" in m for m in logs)
    assert SECRET_VALUE not in json.dumps(query("SELECT * FROM logs"), default=str)
    assert SECRET_VALUE not in json.dumps(query("SELECT * FROM flow_runs"), default=str)
    assert SECRET_VALUE not in json.dumps(query("SELECT * FROM task_runs"), default=str)
    assert SECRET_VALUE not in json.dumps(query("SELECT * FROM blocks"), default=str)
    for output in (cli("runs", "show", run_id), cli("runs", "logs", run_id),
                   cli("block", "show", "api-token"), cli("alert", "ls")):
        assert SECRET_VALUE not in output.out + output.err
    assert not [p for p in orchestrate_home.rglob("*") if p.is_file()
                and SECRET_VALUE.encode() in p.read_bytes()]
    assert SECRET_VALUE not in "".join(texts(receiver))


def test_a_paused_deployment_is_not_stale(tmp_path, receiver, database):
    notebook = write_task_notebook(tmp_path / "paused.ipynb", "x = 1")
    deployed = deploy_notebook(notebook, name="paused-one", paused=True)
    slack_alert(receiver, "stale", on=(), no_success_for="1h")
    Worker(database).loop(deployed.created + dt.timedelta(hours=5), claim=False)
    assert receiver.posts == []
