"""Alerts on runs outside deployments, sent by the process that ran the flow: once, with
what to look at, never holding the flow up, retried when the receiver is down."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alert_helpers import slack_alert, texts
from polling import wait_for

from orchestrate_nb import flow, tags, task
from orchestrate_nb.alerts.local import wait_for_local_alerts
from orchestrate_nb.alerts.maintenance import AlertMaintenance
from orchestrate_nb.store.handles import shared_database

pytestmark = pytest.mark.timeout(120)


@task
def load_rows(n: int) -> int:
    raise ValueError(f"row {n} is malformed\nsecond line of detail")


@flow
def nightly_etl(n: int = 7, api_key: str = "k-123456789") -> int:
    return load_rows(n)


@flow
def quiet_flow() -> int:
    return 1


def alert_logs(query: Any) -> list[str]:
    return [r["message"] for r in query("SELECT message FROM logs WHERE logger = "
                                        "'orchestrate_nb.alerts' ORDER BY id")]


def run_failing(**parameters: object) -> None:
    with pytest.raises(ValueError):
        nightly_etl(**parameters)


def test_a_failed_flow_is_alerted_once_with_what_to_look_at(receiver, database_url, query,
                                                           monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_NB_BASE_URL", "http://127.0.0.1:8888/lab")
    slack_alert(receiver)
    run_failing(n=7)
    [text] = wait_for(lambda: texts(receiver), "the alert")
    run = query("SELECT id, name FROM flow_runs")[0]
    assert f"Failed: nightly-etl / {run['name']}" in text
    assert f"Run: {run['name']} ({run['id']})" in text
    assert "Failing task: load_rows-0" in text and "row 7 is malformed" in text
    assert "second line of detail" not in text  # the first line only
    assert '"n": 7' in text and "k-123456789" not in text  # secret-looking name masked
    assert "Duration: " in text
    assert f"Open: http://127.0.0.1:8888/lab?orchestrate-run={run['id']}" in text
    # a worker's pass over the same run sends nothing more
    AlertMaintenance(shared_database()).run(dt.datetime.now(dt.timezone.utc))
    assert len(receiver.posts) == 1
    logs = wait_for(lambda: alert_logs(query), "the outcome in the run's logs")
    assert logs == [f"alert sent to slack-webhook/team: [orchestrate-nb] Failed: "
                    f"nightly-etl / {run['name']}"]


def test_completed_runs_and_runs_out_of_scope_send_nothing(receiver, database_url):
    slack_alert(receiver, "etl-only", flow="some-other-flow")
    slack_alert(receiver, "tagged", tag="critical")
    quiet_flow()
    run_failing()
    assert wait_for_local_alerts(30)
    assert receiver.posts == []
    with tags("critical"):
        run_failing()
    wait_for(lambda: texts(receiver), "the tagged run's alert")
    assert wait_for_local_alerts(30)
    assert len(receiver.posts) == 1


def test_the_flow_never_waits_for_the_receiver(receiver, database_url):
    slack_alert(receiver)
    receiver.release.clear()  # the receiver holds its answer
    run_failing()
    assert receiver.posts == []  # the flow returned while the alert was still on its way
    receiver.release.set()
    wait_for(lambda: texts(receiver), "the alert")


def test_a_receiver_down_for_two_attempts_gets_it_on_the_third(receiver, database_url, query,
                                                              cli):
    receiver.fail_first = 2
    slack_alert(receiver)
    run_failing()
    wait_for(lambda: texts(receiver), "the third attempt", timeout=60)
    logs = wait_for(lambda: (lines := alert_logs(query)) and len(lines) == 3 and lines,
                    "the three outcomes in the run's logs")  # (recorded after the receipt)
    [delivery] = query("SELECT status, attempts FROM alert_deliveries")
    assert (delivery["status"], delivery["attempts"]) == ("sent", 3)
    assert [line.split(":")[0] for line in logs] == [
        "alert to slack-webhook/team failed (attempt 1), retrying in 1 s",
        "alert to slack-webhook/team failed (attempt 2), retrying in 2 s",
        "alert sent to slack-webhook/team"]
    listed = cli("alert", "ls")
    assert "sent" in listed.out and "3 attempt(s)" in listed.out


HANGS = """
import time
from orchestrate_nb import flow

@flow(name="hangs")
def hangs() -> None:
    print("started", flush=True)
    time.sleep(120)

hangs()
"""


def test_a_local_run_whose_process_died_is_alerted_by_the_process_that_finds_it(
        receiver, database_url, query):
    import os
    import subprocess
    import sys

    slack_alert(receiver, on=("crashed",))
    child = subprocess.Popen([sys.executable, "-c", HANGS], stdout=subprocess.PIPE,
                             env=os.environ.copy())
    try:
        assert child.stdout is not None and b"started" in child.stdout.readline()
        wait_for(lambda: query("SELECT id FROM flow_runs WHERE state_type = 'RUNNING'"),
                 "the run to be recorded")
    finally:
        child.kill()
        child.wait()
    quiet_flow()  # this process opens the store: its crash recovery finds the dead run
    [text] = wait_for(lambda: texts(receiver), "the crash alert")
    assert "Crashed: hangs /" in text and "exited without finishing" in text
