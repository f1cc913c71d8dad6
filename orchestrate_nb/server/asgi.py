"""The standalone server (``orchestrate-nb server start``): a Starlette app over the same
service layer as the Jupyter extension.

- ``/orchestrate/api/...``: the JSON API of docs/server-api.md, dispatched through
  ``routes.ROUTES`` (the table the tornado handlers serve too), each call on a small thread
  pool; plus ``runs/{id}/notebook.html``, a run's executed notebook as sanitised HTML.
- ``/orchestrate/``: the standalone UI (a prebuilt page in ``static/``).
- ``/metrics``: Prometheus' text format (``metrics.py``).
- ``/orchestrate/hooks/{secret}``: webhook triggers (``webhooks.py``), authenticated by their
  secret alone.

Everything else needs a token: ``Authorization: token T`` (or ``Bearer T``), or ``?token=T``
once, which sets an HttpOnly, SameSite=Strict cookie (a browser page is then redirected to
the URL without it). A read-only token reads everything and may not write (403). No token or
a wrong one: 401. A write authenticated by the cookie must come from the page's own origin.
The access log is off: URLs can carry a token or a webhook's secret.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from orchestrate_nb.server import routes as api
from orchestrate_nb.server.services import OrchestrateService, error_status

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
                   Awaitable[None]]

STATIC_DIR = Path(__file__).with_name("static")
COOKIE = "orchestrate_nb_token"
API_PREFIX = "/orchestrate/api/"
HOOKS_PREFIX = "/orchestrate/hooks/"
UI_PREFIX = "/orchestrate"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON = "application/json"
NOTEBOOK_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                "font-src data:; frame-ancestors 'self'")


@dataclass(frozen=True)
class Tokens:
    full: str
    read_only: str | None = None

    def role(self, given: str | None) -> str | None:
        """"full", "read" or None for a token."""
        if not given:
            return None
        if hmac.compare_digest(given.encode(), self.full.encode()):
            return "full"
        if self.read_only and hmac.compare_digest(given.encode(), self.read_only.encode()):
            return "read"
        return None


def _json_error(status: int, message: str, **headers: str) -> Response:
    return Response(api.error_body(message), status_code=status, media_type=JSON,
                    headers=headers or None)


class TokenAuth:
    """The ASGI middleware that checks the token of every request but a webhook's."""

    def __init__(self, app: ASGIApp, tokens: Tokens) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(HOOKS_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", ())}
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        from_query = next((value for name, value in query if name == "token"), None)
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        from_header = credentials.strip() if scheme.lower() in ("token", "bearer") else None
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no cookie
            cookie = SimpleCookie()
        from_cookie = cookie[COOKIE].value if COOKIE in cookie else None
        given = from_header or from_query or from_cookie
        role = self.tokens.role(given)
        method = scope["method"]
        if role is None:
            response = self._unauthorized(scope["path"], bool(given))
        elif method not in READ_METHODS and role != "full":
            response = _json_error(403, "this token is read-only: it cannot change anything")
        elif (method not in READ_METHODS and given == from_cookie and not from_header
              and not from_query and not _same_origin(headers)):
            response = _json_error(403, "a write with the cookie must come from this "
                                        "server's own page (Origin differs)")
        elif from_query is not None and method == "GET" and not _is_machine_path(scope["path"]):
            # a browser opening the printed URL: keep the token in a cookie, drop it from the URL
            rest = urlencode([(n, v) for n, v in query if n != "token"])
            response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), 302)
            _set_cookie(response, from_query, scope)
        else:
            if from_query is not None and from_cookie != from_query:
                await self.app(scope, receive, _with_cookie(send, from_query, scope))
            else:
                await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    @staticmethod
    def _unauthorized(path: str, wrong: bool) -> Response:
        line = ("the token is wrong" if wrong else "a token is required") + \
            ": send 'Authorization: token <T>' or open the URL orchestrate-nb server start printed"
        if path.startswith(API_PREFIX) or path == "/metrics":
            return _json_error(401, line, **{"WWW-Authenticate": "token"})
        return HTMLResponse(f"<!doctype html><title>orchestrate_nb</title><p>{line}.</p>",
                            status_code=401)


def _is_machine_path(path: str) -> bool:
    return path.startswith(API_PREFIX) or path == "/metrics"


def _same_origin(headers: dict[str, str]) -> bool:
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site form or fetch (those send Origin)
    host = headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def _cookie_header(token: str, scope: Scope) -> str:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"


def _set_cookie(response: Response, token: str, scope: Scope) -> None:
    response.headers.append("set-cookie", _cookie_header(token, scope))


def _with_cookie(send: Any, token: str, scope: Scope) -> Any:
    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", ()),
                                  (b"set-cookie", _cookie_header(token, scope).encode())]
        await send(message)
    return wrapped


class StandaloneApi:
    """The endpoints: thin, everything below them is ``routes``/``services``."""

    def __init__(self, service: OrchestrateService, threads: int, log: Any) -> None:
        self.service = service
        self.limiter = anyio.CapacityLimiter(max(1, threads))
        self.log = log
        self._html_cache: dict[tuple[str, float], str] = {}
        self._html_lock = threading.Lock()

    async def _thread(self, function: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(function, limiter=self.limiter)

    def _on_bug(self, request: Request) -> Callable[[BaseException], None]:
        def log(exc: BaseException) -> None:
            self.log.error("orchestrate_nb: %s %s failed", request.method, request.url.path,
                           exc_info=exc)
        return log

    async def api(self, request: Request) -> Response:
        path = request.path_params["path"]
        route, args, known = api.match(request.method, path)
        if route is None:
            if known:
                return _json_error(405, f"{request.method} is not allowed on {path}")
            return _json_error(404, f"no such API path: {path}")
        raw = await request.body()
        query: dict[str, list[str]] = {}
        for name, value in request.query_params.multi_items():
            if name != "token":
                query.setdefault(name, []).append(value)
        service = self.service
        failed, payload = await self._thread(lambda: api.respond(
            lambda: route.call(service, args, query, lambda: api.parse_body(raw)),
            self._on_bug(request)))
        return Response(payload, status_code=failed or route.status, media_type=JSON,
                        headers={"Cache-Control": "no-store"})

    async def notebook_html(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        try:
            html = await self._thread(lambda: self._render(run_id))
        except Exception as exc:
            mapped = error_status(exc)
            if mapped is None:
                self._on_bug(request)(exc)
                mapped = (500, f"internal error: {type(exc).__name__}: {exc}")
            return _json_error(mapped[0], mapped[1])
        return HTMLResponse(html, headers={"Content-Security-Policy": NOTEBOOK_CSP,
                                           "Cache-Control": "no-store",
                                           "X-Content-Type-Options": "nosniff"})

    def _render(self, run_id: str) -> str:
        path = self.service.executed_notebook(run_id)
        key = (str(path), path.stat().st_mtime)
        with self._html_lock:
            cached = self._html_cache.get(key)
        if cached is not None:
            return cached
        html = render_notebook(path)
        with self._html_lock:
            if len(self._html_cache) > 16:
                self._html_cache.clear()
            self._html_cache[key] = html
        return html

    async def metrics(self, request: Request) -> Response:
        from orchestrate_nb.server.metrics import CONTENT_TYPE, render

        body = await self._thread(lambda: render(self.service))
        return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    async def webhook(self, request: Request) -> Response:
        from orchestrate_nb.server.webhooks import deliver

        secret = request.path_params["secret"]
        raw = await request.body()
        headers = {name.lower(): value for name, value in request.headers.items()}
        service = self.service

        def call() -> tuple[int, bytes]:
            outcome: list[int] = []

            def run() -> Any:
                status, answer = deliver(service, secret, raw, headers)
                outcome.append(status)
                return answer

            failed, payload = api.respond(run, self._on_bug(request))
            return (failed or outcome[0]), payload

        status, payload = await self._thread(call)
        return Response(payload, status_code=status, media_type=JSON)


def render_notebook(path: Path) -> str:
    """A notebook as standalone HTML, read-only and sanitised (nbconvert's ``sanitize_html``:
    no scripts, no untrusted markup); the page is also served under a CSP without scripts."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(str(path), as_version=4)
    exporter = HTMLExporter(template_name="lab", sanitize_html=True, embed_images=True)
    body, _ = exporter.from_notebook_node(notebook)
    return str(body)


def _ui_missing(_: Request) -> Response:
    return HTMLResponse("<!doctype html><title>orchestrate_nb</title><p>The standalone page "
                        "was not built into this install (orchestrate_nb/server/static). The "
                        "API is at /orchestrate/api/.</p>", status_code=404)


def create_app(service: OrchestrateService, tokens: Tokens, api_threads: int = 8,
               static_dir: Path = STATIC_DIR, log: Any = None) -> ASGIApp:
    """The standalone ASGI app (wrapped in the token check)."""
    import logging

    endpoints = StandaloneApi(service, api_threads, log or logging.getLogger("orchestrate_nb"))
    methods = ["GET", "POST", "DELETE", "PUT", "PATCH"]
    ui: Any = (Mount(UI_PREFIX, app=StaticFiles(directory=static_dir, html=True), name="ui")
               if (static_dir / "main.js").is_file()
               else Route(UI_PREFIX + "/{rest:path}", _ui_missing))
    app = Starlette(routes=[
        Route("/", lambda request: RedirectResponse(UI_PREFIX + "/", 302)),
        Route("/metrics", endpoints.metrics, methods=["GET"]),
        Route(HOOKS_PREFIX + "{secret}", endpoints.webhook, methods=["POST"]),
        Route(API_PREFIX + "runs/{run_id}/notebook.html", endpoints.notebook_html,
              methods=["GET"]),
        Route(API_PREFIX + "{path:path}", endpoints.api, methods=methods),
        ui,
    ])
    return TokenAuth(app, tokens)
