"""Parameters of a deployment, checked against what the notebook or flow declares.

A notebook declares its parameters in the cell tagged ``parameters`` (papermill's
convention): each ``name = literal`` (or ``name: type = literal``) assignment is one
parameter whose type is the annotation or the literal's type. Values given on the command
line (``-p k=v``) arrive as strings and are converted by the declared type; a parameter
without one (a default of ``None``, papermill's most common idiom) gets what papermill's
command line would give: ``None``, ``True``/``False``, an int, a float, else the string.
Values given from Python are taken as they are.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrate_nb.errors import DeploymentError

_TYPES: dict[str, type] = {t.__name__: t for t in (int, float, bool, str, list, dict)}


@dataclass(frozen=True)
class DeclaredParameter:
    name: str
    type: type | None  # None: any value (a default of None, or an unknown annotation)
    default: Any


@dataclass(frozen=True)
class DeclaredParameters:
    """What a notebook's parameters cell declares; ``has_cell`` is False without one."""

    source: str
    parameters: dict[str, DeclaredParameter]
    has_cell: bool = True


def read_notebook_parameters(path: str | Path) -> DeclaredParameters:
    """The declared parameters of the notebook at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise DeploymentError(f"notebook not found: {path}")
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = notebook["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeploymentError(f"{path} is not a readable notebook: {exc}") from None
    for cell in cells:
        if "parameters" in (cell.get("metadata", {}).get("tags") or ()):
            return DeclaredParameters(str(path), parse_parameters_cell(_source(cell), path))
    return DeclaredParameters(str(path), {}, has_cell=False)


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def parse_parameters_cell(source: str, path: str | Path = "<cell>") -> dict[str, DeclaredParameter]:
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError as exc:
        raise DeploymentError(f"{path}: the parameters cell is not valid Python: {exc}") from None
    declared: dict[str, DeclaredParameter] = {}
    for node in tree.body:
        for name, annotation, value in _assignments(node):
            declared[name] = _declare(name, annotation, value)
    return declared


def _assignments(node: ast.stmt) -> list[tuple[str, ast.expr | None, ast.expr | None]]:
    if isinstance(node, ast.Assign):
        return [(t.id, None, node.value) for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [(node.target.id, node.annotation, node.value)]
    return []


def _declare(name: str, annotation: ast.expr | None, value: ast.expr | None) -> DeclaredParameter:
    try:
        default = ast.literal_eval(value) if value is not None else None
    except ValueError:  # an expression (e.g. a function call): its type is not known
        default = None
    kind: type | None = None
    if isinstance(annotation, ast.Name):
        kind = _TYPES.get(annotation.id)
    elif annotation is None and default is not None:
        kind = type(default) if type(default) in _TYPES.values() else None
    return DeclaredParameter(name, kind, default)


class TextParameters(dict[str, str]):
    """Parameters typed on a command line (``-p k=v``): their values are text to convert."""


def check_parameters(declared: DeclaredParameters, given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` checked and converted: an unknown name or a wrong type is refused."""
    checked: dict[str, Any] = {}
    for name, value in given.items():
        parameter = declared.parameters.get(name)
        if parameter is None:
            raise DeploymentError(_unknown(name, declared))
        if parameter.type is None and isinstance(given, TextParameters):
            checked[name] = resolve_text(value)
        else:
            checked[name] = _convert(parameter, value)
    return checked


def resolve_text(text: str) -> Any:
    """An untyped parameter's text as papermill's ``-p`` reads it."""
    constants = {"True": True, "False": False, "None": None}
    if text in constants:
        return constants[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _unknown(name: str, declared: DeclaredParameters) -> str:
    if not declared.has_cell:
        return (f"unknown parameter {name!r}: {declared.source} has no cell tagged "
                "'parameters', so it accepts no parameters")
    names = ", ".join(declared.parameters) or "nothing"
    return f"unknown parameter {name!r} (the notebook's parameters cell declares: {names})"


def _convert(parameter: DeclaredParameter, value: Any) -> Any:
    kind = parameter.type
    if kind is None or value is None:
        return value
    if isinstance(value, str) and kind is not str:
        value = _from_text(kind, value, parameter.name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DeploymentError(_wrong_type(parameter.name, kind, value))
    return value


def _from_text(kind: type, text: str, name: str) -> Any:
    try:
        if kind is bool:
            return {"true": True, "false": False, "1": True, "0": False}[text.strip().lower()]
        if kind in (int, float):
            return kind(text)
        return json.loads(text)
    except (KeyError, ValueError):
        raise DeploymentError(_wrong_type(name, kind, text)) from None


def _wrong_type(name: str, kind: type, value: Any) -> str:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return f"parameter {name!r} expects {kind.__name__}, got {shown}"


def parse_key_values(pairs: list[str] | None) -> TextParameters:
    """``["n=3", "day=mon"]`` (from ``-p k=v``) → ``{"n": "3", "day": "mon"}``."""
    result = TextParameters()
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DeploymentError(f"invalid parameter {pair!r}: write it as NAME=VALUE")
        result[key.strip()] = value
    return result


def check_flow_parameters(flow: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """A Python flow's parameters checked against its signature and type hints (pydantic)."""
    from orchestrate_nb.errors import ParameterTypeError

    names = [p for p, spec in flow.signature.parameters.items()
             if spec.kind not in (spec.VAR_POSITIONAL, spec.VAR_KEYWORD)]
    accepts_any = any(s.kind is s.VAR_KEYWORD for s in flow.signature.parameters.values())
    for name in given:
        if name not in names and not accepts_any:
            raise DeploymentError(f"unknown parameter {name!r} (flow {flow.name!r} takes: "
                                  f"{', '.join(names) or 'nothing'})")
    from orchestrate_nb.engine.validation import ParameterValidator

    validator = ParameterValidator(flow.name, flow.fn, flow.signature)
    values = dict(given)
    if isinstance(given, TextParameters):  # an unannotated parameter: as papermill reads it
        values.update((name, resolve_text(value)) for name, value in given.items()
                      if validator.annotated.get(name) is None)
    try:
        return validator.validate(_json_from_text(values, validator.annotated))
    except ParameterTypeError as exc:
        raise DeploymentError(str(exc)) from None


def _json_from_text(given: dict[str, Any], annotated: Mapping[str, Any]) -> dict[str, Any]:
    # "-p items=[1,2]" for a list parameter: pydantic would not parse a string as a list.
    for name, value in given.items():
        if isinstance(value, str) and annotated.get(name) not in (None, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                continue
            if isinstance(parsed, (list, dict)):
                given[name] = parsed
    return given
