"""Tornado handlers of ``/orchestrate/api/``: thin adapters over ``services.py``.

Every verb is ``@tornado.web.authenticated`` (Jupyter's token or login) and
``@authorized`` on the resource ``orchestrate`` (so JupyterHub's RBAC can restrict it);
``tests/server/test_auth.py`` fails if one is not. Every service call runs on the
extension's small thread pool, never on the server's event loop. Errors become an HTTP
status and ``{"message": one line}`` in one place, ``OrchestrateHandler.call``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

AUTH_RESOURCE = "orchestrate"
API_PREFIX = "orchestrate/api"


@dataclass(frozen=True)
class Body:
    """A request's raw body: parsed on the thread pool, with the service's one-line errors."""

    raw: bytes


class OrchestrateHandler(ExtensionHandlerMixin, APIHandler):
    """The base of every route: the thread pool, JSON, and the error mapping.

    The service layer (and SQLAlchemy with it) is imported on the thread pool at the first
    request, not when the server starts.
    """

    auth_resource = AUTH_RESOURCE

    def query(self) -> dict[str, list[str]]:
        return {name: [value.decode("utf-8", "replace") for value in values]
                for name, values in self.request.query_arguments.items()}

    def body(self) -> Body:
        return Body(self.request.body or b"")

    async def call(self, method: str, *args: Any, status: int = 200) -> None:
        """Run the service's ``method(*args)`` off the event loop and answer with its JSON
        (or the error's status and one line)."""
        app: Any = self.extensionapp  # OrchestrateApp
        loop = asyncio.get_running_loop()
        try:  # the answer is serialised on the pool too: the loop only sends bytes
            payload = await loop.run_in_executor(app.executor, app.answer, method, args)
        except Exception as exc:
            from orchestrate_nb.server.services import error_status

            mapped = error_status(exc)
            if mapped is None:
                self.log.exception("orchestrate_nb: %s %s failed", self.request.method,
                                   self.request.path)
                # (its text may hold values from the store: it goes to the log only)
                mapped = (500, f"internal error ({type(exc).__name__}); the Jupyter server's "
                               "log has the details")
            self.set_status(mapped[0])
            self.finish(json.dumps({"message": " ".join(mapped[1].split())}))
            return
        self.set_status(status)
        self.finish(payload)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Tornado's own errors (403, 404, 405) in the same one-line form."""
        self.set_header("Content-Type", "application/json")
        reason = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info is not None and isinstance(exc_info[1], web.HTTPError):
            reason = exc_info[1].log_message or reason
        self.finish(json.dumps({"message": " ".join(str(reason).split())}))


class RunsHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call("list_runs", self.query())


class RunHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        await self.call("get_run", run_id)


class RunLogsHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        await self.call("run_logs", run_id, self.query())


class RunArtifactsHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        await self.call("run_artifacts", run_id, self.query())


class RunActionHandler(OrchestrateHandler):
    """``POST runs/{id}/cancel|resume|rerun|notebook``."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str, action: str) -> None:
        if action == "cancel":
            await self.call("cancel_run", run_id)
        elif action == "resume":
            await self.call("resume_run", run_id, self.body())
        elif action == "rerun":
            await self.call("rerun", run_id, status=201)
        else:
            await self.call("open_notebook", run_id)


class StatusHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call("status")


class ChangesHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call("changed_since", self.query())


class MetaHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call("meta")


class WorkersHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call("list_workers")


class VariablesHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call("list_variables")


class BlocksHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call("list_blocks")


class AlertsHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call("list_alerts")


class DeploymentsHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call("list_deployments")

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.call("create_deployment", self.body(), status=201)


class DeploymentHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.call("get_deployment", name)

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call("delete_deployment", name)


class DeploymentActionHandler(OrchestrateHandler):
    """``POST deployments/{name}/run|pause|resume``."""

    @web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        if action == "run":
            await self.call("trigger", name, self.body(), status=201)
        else:
            await self.call("set_paused", name, action == "pause")


class SchedulePreviewHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.call("schedule_preview", self.body())


class NotebookParametersHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call("notebook_parameters", self.query())


_ID = r"([^/]+)"
ROUTES: list[tuple[str, type[OrchestrateHandler]]] = [
    ("runs", RunsHandler),
    (f"runs/{_ID}", RunHandler),
    (f"runs/{_ID}/logs", RunLogsHandler),
    (f"runs/{_ID}/artifacts", RunArtifactsHandler),
    (f"runs/{_ID}/(cancel|resume|rerun|notebook)", RunActionHandler),
    ("deployments", DeploymentsHandler),
    (f"deployments/{_ID}", DeploymentHandler),
    (f"deployments/{_ID}/(run|pause|resume)", DeploymentActionHandler),
    ("schedule/preview", SchedulePreviewHandler),
    ("notebooks/parameters", NotebookParametersHandler),
    ("workers", WorkersHandler),
    ("variables", VariablesHandler),
    ("blocks", BlocksHandler),
    ("alerts", AlertsHandler),
    ("status", StatusHandler),
    ("changes", ChangesHandler),
    ("meta", MetaHandler),
]


def handlers() -> list[tuple[str, type[OrchestrateHandler]]]:
    """The routes, relative to the server's base URL (ExtensionApp joins it)."""
    return [(rf"/{API_PREFIX}/{pattern}/?", handler) for pattern, handler in ROUTES]
