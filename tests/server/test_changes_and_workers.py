"""The change watcher, the workers view, and a store that cannot be reached."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import pytest
from server_helpers import eventually, start_worker, worker_command

from orchestrate_nb.server.app import CHANGED_SCHEMA_ID

FLOW_SCRIPT = """
from orchestrate_nb import flow, task

@task
def double(x):
    return 2 * x

@flow
def elsewhere():
    return double(21)

elsewhere()
"""


async def test_a_flow_run_in_another_process_moves_the_cursor_and_emits_an_event(
        api: Any, jp_serverapp: Any) -> None:
    events: list[dict[str, Any]] = []

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        events.append(data)

    jp_serverapp.event_logger.add_listener(schema_id=CHANGED_SCHEMA_ID, listener=listener)
    await jp_serverapp.extension_manager.start_all_extensions()  # what the server's start does
    status, before = await api("GET", "changes", params={"cursor": -1})
    assert status == 200 and before["changed"] is True
    cursor = before["cursor"]
    await asyncio.sleep(0.5)  # the watcher's first poll has been emitted
    events.clear()

    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", FLOW_SCRIPT],
                                   capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    async def moved() -> Any:
        status, body = await api("GET", "changes", params={"cursor": cursor})
        return body if body["changed"] else None

    after = await eventually(moved, timeout=30)
    assert after["cursor"] != cursor
    await eventually(lambda: asyncio.sleep(0, events), timeout=10)
    assert all(isinstance(event["cursor"], int) for event in events)
    assert events[-1]["cursor"] != cursor
    status, runs = await api("GET", "runs", params={"flow": "elsewhere"})
    assert [run["state_type"] for run in runs["runs"]] == ["COMPLETED"]
    assert runs["runs"][0]["task_runs"] == {"COMPLETED": 1}
    status, same = await api("GET", "changes", params={"cursor": after["cursor"]})
    assert same == {"cursor": after["cursor"], "changed": False} or same["changed"] is True


async def test_workers_alive_then_stopped(api: Any) -> None:
    worker = start_worker("--pool", "api-test")
    try:
        async def registered() -> Any:
            status, body = await api("GET", "workers")
            return [w for w in body["workers"] if w["pid"] == worker.pid]

        found = (await eventually(registered, timeout=60))[0]
        assert found["alive"] is True and found["pool"] == "api-test"
        assert found["id"].startswith(f"{found['host']}:{worker.pid}:")
        assert found["stopped"] is None and found["runs"] == []
        listed = await asyncio.to_thread(
            subprocess.run, worker_command("ls", "--alive"), capture_output=True, text=True,
            timeout=120, env={**os.environ, "COLUMNS": "200"})
        assert listed.returncode == 0, listed.stderr
        assert found["id"] in listed.stdout and "api-test" in listed.stdout
        assert "yes" in listed.stdout
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    status, body = await api("GET", "workers")
    mine = [w for w in body["workers"] if w["pid"] == worker.pid][0]
    assert mine["alive"] is False and mine["stopped"] is not None
    listed = await asyncio.to_thread(
        subprocess.run, worker_command("ls"), capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "200"})
    assert "stopped" in listed.stdout and mine["id"] in listed.stdout
    alive_only = await asyncio.to_thread(
        subprocess.run, worker_command("ls", "--alive"), capture_output=True, text=True,
        timeout=120)
    assert alive_only.stdout.strip() == "No workers running."


async def test_a_killed_worker_is_not_alive(api: Any) -> None:
    worker = start_worker()
    try:
        async def registered() -> Any:
            status, body = await api("GET", "workers")
            return [w for w in body["workers"] if w["pid"] == worker.pid]

        await eventually(registered, timeout=60)
    finally:
        worker.kill()
        worker.wait()
    status, body = await api("GET", "workers")
    mine = [w for w in body["workers"] if w["pid"] == worker.pid][0]
    assert mine["alive"] is False and mine["stopped"] is None


@pytest.fixture
def jp_server_config(database_url: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    config: dict[str, Any] = {
        "ServerApp": {"jpserver_extensions": {"orchestrate_nb.server": True},
                      "allow_unauthenticated_access": False},
        "OrchestrateApp": {"change_poll_seconds": 0.2}}
    if "unreachable" in request.node.name:
        config["OrchestrateApp"]["database_url"] = (
            "postgresql+psycopg://me:s3cret@127.0.0.1:9/runs")
    return config


async def test_an_unreachable_store_is_503_with_the_url_masked(api: Any) -> None:
    for path in ("runs", "status", "workers", "deployments"):
        status, body = await api("GET", path)
        assert status == 503, (path, body)
        assert body["message"].startswith(
            "run store unreachable at postgresql+psycopg://me:***@127.0.0.1:9/runs")
        assert "s3cret" not in body["message"] and "\n" not in body["message"]
    status, body = await api("GET", "meta")
    assert status == 200 and "s3cret" not in str(body)


async def test_a_worker_holds_its_running_run_and_a_cancel_stops_it(api: Any,
                                                                    jp_root_dir: Any) -> None:
    from server_helpers import write_notebook

    write_notebook(jp_root_dir / "slow.ipynb", body="import time\ntime.sleep(120)")
    status, body = await api("POST", "deployments", {"path": "slow.ipynb", "name": "slow"})
    assert status == 201, body
    status, body = await api("POST", "deployments/slow/run", {})
    run_id = body["run"]["id"]
    worker = start_worker()
    try:
        async def holding() -> Any:
            status, body = await api("GET", "workers")
            mine = [w for w in body["workers"] if w["pid"] == worker.pid]
            return mine if mine and mine[0]["runs"] == [run_id] else None

        await eventually(holding, timeout=90)
        status, body = await api("GET", f"runs/{run_id}")
        assert body["run"]["state_type"] in ("PENDING", "RUNNING")
        status, body = await api("POST", f"runs/{run_id}/cancel")
        assert status == 200 and body["run"]["state_type"] == "CANCELLING"

        async def cancelled() -> Any:
            status, body = await api("GET", f"runs/{run_id}")
            return body["run"]["state_type"] == "CANCELLED"

        await eventually(cancelled, timeout=60)
        status, body = await api("GET", "workers")
        assert [w["runs"] for w in body["workers"] if w["pid"] == worker.pid] == [[]]
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(worker.wait, 60)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
