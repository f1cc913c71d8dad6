"""Real receivers on 127.0.0.1 for notification tests: an HTTP server that records what
webhooks post (and can refuse the first N), and an SMTP server (aiosmtpd); plus the
fixtures the blocks, artifacts, alerts and variables tests share."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Post:
    path: str
    method: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Records every request; answers 500 to the first ``fail_first`` ones; holds each
    answer until ``release`` is set."""

    server: ThreadingHTTPServer
    posts: list[Post] = field(default_factory=list)
    refused: int = 0
    fail_first: int = 0
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    state: dict[str, WebhookReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            me = state["receiver"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            me.release.wait(30)
            if me.refused < me.fail_first:
                me.refused += 1
                self.send_response(500)
            else:
                me.posts.append(Post(self.path, self.command, dict(self.headers), body))
                self.send_response(200)
            self.end_headers()

        do_POST = do_PUT = do_GET = _answer  # noqa: N815

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = state["receiver"] = WebhookReceiver(server)
    receiver.release.set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()


@dataclass
class SmtpReceiver:
    port: int
    messages: list[Any] = field(default_factory=list)


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    received = SmtpReceiver(port)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.messages.append(envelope)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield received
    controller.stop()


@pytest.fixture(autouse=True)
def private_secret_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test's secret key file lives in its own config folder (never ~/.config)."""
    from orchestrate_nb.store.handles import forget_databases

    path = tmp_path / "config" / "orchestrate-nb" / "secret.key"
    monkeypatch.setenv("ORCHESTRATE_NB_SECRET_KEY_FILE", str(path))
    monkeypatch.delenv("ORCHESTRATE_NB_SECRET_KEY", raising=False)
    monkeypatch.delenv("ORCHESTRATE_NB_BASE_URL", raising=False)
    forget_databases()
    yield path
    from orchestrate_nb.alerts.local import wait_for_local_alerts

    wait_for_local_alerts(15)
    forget_databases()
