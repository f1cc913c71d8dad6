"""``orchestrate-nb secret``: set (read without echo, or from stdin), list and remove
``Secret`` blocks. No command ever prints a secret's value."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "secret", help="secrets flows read with Secret.load(NAME).get()",
        description="Secrets are encrypted with a key kept outside the database "
                    "(ORCHESTRATE_NB_SECRET_KEY, or a key file readable by you only).")
    commands = group.add_subparsers(dest="secret_command", metavar="COMMAND", required=True)
    set_ = commands.add_parser("set", help="set a secret: typed without echo, or piped in")
    set_.add_argument("name", metavar="NAME", help="lowercase letters, numbers and dashes")
    set_.add_argument("--overwrite", action="store_true", help="replace an existing secret")
    set_.set_defaults(handler=set_secret)
    ls = commands.add_parser("ls", help="list secrets (names only)")
    ls.set_defaults(handler=list_secrets)
    rm = commands.add_parser("rm", help="remove a secret")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(handler=remove_secret)


def set_secret(args: argparse.Namespace) -> int:
    from orchestrate_nb.blocks.core import validate_block_name
    from orchestrate_nb.blocks.system import Secret
    from orchestrate_nb.cli.format import InvalidArgument

    name = validate_block_name(args.name)
    value = _read_value(name)
    if not value:
        raise InvalidArgument("empty secret: nothing was saved")
    from pydantic import SecretStr

    Secret(value=SecretStr(value)).save(name, overwrite=args.overwrite)
    print(f"Saved secret {name} (encrypted; read it with Secret.load({name!r}).get())")
    return 0


def _read_value(name: str) -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"Value of secret {name} (not shown): ")
    text = sys.stdin.read() if sys.stdin is not None else ""
    return text[:-1] if text.endswith("\n") else text


def list_secrets(args: argparse.Namespace) -> int:
    from rich.table import Table

    from orchestrate_nb.cli.format import format_time, make_console
    from orchestrate_nb.store.blocks import list_blocks
    from orchestrate_nb.store.handles import shared_database

    found = list_blocks(shared_database(), "secret")
    console = make_console()
    if not found:
        console.print("No secrets. Set one with: orchestrate-nb secret set NAME")
        return 0
    table = Table(title=f"{len(found)} secret(s)", title_justify="left", header_style="bold")
    for column in ("NAME", "VALUE", "UPDATED"):
        table.add_column(column)
    for record in found:
        table.add_row(record.name, "**********", format_time(record.updated))
    console.print(table)
    return 0


def remove_secret(args: argparse.Namespace) -> int:
    from orchestrate_nb.store.blocks import delete_block
    from orchestrate_nb.store.handles import shared_database

    delete_block(shared_database(), args.name, "secret")
    print(f"Removed secret {args.name}")
    return 0
