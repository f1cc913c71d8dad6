"""The API under test, through both adapters.

``api`` and ``anonymous`` run each test twice (``adapter``): against a real Jupyter server with
the orchestrate_nb extension and authentication on (``jp_fetch`` of pytest-jupyter sends its
token), and against the standalone Starlette app (``asgi.create_app``, with a token, over
httpx's ASGI transport). A test that needs the Jupyter server itself (``jp_serverapp``) runs
against it only. ``api`` returns (status, JSON) without raising on an error status;
``anonymous`` sends no token.
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


STANDALONE_TOKEN = "standalone-test-token-0123456789"
READ_ONLY_TOKEN = "standalone-read-only-token-0123"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "adapter" in metafunc.fixturenames:
        jupyter_only = "jp_serverapp" in metafunc.fixturenames
        metafunc.parametrize("adapter", ["jupyter"] if jupyter_only
                             else ["jupyter", "standalone"])


@pytest.fixture
def standalone(request: pytest.FixtureRequest, jp_root_dir: Path, database_url: str) -> Iterator[Any]:
    """An httpx client of the standalone app (the same store, root and settings)."""
    import httpx

    from orchestrate_nb.server.asgi import Tokens, create_app
    from orchestrate_nb.server.services import OrchestrateService

    config = request.getfixturevalue("jp_server_config").get("OrchestrateApp", {})
    service = OrchestrateService(database_url=config.get("database_url") or None,
                                 root_dir=jp_root_dir)
    app = create_app(service, Tokens(STANDALONE_TOKEN, READ_ONLY_TOKEN), api_threads=4)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                               base_url="http://127.0.0.1:4200")
    yield client
    service.close()


async def _standalone_call(client: Any, method: str, path: str, body: Any, params: Any,
                           headers: dict[str, str]) -> tuple[int, Any]:
    content = None
    if body is not None or method in ("POST", "PUT", "PATCH"):
        content = json.dumps(body if body is not None else {})
    response = await client.request(method, f"/orchestrate/api/{path}", content=content,
                                    params=params, headers=headers)
    return response.status_code, response.content


@pytest.fixture
def api(adapter: str, request: pytest.FixtureRequest, database_url: str) -> Api:
    if adapter == "standalone":
        client = request.getfixturevalue("standalone")

        async def standalone_call(method: str, path: str, body: Any = None, params: Any = None,
                                  headers: dict[str, str] | None = None) -> tuple[int, Any]:
            status, raw = await _standalone_call(
                client, method, path, body, params,
                {"Authorization": f"token {STANDALONE_TOKEN}", **(headers or {})})
            return status, json.loads(raw or b"null")

        return standalone_call
    jp_fetch = request.getfixturevalue("jp_fetch")

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
def anonymous(adapter: str, request: pytest.FixtureRequest, database_url: str) -> Api:
    """Requests without the token (an empty Authorization header replaces it)."""
    if adapter == "standalone":
        client = request.getfixturevalue("standalone")

        async def standalone_call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            return await _standalone_call(client, method, path, body, None, {})

        return standalone_call
    jp_fetch = request.getfixturevalue("jp_fetch")

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
def adapter() -> str:
    return "jupyter"  # parametrised by pytest_generate_tests above


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
