"""Webhook triggers: a POST with a JSON body to ``/orchestrate/hooks/<secret>`` creates a run
of a deployment (no web framework here: ``asgi.py`` adapts it).

- The secret in the path is the authentication (the store keeps its SHA-256 only:
  ``store/webhooks.py``); an unknown or revoked secret is a 404 that says nothing more.
- Parameters come from the body through the webhook's mapping, given when it was made:
  ``repo={{body.repository.name}}`` takes a value at a dotted path (list items by index,
  ``body.commits.0.id``; a header with ``headers.x-github-event``). A value that is a single
  ``{{...}}`` keeps its JSON type; text around one makes a string. Without a mapping, a body
  ``{"parameters": {...}}`` gives them directly (anything else: the deployment's defaults).
- They are checked like any trigger's (``deployment run -p``): a bad body or value is a 400 of
  one line and nothing is created.
- ``X-Delivery-Id`` (or GitHub's ``X-GitHub-Delivery``) names a delivery: the same id again
  within an hour creates nothing and answers with the run the first one made.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrate_nb.server.services import BadRequest, NotFoundError, OrchestrateService

UTC = dt.timezone.utc
MAX_BODY_BYTES = 1 << 20
DELIVERY_HEADERS = ("x-delivery-id", "x-github-delivery")
_EXPRESSION = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_PATH = re.compile(r"(body|headers)((?:\.[^.\s{}]+)*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Missing(Exception):
    pass


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """``["repo={{body.repository.name}}", ...]`` as {parameter: template}; a bad item is a
    ``BadRequest`` of one line naming it."""
    mapping: dict[str, str] = {}
    for item in items:
        name, equals, template = item.partition("=")
        name = name.strip()
        if not equals or not _NAME.fullmatch(name):
            raise BadRequest(f"--map {item!r}: give NAME=TEMPLATE, like "
                             "'repo={{body.repository.name}}'")
        if name in mapping:
            raise BadRequest(f"--map gives {name!r} twice")
        for expression in _EXPRESSION.findall(template):
            if not _PATH.fullmatch(expression):
                raise BadRequest(f"--map {item!r}: {{{{{expression}}}}} is not a path like "
                                 "body.repository.name or headers.x-github-event")
        if "{{" in _EXPRESSION.sub("", template) or "}}" in _EXPRESSION.sub("", template):
            raise BadRequest(f"--map {item!r}: unbalanced {{{{ }}}}")
        mapping[name] = template
    return mapping


def _lookup(expression: str, body: Any, headers: Mapping[str, str]) -> Any:
    root, _, rest = expression.partition(".")
    parts = rest.split(".") if rest else []
    if root == "headers":
        if len(parts) != 1 or parts[0].lower() not in headers:
            raise _Missing(expression)
        return headers[parts[0].lower()]
    value = body
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise _Missing(expression)
    return value


def map_parameters(mapping: Mapping[str, str], body: Any,
                   headers: Mapping[str, str]) -> dict[str, Any]:
    """The run's parameters from a delivery (see the module's docstring)."""
    if not mapping:
        given = body.get("parameters") if isinstance(body, dict) else None
        if given is None:
            return {}
        if not isinstance(given, dict):
            raise BadRequest("parameters in the body must be a JSON object")
        return dict(given)
    parameters: dict[str, Any] = {}
    for name, template in mapping.items():
        try:
            whole = _EXPRESSION.fullmatch(template.strip())
            if whole is not None:
                parameters[name] = _lookup(whole.group(1), body, headers)
                continue

            def text(match: re.Match[str]) -> str:
                value = _lookup(match.group(1), body, headers)
                return value if isinstance(value, str) else json.dumps(value)

            parameters[name] = _EXPRESSION.sub(text, template)
        except _Missing as missing:
            root, _, rest = str(missing).partition(".")
            what = f"the body has no {rest}" if root == "body" else f"no header {rest} was sent"
            raise BadRequest(f"{what} (needed by the mapping {name}={template})") from None
    return parameters


def deliver(service: OrchestrateService, secret: str, raw: bytes,
            headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    """Handle one delivery: (status, answer). ``headers`` have lower-case names."""
    from sqlalchemy.exc import IntegrityError, SQLAlchemyError

    from orchestrate_nb.deploy.deployments import _check_trigger  # the trigger's own checks
    from orchestrate_nb.store import deployments as store
    from orchestrate_nb.store import webhooks

    with service.read() as conn:
        hook = webhooks.find_by_secret(conn, secret) if secret else None
        deployment = (store.find_deployment(conn, hook.deployment_name)
                      if hook is not None and hook.deployment_name else None)
    if hook is None or deployment is None:
        raise NotFoundError("no such webhook (revoked, or its deployment was removed)")
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    delivery = next((headers[h].strip() for h in DELIVERY_HEADERS
                     if headers.get(h, "").strip()), None)
    if delivery is not None and len(delivery) > 200:
        raise BadRequest("the delivery id is longer than 200 characters")
    given = map_parameters(hook.mapping, body, headers)
    checked = service.guarded(lambda: _check_trigger(deployment, given))
    merged = {**(deployment.parameters or {}), **checked}
    now = dt.datetime.now(UTC)
    database = service.database()
    try:
        with database.write() as conn:
            if delivery is not None:
                seen, run_id = webhooks.seen_delivery(conn, hook.id, delivery, now)
                if seen:
                    return 200, {"run_id": run_id, "replayed": True, "delivery": delivery}
            row = store.run_row(deployment, store.flow_id(conn, deployment.flow_name), now,
                                "Scheduled", now, merged or None)
            store.insert_runs(conn, [row])
            webhooks.record_delivery(conn, hook.id, delivery, str(row["id"]), now)
    except IntegrityError:  # the same delivery, at the same moment, on another connection
        with service.read() as conn:
            _, run_id = webhooks.seen_delivery(conn, hook.id, delivery or "", now)
        return 200, {"run_id": run_id, "replayed": True, "delivery": delivery}
    except SQLAlchemyError as exc:
        raise service._down(exc) from None
    return 201, {"run_id": str(row["id"]), "run_name": row["name"], "replayed": False,
                 "delivery": delivery, "deployment": deployment.name}
