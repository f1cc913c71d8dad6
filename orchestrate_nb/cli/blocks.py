"""``orchestrate-nb block``: list, show (secret fields masked) and remove saved blocks."""

from __future__ import annotations

import argparse
import json
from typing import Any

MASK = "**********"


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "block", help="saved blocks: secrets, notification blocks, your own",
        description="Blocks are saved from Python (SlackWebhook(url=...).save('team')); "
                    "NAME may be TYPE/NAME when two types share a name.")
    commands = group.add_subparsers(dest="block_command", metavar="COMMAND", required=True)
    ls = commands.add_parser("ls", help="list blocks")
    ls.set_defaults(handler=list_blocks)
    show = commands.add_parser("show", help="a block's fields (secret ones masked)")
    show.add_argument("name", metavar="NAME")
    show.set_defaults(handler=show_block)
    rm = commands.add_parser("rm", help="remove a block")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(handler=remove_block)


def list_blocks(args: argparse.Namespace) -> int:
    from rich.table import Table

    from orchestrate_nb.cli.format import format_time, make_console
    from orchestrate_nb.store.blocks import list_blocks as query
    from orchestrate_nb.store.handles import shared_database

    found = query(shared_database())
    console = make_console()
    if not found:
        console.print("No blocks. Save one from Python, e.g. "
                      "SlackWebhook(url=...).save('team'), or: orchestrate-nb secret set NAME")
        return 0
    table = Table(title=f"{len(found)} block(s)", title_justify="left", header_style="bold")
    for column in ("NAME", "TYPE", "SECRET FIELDS", "UPDATED"):
        table.add_column(column)
    for record in found:
        table.add_row(record.name, record.block_type, ", ".join(record.secret_fields) or "—",
                      format_time(record.updated))
    console.print(table)
    return 0


def show_block(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import format_time, make_console
    from orchestrate_nb.store.blocks import get_block
    from orchestrate_nb.store.handles import shared_database

    record = get_block(shared_database(), args.name)
    console = make_console()
    console.print(f"{record.ref}  ({record.class_path}, updated {format_time(record.updated)})",
                  markup=False)
    fields = {**record.data, **{name: MASK for name in record.secret_fields}}
    for name, value in fields.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        console.print(f"  {name}: {shown}", markup=False)
    return 0


def remove_block(args: argparse.Namespace) -> int:
    from orchestrate_nb.store.blocks import delete_block
    from orchestrate_nb.store.handles import shared_database

    record = delete_block(shared_database(), args.name)
    print(f"Removed block {record.ref}")
    return 0
