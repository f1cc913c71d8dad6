"""The service layer on its own (no web server), on SQLite and PostgreSQL: the runs list
over more runs than the index heuristics' threshold, pages in order without gaps."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from orchestrate_nb.server import queries
from orchestrate_nb.server.services import BadRequest, OrchestrateService

UTC = dt.timezone.utc
COUNT = 2 * queries.INDEX_WALK_THRESHOLD + 500  # half of them FAILED: past the threshold


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Any:
    from sqlalchemy import insert

    from orchestrate_nb.settings import load_settings
    from orchestrate_nb.store.database import open_database
    from orchestrate_nb.store.orm import Flow, FlowRun

    database = open_database(load_settings())
    now = dt.datetime.now(UTC)
    with database.write() as conn:
        flow_id = conn.execute(insert(Flow).values(name="etl", created=now)
                               .returning(Flow.id)).scalar_one()
        conn.execute(insert(FlowRun), [{
            "id": str(uuid.uuid4()), "flow_id": flow_id, "name": f"run-{i}",
            "created": now - dt.timedelta(seconds=COUNT - i),
            "state_type": "FAILED" if i % 2 else "COMPLETED",
            "state_name": "Failed" if i % 2 else "Completed", "run_count": 1,
            "tags": None, "parameters": None} for i in range(COUNT)])
    database.dispose()
    service = OrchestrateService(root_dir=tmp_path)
    yield service
    service.close()


def test_a_common_state_pages_newest_first_without_gaps(service: Any) -> None:
    names: list[str] = []
    query: dict[str, list[str]] = {"state": ["FAILED"], "limit": ["500"]}
    while True:
        page = service.list_runs(query)
        names += [run["name"] for run in page["runs"]]
        if page["next"] is None:
            break
        query["before"] = [page["next"]]
    expected = [f"run-{i}" for i in range(COUNT - 1, -1, -1) if i % 2]
    assert names == expected


def test_flow_filter_and_errors(service: Any) -> None:
    page = service.list_runs({"flow": ["etl"], "limit": ["3"]})
    assert [run["name"] for run in page["runs"]] == [f"run-{COUNT - 1}", f"run-{COUNT - 2}",
                                                    f"run-{COUNT - 3}"]
    assert service.list_runs({"flow": ["other"]})["runs"] == []
    with pytest.raises(BadRequest, match="limit must be between 1 and 500, got 501"):
        service.list_runs({"limit": ["501"]})
    status = service.status()
    assert status["running"] == 0 and status["awaiting_approval"] == 0
