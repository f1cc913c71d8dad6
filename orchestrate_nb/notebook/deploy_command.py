"""``%flow deploy``: deploy the notebook being edited (its saved file), see SPEC §5.

``%flow deploy --name NAME [--cron EXPR | --interval SECONDS | --rrule RULE] [--timezone TZ]
[-p key=value ...] [--pool POOL] [--retries N] [--paused] [--cache refresh|reuse]
[--kernel NAME] [--cwd DIR] [--notebook PATH]``
"""

from __future__ import annotations

import argparse
import shlex
from typing import NoReturn

from orchestrate_nb.errors import NotebookUsageError, OrchestrateError
from orchestrate_nb.notebook.notebook_file import require_notebook
from orchestrate_nb.notebook.state import KernelState

USAGE = ("%flow deploy --name NAME [--cron EXPR | --interval SECONDS | --rrule RULE] "
         "[--timezone TZ] [-p key=value ...] [--pool POOL] [--retries N] [--paused] "
         "[--cache refresh|reuse] [--kernel NAME] [--cwd DIR] [--notebook PATH]")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise NotebookUsageError(f"%flow deploy: {message}; usage: {USAGE}")


def _parser() -> _Parser:
    parser = _Parser(prog="%flow deploy", add_help=False)
    parser.add_argument("--name", required=True)
    schedule = parser.add_mutually_exclusive_group()
    schedule.add_argument("--cron")
    schedule.add_argument("--interval", type=float)
    schedule.add_argument("--rrule")
    parser.add_argument("--timezone", default="UTC")
    parser.add_argument("-p", "--param", action="append", dest="params")
    parser.add_argument("--pool", default="default")
    parser.add_argument("--retries", type=int, default=0)
    parser.add_argument("--paused", action="store_true")
    parser.add_argument("--cache", default="refresh")
    parser.add_argument("--kernel")
    parser.add_argument("--cwd")
    parser.add_argument("--notebook")
    return parser


def deploy_command(kernel: KernelState, rest: str) -> None:
    """Deploy this notebook's saved file; a mistake is one ``NotebookUsageError`` line."""
    from orchestrate_nb.deploy.deployments import deploy_notebook, schedule_of
    from orchestrate_nb.deploy.parameters import parse_key_values

    options = _parser().parse_args(shlex.split(rest))
    path = require_notebook(kernel.notebook_path(options.notebook))
    try:
        info = deploy_notebook(path, options.name, cron=options.cron,
                               interval=options.interval, rrule=options.rrule,
                               timezone=options.timezone,
                               parameters=parse_key_values(options.params),
                               pool=options.pool, retries=options.retries,
                               paused=options.paused, cache=options.cache,
                               kernel=options.kernel, cwd=options.cwd)
    except OrchestrateError as exc:
        raise NotebookUsageError(" ".join(str(exc).split())) from None
    schedule = schedule_of(info)
    when = schedule.describe() if schedule else "no schedule (orchestrate-nb deployment run)"
    print(f"Deployed {path.name} as {info.name!r}: {when}"
          f"{' (paused)' if info.paused else ''}. It runs the saved notebook: "
          "save it before deploying changes.")
