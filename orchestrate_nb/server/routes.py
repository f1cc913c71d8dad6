"""The API's routes, once: the contract both web adapters serve.

Each route is a method, a path pattern relative to ``/orchestrate/api/`` and a call into
``OrchestrateService``; ``respond`` runs a call and turns it into (status, JSON bytes) with the
error mapping of ``services.error_status``. The standalone Starlette app (``asgi.py``)
dispatches this table directly. The Jupyter extension's tornado handlers (``handlers.py``)
name the same service methods (so that the extension imports the service layer, and
SQLAlchemy, only at the first request, not when Jupyter starts);
``tests/server/test_adapters.py`` checks they serve exactly these (method, path) pairs, and
the API tests run against both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrate_nb.server import services
from orchestrate_nb.server.services import (
    BadRequest,
    OrchestrateService,
    error_status,
    one_line,
)

Query = Mapping[str, Sequence[str]]
Body = Callable[[], dict[str, Any]]
Call = Callable[[OrchestrateService, Sequence[str], Query, Body], Any]

MAX_BODY_BYTES = 1 << 20  # a JSON body larger than 1 MiB is refused (400, one line)


@dataclass(frozen=True)
class Route:
    method: str  # GET, POST or DELETE
    pattern: str  # a regular expression over the path after /orchestrate/api/
    call: Call
    status: int = 200  # on success

    @property
    def writes(self) -> bool:
        return self.method not in ("GET", "HEAD")


_ID = r"([^/]+)"
ROUTES: tuple[Route, ...] = (
    Route("GET", "runs", lambda s, a, q, b: s.list_runs(q)),
    Route("GET", f"runs/{_ID}", lambda s, a, q, b: s.get_run(a[0])),
    Route("GET", f"runs/{_ID}/logs", lambda s, a, q, b: s.run_logs(a[0], q)),
    Route("GET", f"runs/{_ID}/artifacts", lambda s, a, q, b: s.run_artifacts(a[0], q)),
    Route("POST", f"runs/{_ID}/cancel", lambda s, a, q, b: s.cancel_run(a[0])),
    Route("POST", f"runs/{_ID}/resume", lambda s, a, q, b: s.resume_run(a[0], b())),
    Route("POST", f"runs/{_ID}/rerun", lambda s, a, q, b: s.rerun(a[0]), 201),
    Route("POST", f"runs/{_ID}/notebook", lambda s, a, q, b: s.open_notebook(a[0])),
    Route("GET", "deployments", lambda s, a, q, b: s.list_deployments()),
    Route("POST", "deployments", lambda s, a, q, b: s.create_deployment(b()), 201),
    Route("GET", f"deployments/{_ID}", lambda s, a, q, b: s.get_deployment(a[0])),
    Route("DELETE", f"deployments/{_ID}", lambda s, a, q, b: s.delete_deployment(a[0])),
    Route("POST", f"deployments/{_ID}/run", lambda s, a, q, b: s.trigger(a[0], b()), 201),
    Route("POST", f"deployments/{_ID}/pause", lambda s, a, q, b: s.set_paused(a[0], True)),
    Route("POST", f"deployments/{_ID}/resume", lambda s, a, q, b: s.set_paused(a[0], False)),
    Route("POST", "schedule/preview", lambda s, a, q, b: s.schedule_preview(b())),
    Route("GET", "notebooks/parameters", lambda s, a, q, b: s.notebook_parameters(q)),
    Route("GET", "workers", lambda s, a, q, b: s.list_workers()),
    Route("GET", "variables", lambda s, a, q, b: s.list_variables()),
    Route("GET", "blocks", lambda s, a, q, b: s.list_blocks()),
    Route("GET", "alerts", lambda s, a, q, b: s.list_alerts()),
    Route("GET", "status", lambda s, a, q, b: s.status()),
    Route("GET", "changes", lambda s, a, q, b: s.changed_since(q)),
    Route("GET", "meta", lambda s, a, q, b: s.meta()),
)
_COMPILED = [(route, re.compile(route.pattern)) for route in ROUTES]


def match(method: str, path: str) -> tuple[Route | None, tuple[str, ...], bool]:
    """(the route, its path arguments, whether the path exists for another method)."""
    path = path.strip("/")
    known = False
    for route, pattern in _COMPILED:
        found = pattern.fullmatch(path)
        if found is None:
            continue
        known = True
        if route.method == method:
            return route, found.groups(), True
    return None, (), known


def parse_body(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object (empty: ``{}``), else one 400 line (bodies over 1 MiB
    are refused before they are parsed)."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    return services.parse_body(raw)


def respond(function: Callable[[], Any],
            on_bug: Callable[[BaseException], None] | None = None) -> tuple[int | None, bytes]:
    """``function()`` as (None: success, its JSON) or (status, ``{"message": one line}``).

    Meant to run on a worker thread: the answer is serialised there too, so an adapter's event
    loop only sends bytes. A bug (an exception ``error_status`` does not know) is a 500 whose
    line names it, after ``on_bug`` logged it with its traceback.
    """
    try:
        return None, json.dumps(function(), default=str).encode()
    except Exception as exc:
        mapped = error_status(exc)
        if mapped is None:
            if on_bug is not None:
                on_bug(exc)
            mapped = (500, f"internal error: {type(exc).__name__}: {exc}")
        return mapped[0], error_body(mapped[1])


def error_body(message: str) -> bytes:
    return json.dumps({"message": one_line(message)}).encode()
