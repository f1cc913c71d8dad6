"""The Binder demo's data (run by postBuild): the sales report notebook deployed on a
weekday schedule, one run of it queued for the worker that `start` launches, and the history
of a Python flow. Safe to run again: an existing deployment is replaced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orchestrate_nb import deploy_notebook

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    deploy_notebook(str(REPO / "notebooks" / "reports" / "sales_report.ipynb"),
                    name="sales-report", cron="0 7 * * 1-5", timezone="UTC",
                    parameters={"region": "west"})
    subprocess.run(["orchestrate-nb", "deployment", "run", "sales-report", "-p", "days=10"],
                   check=True)
    subprocess.run([sys.executable, str(REPO / "examples" / "etl_flow.py")], check=True,
                   cwd=REPO)
    print("seeded: deployment sales-report (one run queued) and an etl flow run")


if __name__ == "__main__":
    main()
