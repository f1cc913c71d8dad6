"""Alerts: notify blocks when runs fail, crash, are cancelled or late, or when a deployment
has had no Completed run for a while (``orchestrate-nb alert ...``, or these functions).

>>> from orchestrate_nb.alerts import create_alert
>>> create_alert("nightly-failed", on=["failed", "crashed"], deployment="nightly",
...              notify=["slack-webhook/team"])

Who sends: workers, for runs of deployments (and crashes, late runs, freshness); the
process that ran a flow, for other runs (``local.py``). See ``maintenance.py``.
"""

from __future__ import annotations

from orchestrate_nb.alerts.rules import (
    Alert,
    create_alert,
    delete_alert,
    list_alerts,
    parse_duration,
    test_alert,
)

__all__ = ["Alert", "create_alert", "delete_alert", "list_alerts", "parse_duration",
           "test_alert"]
