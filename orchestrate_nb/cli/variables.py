"""``orchestrate-nb variable``: set, get, list and unset variables (JSON values)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "variable", help="named values flows read with Variable.get (plaintext)",
        description="Variables hold JSON values, stored in plaintext: keep secrets in "
                    "`orchestrate-nb secret set` instead.")
    commands = group.add_subparsers(dest="variable_command", metavar="COMMAND", required=True)
    set_ = commands.add_parser("set", help="set a variable (VALUE as JSON, else as a string)")
    set_.add_argument("name", metavar="NAME")
    set_.add_argument("value", metavar="VALUE",
                      help='JSON (42, true, "text", [1, 2], {"a": 1}) or plain text')
    set_.add_argument("--overwrite", action="store_true", help="replace an existing value")
    set_.add_argument("--tag", action="append", dest="tags", metavar="TAG",
                      help="a tag (repeat for several)")
    set_.set_defaults(handler=set_variable)
    get = commands.add_parser("get", help="print a variable's value")
    get.add_argument("name", metavar="NAME")
    get.set_defaults(handler=get_variable)
    ls = commands.add_parser("ls", help="list variables")
    ls.set_defaults(handler=list_variables)
    unset = commands.add_parser("unset", help="remove a variable")
    unset.add_argument("name", metavar="NAME")
    unset.set_defaults(handler=unset_variable)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def set_variable(args: argparse.Namespace) -> int:
    from orchestrate_nb.variables import Variable

    variable = Variable.set(args.name, _parse_value(args.value), tags=args.tags,
                            overwrite=args.overwrite)
    print(f"Set variable {variable.name} = {json.dumps(variable.value)}")
    return 0


def get_variable(args: argparse.Namespace) -> int:
    from orchestrate_nb.errors import NotFound
    from orchestrate_nb.store.handles import shared_database
    from orchestrate_nb.store.variables import get_variable as query
    from orchestrate_nb.variables import validate_variable_name

    found = query(shared_database(), validate_variable_name(args.name))
    if found is None:
        raise NotFound(f"no variable named {args.name!r} (orchestrate-nb variable ls lists them)")
    print(found.value if isinstance(found.value, str) else json.dumps(found.value))
    return 0


def list_variables(args: argparse.Namespace) -> int:
    from rich.table import Table

    from orchestrate_nb.cli.format import format_time, make_console
    from orchestrate_nb.store.handles import shared_database
    from orchestrate_nb.store.variables import list_variables as query

    found = query(shared_database())
    console = make_console()
    if not found:
        console.print("No variables. Set one with: orchestrate-nb variable set NAME VALUE")
        return 0
    table = Table(title=f"{len(found)} variable(s)", title_justify="left", header_style="bold")
    for column in ("NAME", "VALUE", "TAGS", "UPDATED"):
        table.add_column(column)
    for variable in found:
        value = json.dumps(variable.value)
        table.add_row(variable.name, value if len(value) <= 60 else value[:59] + "…",
                      ", ".join(variable.tags), format_time(variable.updated))
    console.print(table)
    return 0


def unset_variable(args: argparse.Namespace) -> int:
    from orchestrate_nb.errors import NotFound
    from orchestrate_nb.variables import Variable

    if not Variable.unset(args.name):
        raise NotFound(f"no variable named {args.name!r}")
    print(f"Removed variable {args.name}")
    return 0
