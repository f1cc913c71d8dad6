"""Values JSON or PostgreSQL's text cannot hold as they are still come back as they were.

A flow parameter of ``inf`` or ``nan`` and a NUL character in a log line or an exception
message are stored in a lossless encoding, identical on SQLite and PostgreSQL, and read
back as the values the flow saw.
"""

from __future__ import annotations

import math

from orchestrate_nb import flow, get_run_logger
from orchestrate_nb.store.repository import open_repository


@flow(name="edgy")
def edgy(low: float, high: float, missing: float, label: str, fail: bool = False) -> str:
    get_run_logger().info("label is %s\x00and more", label)
    if fail:
        raise ValueError("bad\x00byte \ue000 kept")
    return label


def test_inf_nan_and_nul_round_trip_through_the_store(database_url, cli):
    edgy(float("-inf"), float("inf"), float("nan"), "a\x00b")
    edgy(1.0, 2.0, 3.0, "\ue0000 is not a NUL", fail=True, return_state=True)

    with open_repository() as repository:
        failed, completed = repository.list_flow_runs()  # newest first
        logs = [line.message for line in repository.list_logs(completed.id)]
        failed_logs = [line.message for line in repository.list_logs(failed.id)]

    params = completed.parameters
    assert (params["low"], params["high"], params["label"]) == (float("-inf"), float("inf"),
                                                                "a\x00b")
    assert math.isnan(params["missing"])
    assert "label is a\x00b\x00and more" in logs
    assert "label is \ue0000 is not a NUL\x00and more" in failed_logs
    assert failed.parameters["label"] == "\ue0000 is not a NUL"
    assert failed.state_type == "FAILED"
    assert failed.state_message.endswith("ValueError: bad\x00byte \ue000 kept")

    shown = cli("runs", "show", completed.id)
    assert shown.code == 0, shown.err
    assert '"high": Infinity' in shown.out and "NaN" in shown.out
