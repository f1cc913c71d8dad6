"""``OrchestrateApp``: the Jupyter server extension behind the JupyterLab sidebar.

It serves ``/orchestrate/api/`` (``handlers.py`` over ``services.py``) and runs one change
watcher per server: an asyncio task that, once every ``change_poll_seconds``, runs one cheap
query off the event loop and, when the cursor moved, emits
``https://orchestrate-nb.dev/events/changed/v1`` ``{"cursor": N}`` on Jupyter Server's
event bus (``/api/events/subscribe``), so open sidebars refresh at once. It reads the store
and enqueues runs; it never schedules or executes them (workers do).

Settings (``jupyter_server_config.py``)::

    c.OrchestrateApp.change_poll_seconds = 1.0   # 0 turns the watcher off
    c.OrchestrateApp.database_url = ""           # default: ORCHESTRATE_NB_DATABASE_URL
    c.OrchestrateApp.api_threads = 4             # threads the store calls run on
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int, Unicode

from orchestrate_nb.server.handlers import Body, handlers

if TYPE_CHECKING:
    from orchestrate_nb.server.services import OrchestrateService

CHANGED_SCHEMA_ID = "https://orchestrate-nb.dev/events/changed/v1"
CHANGED_SCHEMA: dict[str, Any] = {
    "$id": CHANGED_SCHEMA_ID,
    "version": "1",
    "title": "orchestrate_nb: the run store changed",
    "personal-data": False,
    "description": "Something the Orchestrate sidebar shows changed (a run's state, a log "
                   "line, a deployment, a worker): refresh, passing the cursor to the API.",
    "type": "object",
    "required": ["cursor"],
    "properties": {"cursor": {"type": "integer", "description": "the change cursor"}},
}


class OrchestrateApp(ExtensionApp):
    """The orchestrate_nb server extension (enabled on install; see the README to disable)."""

    name = "orchestrate_nb"
    load_other_extensions = True

    change_poll_seconds = Float(
        1.0, config=True,
        help="How often the change watcher polls the run store (seconds); 0: never (the "
             "sidebar then polls GET changes itself).")
    database_url = Unicode(
        "", config=True,
        help="The run store's URL; empty: ORCHESTRATE_NB_DATABASE_URL or the default SQLite "
             "file in ORCHESTRATE_NB_HOME.")
    api_threads = Int(4, config=True,
                      help="Threads the API's store calls run on (off the event loop).")

    service: OrchestrateService | None = None
    executor: ThreadPoolExecutor | None = None
    _watcher: asyncio.Task[None] | None = None
    _service_lock = threading.Lock()

    def initialize_settings(self) -> None:
        # Nothing heavy here (it delays the server's start): the service layer, SQLAlchemy
        # and the store are loaded on the thread pool, at the first request or poll.
        self.executor = ThreadPoolExecutor(max_workers=max(1, self.api_threads),
                                           thread_name_prefix="orchestrate-api")
        event_logger = getattr(self.serverapp, "event_logger", None)
        if event_logger is not None and CHANGED_SCHEMA_ID not in event_logger.schemas:
            event_logger.register_event_schema(CHANGED_SCHEMA)
        self.log.info("orchestrate_nb: API at %sorchestrate/api/",
                      self.serverapp.base_url if self.serverapp else "/")

    def get_service(self) -> OrchestrateService:
        """The service (made on first use, on the thread pool)."""
        if self.service is None:
            with self._service_lock:
                if self.service is None:
                    from orchestrate_nb.server.services import OrchestrateService

                    root_dir = getattr(self.serverapp, "root_dir", None)
                    self.service = OrchestrateService(database_url=self.database_url or None,
                                                      root_dir=root_dir)
        return self.service

    def answer(self, method: str, args: tuple[Any, ...]) -> str:
        """``service.method(*args)`` as JSON text (run on the thread pool)."""
        from orchestrate_nb.server.services import parse_body

        service = self.get_service()
        values = [parse_body(arg.raw) if isinstance(arg, Body) else arg for arg in args]
        return json.dumps(getattr(service, method)(*values), default=str)

    def poll_changes(self) -> tuple[int | None, bool, str | None]:
        """(cursor, changed, error line) from one poll of the store (on the thread pool)."""
        from orchestrate_nb.server.services import ServiceError

        try:
            cursor, changed = self.get_service().changes.poll()
        except ServiceError as exc:
            return None, False, str(exc)
        return cursor, changed, None

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        if self.change_poll_seconds > 0 and self._watcher is None:
            self._watcher = asyncio.create_task(self._watch_changes())

    def warm_up(self) -> None:
        """Load, on the thread pool, what the API's first requests would otherwise load
        while a user waits: the service layer, the store and the modules of every route."""
        import importlib

        self.get_service()
        for module in ("orchestrate_nb.deploy.deployments", "orchestrate_nb.store.pauses",
                       "orchestrate_nb.store.claims", "orchestrate_nb.store.workers",
                       "orchestrate_nb.store.repository", "orchestrate_nb.notebook.graph.model",
                       "orchestrate_nb.notebook.graph.svg", "cron_descriptor"):
            with contextlib.suppress(ImportError):
                importlib.import_module(module)

    async def _watch_changes(self) -> None:
        """Poll the change cursor off the loop; emit an event when it moved."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):  # a failure here shows at the first poll
            await loop.run_in_executor(self.executor, self.warm_up)
        failing = False
        while True:
            try:
                cursor, changed, error = await loop.run_in_executor(self.executor,
                                                                    self.poll_changes)
                if error is not None:
                    if not failing:
                        self.log.warning("orchestrate_nb: %s", error)
                    failing = True
                else:
                    if failing:
                        self.log.info("orchestrate_nb: the run store answers again")
                        failing = False
                    if changed and cursor is not None:
                        self._emit(cursor)
            except Exception:  # a bug must not end the watcher silently and for good
                self.log.exception("orchestrate_nb: the change watcher failed")
                failing = True
            await asyncio.sleep(self.change_poll_seconds)

    def _emit(self, cursor: int) -> None:
        event_logger = getattr(self.serverapp, "event_logger", None)
        if event_logger is not None:
            event_logger.emit(schema_id=CHANGED_SCHEMA_ID, data={"cursor": cursor})

    async def stop_extension(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if self.service is not None:
            self.service.close()
