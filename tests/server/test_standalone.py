"""``orchestrate-nb server start`` as a real process (uvicorn on 127.0.0.1): tokens, cookies,
refusals, webhooks run by a real worker, and ``/metrics`` parsed with prometheus_client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_helpers import WAIT_SECONDS, worker_command, write_notebook

TOKEN = "full-token-for-the-tests-0123456789"
READ_ONLY = "read-only-token-for-the-tests-987"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrate_nb.cli.app", *args],
                          capture_output=True, text=True, timeout=WAIT_SECONDS, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, process: subprocess.Popen[str], url: str, printed: str) -> None:
        self.process = process
        self.url = url
        self.printed = printed

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"token {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_server(root: Path, *args: str) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrate_nb.cli.app", "server", "start", "--port",
         str(port), "--root-dir", str(root), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    printed = ""
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"the server exited: {printed}")
        printed += line
        if "webhooks" in line:
            break
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/orchestrate/api/meta", timeout=2)
            return Server(process, url, printed)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not answer: {printed}")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "root"
    root.mkdir()
    started = start_server(root, "--token", TOKEN, "--read-only-token", READ_ONLY)
    yield started
    started.process.terminate()
    started.process.wait(30)


def test_tokens_cookie_and_read_only(server: Server) -> None:
    anonymous = server.client(None)
    for method, path in (("GET", "/orchestrate/api/runs"), ("POST", "/orchestrate/api/deployments"),
                         ("GET", "/metrics"), ("GET", "/orchestrate/api/runs/x/notebook.html")):
        response = anonymous.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["message"].startswith("a token is required")
    assert anonymous.get("/orchestrate/").status_code == 401
    wrong = server.client("not-the-token-at-all")
    assert wrong.get("/orchestrate/api/runs").status_code == 401
    assert wrong.get("/orchestrate/api/runs").json()["message"].startswith("the token is wrong")

    full = server.client()
    assert full.get("/orchestrate/api/runs").json()["runs"] == []
    reader = server.client(READ_ONLY)
    assert reader.get("/orchestrate/api/status").status_code == 200
    refused = reader.post("/orchestrate/api/deployments/x/pause")
    assert refused.status_code == 403
    assert refused.json() == {"message": "this token is read-only: it cannot change anything"}
    bearer = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {READ_ONLY}"})
    assert bearer.status_code == 200 and "orchestrate_nb_store_up 1.0" in bearer.text

    # a browser opening the printed URL: the token moves into a cookie and out of the URL
    browser = httpx.Client(base_url=server.url, timeout=30)
    opened = browser.get(f"/orchestrate/?token={TOKEN}")
    assert opened.status_code == 302 and opened.headers["location"] == "/orchestrate/"
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert browser.get("/orchestrate/api/runs").status_code == 200  # the cookie
    foreign = browser.post("/orchestrate/api/deployments/x/pause",
                           headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "Origin" in foreign.json()["message"]
    same = browser.post("/orchestrate/api/deployments/x/pause",
                        headers={"Origin": server.url})
    assert same.status_code == 404  # past authentication: there is no deployment x


def test_another_address_without_a_token_is_refused_in_one_line(database_url: str,
                                                                  tmp_path: Path) -> None:
    done = cli("server", "start", "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: refusing to listen on 0.0.0.0 without a token you give: pass --token (or set "
        "ORCHESTRATE_NB_SERVER_TOKEN), or use --host 127.0.0.1"]
    short = cli("server", "start", "--token", "short")
    assert short.returncode == 1 and "at least 16 characters" in short.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = cli("server", "start", "--port", str(taken.getsockname()[1]))
    assert busy.returncode == 1 and busy.stderr.startswith("Error: cannot listen on 127.0.0.1")
    assert "Traceback" not in busy.stderr + short.stderr + done.stderr


def test_a_made_token_is_printed_and_works(database_url: str, tmp_path: Path) -> None:
    started = start_server(tmp_path)
    try:
        line = next(line for line in started.printed.splitlines() if "?token=" in line)
        token = line.split("?token=")[1].strip()
        assert len(token) >= 32
        assert started.client(token).get("/orchestrate/api/status").json()["running"] == 0
    finally:
        started.process.terminate()
        started.process.wait(30)


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(families: dict[str, Any], name: str, **labels: str) -> float | None:
    for family in families.values():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def test_a_webhook_creates_one_run_a_worker_executes_and_metrics_count_it(
        server: Server, tmp_path: Path, orchestrate_home: Path) -> None:
    notebook = write_notebook(tmp_path / "root" / "hook.ipynb")
    deployed = cli("deploy", str(notebook), "--name", "on-push")
    assert deployed.returncode == 0, deployed.stderr
    made = cli("deployment", "webhook", "on-push", "--map", "n={{body.count}}",
               "--map", "day={{body.repository.name}}-{{headers.x-github-event}}",
               "--base-url", server.url)
    assert made.returncode == 0, made.stderr
    url = made.stdout.strip()
    assert url.startswith(f"{server.url}/orchestrate/hooks/") and len(url.split("/")[-1]) >= 40

    runs = server.client()

    def run_count() -> int:
        return len(runs.get("/orchestrate/api/runs", params={"deployment": "on-push"})
                   .json()["runs"])

    # bad bodies: one line each, nothing created
    for body, headers, expected in (
            (b"{not json", {}, "the body is not valid JSON"),
            (b"[1, 2]", {}, "the body must be a JSON object"),
            (b'{"count": 7}', {}, "the body has no repository.name"),
            (b'{"count": "many", "repository": {"name": "r"}}', {"X-GitHub-Event": "push"},
             "parameter 'n' expects int, got 'many'")):
        answer = httpx.post(url, content=body, headers=headers)
        assert answer.status_code == 400, (body, answer.text)
        assert expected in answer.json()["message"] and "\n" not in answer.json()["message"]
    assert run_count() == 0
    assert httpx.post(f"{server.url}/orchestrate/hooks/not-a-secret",
                      json={}).status_code == 404

    body = {"count": 7, "repository": {"name": "shop"}}
    headers = {"X-GitHub-Delivery": "delivery-1", "X-GitHub-Event": "push"}
    first = httpx.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    run_id = first.json()["run_id"]
    again = httpx.post(url, json=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == {"run_id": run_id, "replayed": True, "delivery": "delivery-1"}
    assert run_count() == 1

    detail = runs.get(f"/orchestrate/api/runs/{run_id}").json()["run"]
    assert detail["parameters"] == {"n": 7, "day": "shop-push"}
    assert detail["state_type"] == "SCHEDULED"

    worker = subprocess.run(worker_command("start", "--run-once"), capture_output=True,
                            text=True, timeout=WAIT_SECONDS, stdin=subprocess.DEVNULL)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    finished = runs.get(f"/orchestrate/api/runs/{run_id}").json()["run"]
    assert finished["state_type"] == "COMPLETED", finished
    logs = runs.get(f"/orchestrate/api/runs/{run_id}/logs").json()["logs"]
    assert any("n is 7" in line["message"] for line in logs)
    html = runs.get(f"/orchestrate/api/runs/{run_id}/notebook.html")
    assert html.status_code == 200 and "n is 7" in html.text
    assert "script-src" not in html.headers["content-security-policy"]  # default-src 'none'
    assert "<script" not in html.text.split("</head>")[-1].lower()

    # the replay still creates nothing after the run finished
    assert httpx.post(url, json=body, headers=headers).json()["replayed"] is True
    assert run_count() == 1

    families = _families(runs.get("/metrics").text)
    assert _value(families, "orchestrate_nb_flow_runs", deployment="on-push",
                  state="COMPLETED") == 1
    assert _value(families, "orchestrate_nb_flow_run_duration_seconds_count",
                  deployment="on-push") == 1
    assert _value(families, "orchestrate_nb_flow_run_duration_seconds_bucket",
                  deployment="on-push", le="+Inf") == 1
    assert _value(families, "orchestrate_nb_workers", pool="default", alive="false") == 1
    assert _value(families, "orchestrate_nb_store_up") == 1

    revoked = cli("deployment", "webhook", "on-push", "--revoke", "all")
    assert revoked.returncode == 0 and "Revoked 1 webhook(s)" in revoked.stdout
    assert httpx.post(url, json=body, headers={"X-GitHub-Delivery": "d2"}).status_code == 404
    assert run_count() == 1


def test_metrics_match_the_store(server: Server, record: Any) -> None:
    import datetime as dt

    from orchestrate_nb.core.events import FlowRunCreated, StateChanged

    now = dt.datetime.now(dt.timezone.utc)
    events: list[Any] = []
    for index, final in enumerate(["COMPLETED", "COMPLETED", "FAILED", "RUNNING"]):
        run_id = f"run-{index}"
        events.append(FlowRunCreated(run_id, "etl", f"etl-{index}", {}, (), None, None,
                                     now - dt.timedelta(seconds=30), "PENDING", "Pending"))
        events.append(StateChanged("flow", run_id, run_id, "RUNNING", "Running", None,
                                   now - dt.timedelta(seconds=20)))
        if final != "RUNNING":
            events.append(StateChanged("flow", run_id, run_id, final, final.title(), None,
                                       now - dt.timedelta(seconds=20 - 3 * index)))
    record(events)
    families = _families(server.client(READ_ONLY).get("/metrics").text)
    assert _value(families, "orchestrate_nb_flow_runs", deployment="", state="COMPLETED") == 2
    assert _value(families, "orchestrate_nb_flow_runs", deployment="", state="FAILED") == 1
    assert _value(families, "orchestrate_nb_flow_runs", deployment="", state="RUNNING") == 1
    # durations 0 s, 3 s and 6 s: two within 5 s, all three within 15 s
    assert _value(families, "orchestrate_nb_flow_run_duration_seconds_bucket",
                  deployment="", le="1.0") == 1
    assert _value(families, "orchestrate_nb_flow_run_duration_seconds_bucket",
                  deployment="", le="5.0") == 2
    assert _value(families, "orchestrate_nb_flow_run_duration_seconds_bucket",
                  deployment="", le="15.0") == 3
    total = _value(families, "orchestrate_nb_flow_run_duration_seconds_sum", deployment="")
    assert total is not None and abs(total - 9.0) < 0.01
    assert json.loads(server.client().get("/orchestrate/api/status").content)["running"] == 1
    assert os.environ.get("ORCHESTRATE_NB_SERVER_TOKEN") is None


def test_the_listening_socket_turns_nagle_off() -> None:
    """asyncio sets TCP_NODELAY only on accepted sockets whose proto is TCP: a socket made
    with proto 0 left every answer waiting ~40 ms for the client's delayed ACK."""
    from orchestrate_nb.cli.server import _bind

    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        with socket.create_connection(sock.getsockname()):
            accepted, _ = sock.accept()
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
