"""Every route needs Jupyter's authentication, and every handler verb carries both
``@tornado.web.authenticated`` and ``@authorized`` (like extension-template's check_auth)."""

from __future__ import annotations

import inspect
import json
import warnings
from typing import Any

import pytest
from jupyter_server.utils import JupyterServerAuthWarning

from orchestrate_nb.server import handlers as handlers_module
from orchestrate_nb.server.handlers import ROUTES, OrchestrateHandler

VERBS = ("get", "post", "put", "patch", "delete")
CALLS = [
    ("GET", "runs"), ("GET", "runs/abc"), ("GET", "runs/abc/logs"), ("GET", "runs/abc/artifacts"),
    ("POST", "runs/abc/cancel"), ("POST", "runs/abc/resume"), ("POST", "runs/abc/rerun"),
    ("POST", "runs/abc/notebook"), ("GET", "deployments"), ("POST", "deployments"),
    ("GET", "deployments/x"), ("DELETE", "deployments/x"), ("POST", "deployments/x/run"),
    ("POST", "deployments/x/pause"), ("POST", "deployments/x/resume"),
    ("POST", "schedule/preview"), ("GET", "notebooks/parameters"), ("GET", "workers"),
    ("GET", "status"), ("GET", "changes"), ("GET", "meta"), ("GET", "variables"),
    ("GET", "blocks"), ("GET", "alerts"),
]


def test_every_route_and_verb_is_in_the_list_above() -> None:
    listed = {(method, handler) for method, path in CALLS
              for pattern, handler in ROUTES if _matches(pattern, path)}
    defined = {(verb.upper(), handler) for _, handler in ROUTES for verb in VERBS
               if verb in vars(handler)}
    assert defined == listed


def _matches(pattern: str, path: str) -> bool:
    import re

    return re.fullmatch(pattern, path) is not None


async def test_no_token_is_refused_everywhere_and_the_token_gets_data(
        anonymous: Any, api: Any, adapter: str) -> None:
    refused = 403 if adapter == "jupyter" else 401  # Jupyter answers 403; the standalone 401
    for method, path in CALLS:
        status, body = await anonymous(method, path)
        assert status == refused, (method, path, status)
        assert b"run" not in (body or b"").lower() or b"not authorized" in body.lower()
    status, body = await api("GET", "runs")
    assert status == 200 and body["runs"] == []
    status, body = await api("GET", "status")
    assert status == 200 and body["running"] == 0


async def test_a_wrong_token_is_403(jp_fetch: Any) -> None:
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("orchestrate", "api", "runs", headers={"Authorization": "token wrong"})
    assert caught.value.code == 403


def _verbs(handler: type) -> list[Any]:
    return [vars(handler)[verb] for verb in VERBS if verb in vars(handler)]


def test_every_verb_is_wrapped_by_both_decorators() -> None:
    for _, handler in ROUTES:
        assert issubclass(handler, OrchestrateHandler)
        assert handler.auth_resource == "orchestrate"
        for method in _verbs(handler):
            source = inspect.getsource(method)
            assert "@web.authenticated" in source and "@authorized" in source, method


def _server_with_our_extension(jp_configurable_serverapp: Any) -> Any:
    return jp_configurable_serverapp(config={"ServerApp": {
        "jpserver_extensions": {"orchestrate_nb.server": True},
        "allow_unauthenticated_access": False}}, argv=[])


def _our_auth_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, JupyterServerAuthWarning)
            and "orchestrate" in str(w.message)]


def test_check_auth_passes_with_our_handlers(jp_configurable_serverapp: Any,
                                             database_url: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = _server_with_our_extension(jp_configurable_serverapp)
    assert _our_auth_warnings(caught) == []
    package = app.extension_manager.extensions["orchestrate_nb.server"]
    assert package.enabled and all(point.app.handlers for point in
                                   package.extension_points.values())


def test_check_auth_fails_when_a_decorator_is_missing(jp_configurable_serverapp: Any,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      database_url: str) -> None:
    class Unguarded(OrchestrateHandler):
        async def get(self) -> None:  # no @web.authenticated: must be caught
            self.finish(json.dumps({"leak": True}))

    monkeypatch.setattr(handlers_module, "ROUTES", [("status", Unguarded)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _server_with_our_extension(jp_configurable_serverapp)
    found = _our_auth_warnings(caught)
    assert found and "GET of Unguarded" in found[0]
