"""``orchestrate-nb concurrency-limit``: create, list and remove concurrency limits."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from orchestrate_nb.store.concurrency import ConcurrencyStore, LimitInfo


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "concurrency-limit", help="limit how many task runs with a tag run at once",
        description="Concurrency limits, held across processes in the run store. A limit "
                    "applies to task runs tagged with its name and to "
                    "orchestrate_nb.concurrency.concurrency(NAME) / rate_limit(NAME).")
    commands = group.add_subparsers(dest="limit_command", metavar="COMMAND", required=True)

    create = commands.add_parser("create", help="create a limit, or change an existing one")
    create.add_argument("tag", metavar="TAG", help="the tag (or limit name) to limit")
    create.add_argument("limit", metavar="N", help="how many slots may be held at once (≥ 1)")
    create.add_argument("--slot-decay-per-second", metavar="R", dest="decay",
                        help="make it a rate limit too: slots taken by rate_limit() "
                             "drain at R per second")
    create.set_defaults(handler=create_limit)

    ls = commands.add_parser("ls", help="list limits, their active slots and holders")
    ls.set_defaults(handler=list_limits)

    rm = commands.add_parser("rm", help="remove a limit (releasing its slots)")
    rm.add_argument("tag", metavar="TAG", help="the limit to remove")
    rm.set_defaults(handler=remove_limit)


def create_limit(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import make_console

    name = _parse_name(args.tag)
    limit = _parse_limit(args.limit)
    decay = None if args.decay is None else _parse_decay(args.decay)
    with _open_store() as store:
        created = store.set_limit(name, limit, decay)
    rate = f", decaying {decay:g} slot(s) per second" if decay else ""
    verb = "Created" if created else "Updated"
    make_console().print(f"{verb} concurrency limit {name!r}: {limit} slot(s){rate}.")
    return 0


def list_limits(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import make_console

    with _open_store() as store:
        limits = store.list_limits()
    console = make_console()
    if limits:
        console.print(_limits_table(limits))
    else:
        console.print("No concurrency limits. Create one with: "
                      "orchestrate-nb concurrency-limit create TAG N")
    return 0


def remove_limit(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import make_console

    with _open_store() as store:
        released = store.delete_limit(args.tag)
    held = f" ({released} held slot(s) released)" if released else ""
    make_console().print(f"Removed concurrency limit {args.tag!r}{held}.")
    return 0


# -- parsing and showing -----------------------------------------------------------------
def _parse_name(text: str) -> str:
    from orchestrate_nb.cli.format import InvalidArgument

    name = text.strip()
    if not name:
        raise InvalidArgument("a concurrency limit needs a name (the tag it limits)")
    return name


def _parse_limit(text: str) -> int:
    from orchestrate_nb.cli.format import parse_count

    return parse_count(text, "limit", "slots")


def _parse_decay(text: str) -> float:
    from orchestrate_nb.cli.format import InvalidArgument

    try:
        decay = float(text)
    except ValueError:
        decay = 0.0
    if not decay > 0 or decay == float("inf"):
        raise InvalidArgument(f"invalid --slot-decay-per-second {text!r}: give a positive number")
    return decay


def _limits_table(limits: list[LimitInfo]) -> Table:
    from rich.table import Table

    from orchestrate_nb.cli.format import format_time

    table = Table(title=f"{len(limits)} concurrency limit{'s' if len(limits) != 1 else ''}",
                  title_justify="left", header_style="bold")
    for column in ("NAME", "LIMIT", "ACTIVE SLOTS", "DECAY/S", "HOLDERS"):
        table.add_column(column, justify="right" if column in ("LIMIT", "ACTIVE SLOTS",
                                                                "DECAY/S") else "left")
    for info in limits:
        holders = "\n".join(
            f"{h.holder_name or h.holder[:8]}: {h.occupy} slot(s), pid {h.owner_pid} on "
            f"{h.owner_host} since {format_time(h.acquired_at, time_only=True)}"
            for h in info.holders) or "—"
        decay = f"{info.slot_decay_per_second:g}" if info.slot_decay_per_second else "—"
        table.add_row(info.name, str(info.limit), f"{info.active_slots:g}"
                      if info.active_slots == int(info.active_slots)
                      else f"{info.active_slots:.2f}", decay, holders)
    return table


@contextmanager
def _open_store() -> Iterator[ConcurrencyStore]:
    """The concurrency store of the configured database, closed afterwards."""
    from orchestrate_nb.engine.concurrency import invalidate_limit_cache
    from orchestrate_nb.store.concurrency import open_concurrency_store

    store = open_concurrency_store()
    try:
        yield store
    finally:
        store.close()
        invalidate_limit_cache()  # this process (a notebook calling main()) sees the change
