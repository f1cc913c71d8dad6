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
from collections.abc import Callable
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from orchestrate_nb.server.routes import parse_body, respond
from orchestrate_nb.server.services import OrchestrateService

AUTH_RESOURCE = "orchestrate"
API_PREFIX = "orchestrate/api"


class OrchestrateHandler(ExtensionHandlerMixin, APIHandler):
    """The base of every route: the service, the thread pool, JSON, and the error mapping."""

    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> OrchestrateService:
        return self.settings["orchestrate_nb_service"]  # type: ignore[no-any-return]

    def query(self) -> dict[str, list[str]]:
        return {name: [value.decode("utf-8", "replace") for value in values]
                for name, values in self.request.query_arguments.items()}

    def body(self) -> dict[str, Any]:
        return parse_body(self.request.body)

    async def call(self, function: Callable[..., Any], *args: Any, status: int = 200) -> None:
        """Run ``function(*args)`` off the event loop and answer with its JSON (or the
        error's status and one line): ``routes.respond``, which the ASGI adapter uses too."""
        executor = self.settings["orchestrate_nb_executor"]
        loop = asyncio.get_running_loop()

        def on_bug(exc: BaseException) -> None:
            self.log.error("orchestrate_nb: %s %s failed", self.request.method,
                           self.request.path, exc_info=exc)

        failed, payload = await loop.run_in_executor(
            executor, lambda: respond(lambda: function(*args), on_bug))
        self.set_status(failed or status)
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
        await self.call(self.service.list_runs, self.query())


class RunHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        await self.call(self.service.get_run, run_id)


class RunLogsHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        await self.call(self.service.run_logs, run_id, self.query())


class RunArtifactsHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        await self.call(self.service.run_artifacts, run_id, self.query())


class RunActionHandler(OrchestrateHandler):
    """``POST runs/{id}/cancel|resume|rerun|notebook``."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str, action: str) -> None:
        service = self.service
        if action == "cancel":
            await self.call(service.cancel_run, run_id)
        elif action == "resume":
            await self.call(lambda: service.resume_run(run_id, self.body()))
        elif action == "rerun":
            await self.call(service.rerun, run_id, status=201)
        else:
            await self.call(service.open_notebook, run_id)


class StatusHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(self.service.status)


class ChangesHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(self.service.changed_since, self.query())


class MetaHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(self.service.meta)


class WorkersHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(self.service.list_workers)


class DeploymentsHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(self.service.list_deployments)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.call(lambda: self.service.create_deployment(self.body()), status=201)


class DeploymentHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.call(self.service.get_deployment, name)

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(self.service.delete_deployment, name)


class DeploymentActionHandler(OrchestrateHandler):
    """``POST deployments/{name}/run|pause|resume``."""

    @web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        service = self.service
        if action == "run":
            await self.call(lambda: service.trigger(name, self.body()), status=201)
        else:
            await self.call(service.set_paused, name, action == "pause")


class SchedulePreviewHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.call(lambda: self.service.schedule_preview(self.body()))


class NotebookParametersHandler(OrchestrateHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.call(self.service.notebook_parameters, self.query())


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
    ("status", StatusHandler),
    ("changes", ChangesHandler),
    ("meta", MetaHandler),
]


def handlers() -> list[tuple[str, type[OrchestrateHandler]]]:
    """The routes, relative to the server's base URL (ExtensionApp joins it)."""
    return [(rf"/{API_PREFIX}/{pattern}/?", handler) for pattern, handler in ROUTES]
