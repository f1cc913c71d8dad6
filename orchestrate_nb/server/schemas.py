"""Parameter forms and schedules in words: JSON schemas of a notebook's parameters cell or a
flow's signature (read from source: the server never imports a user's module), a cron
expression described, a deployment's next runs."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path
from typing import Any

from orchestrate_nb.errors import DeploymentError
from orchestrate_nb.server.values import iso, jsonable

UTC = dt.timezone.utc


_JSON_TYPES = {"int": "integer", "float": "number", "bool": "boolean", "str": "string",
               "list": "array", "dict": "object"}


def _property(type_name: str | None, default: Any, has_default: bool) -> dict[str, Any]:
    prop: dict[str, Any] = {}
    if type_name in _JSON_TYPES:
        prop["type"] = _JSON_TYPES[type_name]
    if has_default:
        prop["default"] = jsonable(default)
    if type_name:
        prop["title"] = type_name
    return prop


def notebook_schema(declared: Any) -> dict[str, Any]:
    """The JSON schema of a notebook's parameters cell (every parameter has a default)."""
    return {"type": "object", "additionalProperties": False, "properties": {
        p.name: _property(p.type.__name__ if p.type else None, p.default, True)
        for p in declared.parameters.values()}, "required": []}


def flow_file_schema(entrypoint: str) -> dict[str, Any] | None:
    """The JSON schema of ``file.py:fn``'s parameters, read from its source (the server
    never imports a user's module): annotations and literal defaults."""
    import ast

    file, _, function = entrypoint.rpartition(":")
    try:
        tree = ast.parse(Path(file).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            return _signature_schema(node.args)
    return None


def _signature_schema(args: ast.arguments) -> dict[str, Any]:
    positional = [*args.posonlyargs, *args.args]
    defaults: dict[str, ast.expr] = {}
    for arg, expression in zip(positional[len(positional) - len(args.defaults):],
                               args.defaults):
        defaults[arg.arg] = expression
    for arg, keyword_default in zip(args.kwonlyargs, args.kw_defaults):
        if keyword_default is not None:
            defaults[arg.arg] = keyword_default
    properties: dict[str, Any] = {}
    required: list[str] = []
    for arg in [*positional, *args.kwonlyargs]:
        annotation = arg.annotation
        type_name = None
        if isinstance(annotation, ast.Name):
            type_name = annotation.id
        elif isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name):
            type_name = annotation.value.id if annotation.value.id in ("list", "dict") else None
        has_default = arg.arg in defaults
        default: Any = None
        if has_default:
            try:
                default = ast.literal_eval(defaults[arg.arg])
            except ValueError:
                has_default = False
        properties[arg.arg] = _property(type_name, default, has_default)
        if arg.arg not in defaults:
            required.append(arg.arg)
    return {"type": "object", "additionalProperties": args.kwarg is not None,
            "properties": properties, "required": required}


def deployment_parameter_schema(info: Any) -> dict[str, Any] | None:
    """A deployment's parameters as a JSON schema (None: not known without running code)."""
    from orchestrate_nb.deploy.parameters import read_notebook_parameters

    try:
        if info.kind == "notebook":
            return notebook_schema(read_notebook_parameters(info.entrypoint))
        if info.kind == "python":
            return flow_file_schema(info.entrypoint)
    except (DeploymentError, OSError):
        return None
    return None  # a pickled flow: unpickling runs code, which the server never does


def describe_schedule(kind: str | None, schedule: Any) -> str:
    """The schedule in words ("At 07:00, Monday through Friday (Europe/Berlin)")."""
    if kind == "cron":
        try:
            from cron_descriptor import ExpressionDescriptor, Options

            options = Options()
            options.use_24hour_time_format = True
            words = ExpressionDescriptor(schedule.cron, options).get_description()
            return f"{words} ({schedule.timezone})" if schedule.timezone != "UTC" else words
        except Exception:  # an expression croniter takes and the describer does not
            return str(schedule.describe())
    return str(schedule.describe())


def deployment_schedule(info: Any, scheduled: dt.datetime | None) -> tuple[str, list[str | None]]:
    """(the schedule in words, its next five run times) — never an error: a schedule an
    older version stored that cannot fire says so."""
    from orchestrate_nb.core.schedules import next_slots
    from orchestrate_nb.deploy.deployments import schedule_of

    try:
        schedule = schedule_of(info)
        if schedule is None:
            return "no schedule (run on demand)", [iso(scheduled)] if scheduled else []
        description = describe_schedule(info.schedule_kind, schedule)
        if info.paused:
            return description, []
        now = dt.datetime.now(UTC)
        after = max(info.last_slot or info.created, now)
        slots: list[dt.datetime] = [scheduled] if scheduled is not None else []
        start = scheduled if scheduled is not None else after
        slots += next_slots(schedule, start, dt.datetime.max.replace(tzinfo=UTC),
                            5 - len(slots))
        return description, [iso(slot) for slot in slots[:5]]
    except (DeploymentError, ValueError, OverflowError):
        return "never: this schedule cannot fire (redeploy or remove it)", []

