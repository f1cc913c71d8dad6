"""Text search ``q`` and the tag filter of the runs list go through indexes (migration 0010:
``flow_run_tags`` and a trigram index of run names, both kept by triggers). Their answers
must be the ones a plain scan gives: checked against the rows themselves, page by page,
for runs written before the upgrade from 0009, after it, renamed, retagged and deleted."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from orchestrate_nb.server import queries
from orchestrate_nb.server.services import OrchestrateService

UTC = dt.timezone.utc
COUNT = queries.INDEX_WALK_THRESHOLD + 700  # "run" matches them all: past the threshold
SPECIAL = ["Nightly ETL: 50% done", "weird_name (copy)", "Straße-ünïcode run", 'say "hi"',
           "RUN-4242-upper"]
QUERIES = ["run-42", "RUN-42", "run", "50%", "_na", "etl", "report", "ab", "e", "4242",
           "Straße", 'y "h', "(copy)", "no-such-thing-here", "ru", "%", "_"]
TAGS = ["common", "nightly", "a", "b", "notebook-session", "missing", "night"]


def _runs(flows: dict[str, int], deployment_id: str, start: int, count: int,
          now: dt.datetime) -> list[dict[str, Any]]:
    rows = []
    for i in range(start, start + count):
        name = SPECIAL[i % len(SPECIAL)] if i % 97 == 0 else f"run-{i}"
        tags: list[str] | None = None
        if i % 10 == 9:
            tags = ["notebook-session"]
        elif i % 7 == 0:
            tags = ["nightly", "a"]
        elif i % 11 == 0:
            tags = ["b", "nightly-ish"]
        if i % 10 != 9 and i % 13 != 0:  # on more runs than the threshold
            tags = [*(tags or []), "common"]
        rows.append({
            "id": str(uuid.UUID(int=i + 1)), "name": name,
            "flow_id": flows["etl-flow" if i % 3 == 0 else "analysis"],
            "deployment_id": deployment_id if i % 5 == 0 else None,
            "created": now - dt.timedelta(seconds=10 * COUNT - i),
            "state_type": "COMPLETED", "state_name": "Completed", "run_count": 1,
            "tags": tags, "parameters": None})
    return rows


def _setup(conn: Any, now: dt.datetime) -> tuple[dict[str, int], str]:
    from orchestrate_nb.store.orm import Deployment, Flow

    flows = {}
    for name in ("etl-flow", "analysis"):
        flows[name] = conn.execute(insert(Flow).values(name=name, created=now)
                                   .returning(Flow.id)).scalar_one()
    deployment_id = "dep-1"
    conn.execute(insert(Deployment).values(
        id=deployment_id, name="daily-report", kind="notebook", entrypoint="/nb/r.ipynb",
        flow_name="analysis", parameters=None, pool="default", schedule_kind="none",
        timezone="UTC", catchup="latest", retries=0, retry_delay_seconds=0.0,
        paused=False, created=now, updated=now))
    return flows, deployment_id


def _expected(conn: Any, q: str | None, tag: str | None, kind: str) -> list[str]:
    """The answer by reading every run and matching in Python (ASCII case folded, as
    SQLite's LIKE does; PostgreSQL's ILIKE agrees on these names)."""
    from orchestrate_nb.store.orm import Deployment, Flow, FlowRun

    rows = conn.execute(select(FlowRun.id, FlowRun.name, FlowRun.tags, FlowRun.created,
                               Flow.name.label("flow"), Deployment.name.label("deployment"))
                        .join(Flow, Flow.id == FlowRun.flow_id)
                        .outerjoin(Deployment, Deployment.id == FlowRun.deployment_id)).all()

    def fold(value: str) -> str:
        return "".join(c.lower() if c.isascii() else c for c in value)

    found = []
    for row in rows:
        tags = row.tags or []
        session = "notebook-session" in tags
        if (kind == "runs" and session) or (kind == "sessions" and not session):
            continue
        if tag is not None and tag not in tags:
            continue
        if q is not None and not any(fold(q) in fold(v) for v in (row.name, row.flow,
                                                                   row.deployment or "")):
            continue
        found.append(row)
    found.sort(key=lambda r: (r.created, r.id), reverse=True)
    return [r.id for r in found]


def _listed(service: OrchestrateService, params: dict[str, list[str]]) -> list[str]:
    ids: list[str] = []
    query = {**params, "limit": ["200"]}
    while True:
        page = service.list_runs(query)
        ids += [run["id"] for run in page["runs"]]
        if page["next"] is None:
            return ids
        query["before"] = [page["next"]]


def _check_all(database: Any, service: OrchestrateService) -> None:
    with database.read() as conn:
        for q in QUERIES:
            for kind in ("runs", "all"):
                expected = _expected(conn, q, None, kind)
                assert _listed(service, {"q": [q], "kind": [kind]}) == expected, (q, kind)
        for tag in TAGS:
            expected = _expected(conn, None, tag, "all")
            assert _listed(service, {"tag": [tag], "kind": ["all"]}) == expected, tag
        expected = _expected(conn, "run-1", "nightly", "runs")
        assert expected  # the combination matches something
        assert _listed(service, {"q": ["run-1"], "tag": ["nightly"]}) == expected


def _change_some(database: Any, now: dt.datetime, flows: dict[str, int],
                 deployment_id: str) -> None:
    """Runs written, renamed, retagged and deleted after the upgrade."""
    from orchestrate_nb.store.orm import FlowRun

    with database.write() as conn:
        conn.execute(insert(FlowRun), _runs(flows, deployment_id, COUNT, 300, now))
        conn.execute(update(FlowRun).where(FlowRun.id == str(uuid.UUID(int=43)))
                     .values(name="renamed-zebra", tags=["nightly"]))
        conn.execute(update(FlowRun).where(FlowRun.id == str(uuid.UUID(int=8)))
                     .values(tags=None))  # was ["nightly", "a"]
        conn.execute(delete(FlowRun).where(FlowRun.id.in_(
            [str(uuid.UUID(int=i)) for i in (15, 422, 4243)])))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[OrchestrateService]:
    service = OrchestrateService(root_dir=tmp_path)
    yield service
    service.close()


def test_search_and_tags_answer_as_a_scan_on_a_new_store(database_url: str,
                                                        service: OrchestrateService) -> None:
    from orchestrate_nb.settings import load_settings
    from orchestrate_nb.store.database import open_database
    from orchestrate_nb.store.orm import FlowRun

    database = open_database(load_settings())
    now = dt.datetime.now(UTC)
    try:
        with database.write() as conn:
            flows, deployment_id = _setup(conn, now)
            conn.execute(insert(FlowRun), _runs(flows, deployment_id, 0, COUNT, now))
        _check_all(database, service)
        _change_some(database, now, flows, deployment_id)
        with database.read() as conn:
            assert _expected(conn, "zebra", None, "runs") == [str(uuid.UUID(int=43))]
        assert [r["name"] for r in service.list_runs({"q": ["zebra"]})["runs"]] == [
            "renamed-zebra"]
        _check_all(database, service)
        if database.dialect == "sqlite":  # VACUUM may renumber rowids: still the same answers
            from orchestrate_nb.store.maintenance import reclaim_space

            reclaim_space(database)
            _check_all(database, service)
    finally:
        database.dispose()


def test_a_store_upgraded_from_0009_with_runs_in_it(database_url: str,
                                                    service: OrchestrateService) -> None:
    from alembic import command

    from orchestrate_nb.settings import load_settings
    from orchestrate_nb.store.database import create_database, open_database
    from orchestrate_nb.store.orm import FlowRun
    from orchestrate_nb.store.schema import alembic_config, current_revision

    settings = load_settings()
    raw = create_database(settings)
    now = dt.datetime.now(UTC)
    try:
        with raw.write() as conn:
            command.upgrade(alembic_config(conn), "0009")
        with raw.write() as conn:
            flows, deployment_id = _setup(conn, now)
            conn.execute(insert(FlowRun), _runs(flows, deployment_id, 0, COUNT, now))
    finally:
        raw.dispose()
    database = open_database(settings)  # upgrades to 0010, backfilling
    try:
        assert current_revision(database) == "0010"
        with database.read() as conn:
            from orchestrate_nb.store.orm import FlowRunTag

            tagged = conn.execute(select(FlowRunTag.flow_run_id)
                                  .where(FlowRunTag.tag == "nightly")).scalars().all()
            assert len(tagged) == len(_expected(conn, None, "nightly", "all")) > 0
        _check_all(database, service)
        _change_some(database, now, flows, deployment_id)
        _check_all(database, service)
    finally:
        database.dispose()
