"""Print the id of the most recent flow run (used by `make demo`)."""

from orchestrate_nb.store.repository import open_repository

if __name__ == "__main__":
    with open_repository() as repository:
        runs = repository.list_flow_runs(limit=1)
    print(runs[0].id if runs else "")
