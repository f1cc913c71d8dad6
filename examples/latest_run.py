"""Print the id of the most recent finished flow run, optionally of one flow (used by
`make demo`): `python examples/latest_run.py [FLOW_NAME]`."""

import sys

from orchestrate_nb.store.repository import open_repository

FINISHED = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")

if __name__ == "__main__":
    flow_name = sys.argv[1] if len(sys.argv) > 1 else None
    with open_repository() as repository:
        runs = repository.list_flow_runs(state_types=FINISHED, flow_name=flow_name, limit=1)
    print(runs[0].id if runs else "")
