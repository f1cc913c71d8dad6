"""The input a paused flow run waits for, described by a JSON schema (pure: no I/O).

``pause_flow_run(wait_for_input=Model)`` stores ``Model.model_json_schema()`` with the run,
so ``orchestrate-nb runs resume`` can check input without importing the user's class:

- a missing required field, a value of the wrong JSON type, or any other breach of the
  schema (a ``ge=0`` bound, a ``Literal``) is refused, naming the field;
- an unknown field is refused too, unless the model allows extra fields
  (``model_config = ConfigDict(extra="allow")``). Pydantic would silently drop it, and a
  misspelt ``-p aproved=true`` must not resume a run as "not approved".

The paused process validates the input again with the model itself (custom validators).
Values given as ``-p name=text`` are converted by the field's JSON type: text that parses as
JSON of an accepted type is that value (``n=3`` → 3, ``ok=true`` → True, ``ids=[1,2]``), and
stays text otherwise (a ``str`` field always gets the text as written).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrate_nb.errors import ResumeError

Schema = Mapping[str, Any]

_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string",
               type(None): "null", list: "array", dict: "object"}


def json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def field_types(schema: Schema, field: Mapping[str, Any]) -> set[str]:
    """The JSON types a field accepts (empty: any), through ``$ref``, ``anyOf``, ``enum``."""
    ref = field.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return field_types(schema, schema.get("$defs", {}).get(ref[len("#/$defs/"):], {}))
    declared = field.get("type")
    types = set([declared] if isinstance(declared, str) else declared or ())
    for key in ("anyOf", "oneOf", "allOf"):
        for option in field.get(key, ()):
            types |= field_types(schema, option)
    if "enum" in field and not types:
        types = {json_type(v) for v in field["enum"]}
    return types


def _accepts(types: set[str], value: Any) -> bool:
    kind = json_type(value)
    return not types or kind in types or (kind == "integer" and "number" in types)


def describe_fields(schema: Schema) -> str:
    """``approved (boolean, required), reason (string)``."""
    required = set(schema.get("required", ()))
    parts = []
    for name, field in schema.get("properties", {}).items():
        kinds = " or ".join(sorted(field_types(schema, field) - {"null"})) or "any"
        parts.append(f"{name} ({kinds}{', required' if name in required else ''})")
    return ", ".join(parts) or "no fields"


def resume_command(run_id: str, schema: Schema | None) -> str:
    """The command that resumes the run, with a ``-p`` for each required field."""
    fields = [f" -p {name}=VALUE" for name in (schema or {}).get("required", ())]
    return f"orchestrate-nb runs resume {run_id}{''.join(fields)}"


def input_from_key_values(schema: Schema | None, pairs: Mapping[str, str]) -> dict[str, Any]:
    """``-p name=text`` values converted by the schema's field types (see the module doc)."""
    properties = (schema or {}).get("properties", {})
    values: dict[str, Any] = {}
    for name, text in pairs.items():
        types = field_types(schema or {}, properties.get(name, {}))
        values[name] = text
        if types == {"string"}:
            continue
        try:
            parsed = json.loads(text)
        except ValueError:
            continue
        if _accepts(types, parsed):
            values[name] = parsed
    return values


def check_run_input(schema: Schema | None, values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The input to store for a resume, or ``ResumeError`` naming what is wrong with it.

    ``schema`` None: the run waits for no input, and none may be given (None is returned).
    """
    if schema is None:
        if values:
            raise ResumeError(f"it waits for no input, but {', '.join(map(repr, values))} "
                              "was given; resume it without -p/--input")
        return None
    given = dict(values or {})
    _check_fields(schema, given)
    _check_schema(schema, given)
    return given


def _check_fields(schema: Schema, given: Mapping[str, Any]) -> None:
    properties = schema.get("properties", {})
    extra_allowed = schema.get("additionalProperties") not in (None, False)
    unknown = [name for name in given if name not in properties]
    if unknown and not extra_allowed:
        raise ResumeError(f"unknown field {unknown[0]!r} (it expects {describe_fields(schema)})")
    missing = [name for name in schema.get("required", ()) if name not in given]
    if missing:
        raise ResumeError(f"missing required field {missing[0]!r} "
                          f"(it expects {describe_fields(schema)})")
    for name, value in given.items():
        types = field_types(schema, properties.get(name, {}))
        if not _accepts(types, value):
            raise ResumeError(f"field {name!r} expects {' or '.join(sorted(types))}, "
                              f"got {_shown(value)}")


def _check_schema(schema: Schema, given: Mapping[str, Any]) -> None:
    """Everything else the schema says (bounds, enums, nested models), when ``jsonschema``
    (a dependency of nbformat, so of papermill) is importable."""
    try:
        from jsonschema import validators
    except ImportError:  # the paused process still validates with the model itself
        return
    validator_class = validators.validator_for(schema, default=validators.Draft202012Validator)
    errors = sorted(validator_class(schema).iter_errors(given), key=lambda e: [str(p) for p in e.path])
    if errors:
        error = errors[0]
        where = ".".join(str(part) for part in error.absolute_path) or "input"
        raise ResumeError(f"field {where!r}: {error.message}")


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
