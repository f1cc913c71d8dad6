"""``orchestrate-nb``: the parser, and the one place errors become a line on stderr.

Importing this module is cheap (argparse only): command modules import rich and the store
inside their handlers, so ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from orchestrate_nb.cli import (
    alerts,
    artifacts,
    blocks,
    concurrency,
    db,
    deploy,
    runs,
    secrets,
    server,
    variables,
    worker,
)
from orchestrate_nb.errors import OrchestrateError

COMMAND_GROUPS = (deploy, runs, worker, concurrency, artifacts, variables,
                  secrets, blocks, alerts, server, db)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrate-nb",
        description="Prefect-style workflow orchestration for Jupyter: inspect runs, "
                    "manage the run store.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 error, 2 usage, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except OrchestrateError as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"Error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("orchestrate-nb")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
