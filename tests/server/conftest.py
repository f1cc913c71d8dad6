"""A real Jupyter server with the orchestrate_nb extension and authentication on.

``jp_fetch`` (pytest-jupyter) sends the server's token; ``api`` wraps it for our routes and
returns (status, JSON) without raising on an error status; ``anonymous`` sends no token.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 (the jp_* fixtures and their hooks)
from tornado.httpclient import HTTPClientError

from orchestrate_nb.engine import reporting
from orchestrate_nb.settings import load_settings
from orchestrate_nb.store.reporter import StoreReporter, create_store_reporter

Api = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def jp_server_config(database_url: str) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"orchestrate_nb.server": True},
                          "allow_unauthenticated_access": False},
            "OrchestrateApp": {"change_poll_seconds": 0.2}}


@pytest.fixture
def api(jp_fetch: Any) -> Api:
    async def call(method: str, path: str, body: Any = None, params: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "params": params, "headers": headers}
        if body is not None or method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = json.dumps(body if body is not None else {})
        try:
            response = await jp_fetch("orchestrate", "api", *path.split("/"), **kwargs)
        except HTTPClientError as exc:
            assert exc.response is not None
            return exc.code, json.loads(exc.response.body or b"null")
        return response.code, json.loads(response.body or b"null")

    return call


@pytest.fixture
def anonymous(jp_fetch: Any) -> Api:
    """Requests without the token (an empty Authorization header replaces it)."""
    async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "headers": {"Authorization": ""}}
        if method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = json.dumps(body or {})
        try:
            response = await jp_fetch("orchestrate", "api", *path.split("/"), **kwargs)
        except HTTPClientError as exc:
            return exc.code, exc.response.body if exc.response is not None else None
        return response.code, response.body

    return call


@pytest.fixture
def reporter(database_url: str) -> Iterator[StoreReporter]:
    reporter = create_store_reporter(load_settings())
    yield reporter
    reporter.close()


@pytest.fixture
def record(reporter: StoreReporter) -> Callable[[list[Any]], None]:
    """Write RunEvents to the store and wait until they are in."""
    def write(events: list[Any]) -> None:
        for event in events:
            reporter.emit(event)
        reporter.flush(30)

    return write


@pytest.fixture
def root_dir(jp_root_dir: Path) -> Path:
    return jp_root_dir


@pytest.fixture(autouse=True)
def _close_store_after() -> Iterator[None]:
    yield
    reporting.flush_and_close_store()
