"""``orchestrate-nb deployment webhook NAME``: make, list and revoke webhook triggers."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from typing import Any

from orchestrate_nb.errors import OrchestrateError

UTC = dt.timezone.utc
SERVER_URL_ENV = "ORCHESTRATE_NB_SERVER_URL"
DEFAULT_SERVER_URL = "http://127.0.0.1:4200"


class WebhookUsageError(OrchestrateError):
    pass


def register(commands: Any) -> None:
    hook = commands.add_parser(
        "webhook", help="make a webhook URL that triggers a run (or --ls, --revoke)",
        description="Print a URL with a secret path; a POST of a JSON body to it (served by "
                    "orchestrate-nb server start) creates a run of NAME. The secret is shown "
                    "once and stored hashed: keep the URL like a password, revoke it if it "
                    "leaks.")
    hook.add_argument("name", metavar="NAME")
    hook.add_argument("--map", action="append", metavar="PARAM=TEMPLATE", dest="mapping",
                      help="a parameter from the body, e.g. 'repo={{body.repository.name}}' "
                           "(also {{headers.x-github-event}}); repeatable")
    hook.add_argument("--base-url", metavar="URL",
                      help=f"the server's public URL (default: {SERVER_URL_ENV} or "
                           f"{DEFAULT_SERVER_URL})")
    action = hook.add_mutually_exclusive_group()
    action.add_argument("--ls", action="store_true", help="list the deployment's webhooks")
    action.add_argument("--revoke", metavar="ID|all", help="revoke one webhook, or all")
    hook.set_defaults(handler=webhook)


def webhook(args: argparse.Namespace) -> int:
    from orchestrate_nb.cli.format import make_console
    from orchestrate_nb.server.services import BadRequest
    from orchestrate_nb.server.webhooks import parse_mapping
    from orchestrate_nb.store import deployments as store
    from orchestrate_nb.store import webhooks
    from orchestrate_nb.store.database import open_database

    if (args.ls or args.revoke) and (args.mapping or args.base_url):
        raise WebhookUsageError("--map and --base-url are for making a webhook, not with "
                                "--ls or --revoke")
    try:
        mapping = parse_mapping(args.mapping or [])
    except BadRequest as exc:
        raise WebhookUsageError(str(exc)) from None
    base = (args.base_url or os.environ.get(SERVER_URL_ENV) or DEFAULT_SERVER_URL).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise WebhookUsageError(f"--base-url must start with http:// or https://, got {base!r}")
    console = make_console()
    database = open_database()
    try:
        if args.ls:
            with store.read(database) as conn:
                deployment = store.get_deployment(conn, args.name)
                found = webhooks.list_webhooks(conn, deployment.id)
            if not found:
                console.print(f"No webhooks for {args.name!r}. Make one with: orchestrate-nb "
                              f"deployment webhook {args.name}")
            for hook in found:
                used = hook.last_used.strftime("%Y-%m-%d %H:%M") if hook.last_used else "never"
                shown = ", ".join(f"{k}={v}" for k, v in hook.mapping.items()) or "(no mapping)"
                console.print(f"{hook.id}  made {hook.created:%Y-%m-%d %H:%M}  last used "
                              f"{used}  {shown}", markup=False, highlight=False)
            return 0
        if args.revoke:
            with store.write(database) as conn:
                deployment = store.get_deployment(conn, args.name)
                target = None if args.revoke == "all" else args.revoke
                removed = webhooks.revoke(conn, deployment.id, target)
            if not removed:
                raise WebhookUsageError(f"{args.name!r} has no webhook {args.revoke!r} "
                                        "(see: --ls)")
            console.print(f"Revoked {removed} webhook(s) of {args.name!r}.")
            return 0
        with store.write(database) as conn:
            deployment = store.get_deployment(conn, args.name)
            hook_id, secret = webhooks.create_webhook(conn, deployment.id, mapping,
                                                      dt.datetime.now(UTC))
    finally:
        database.dispose()
    print(f"{base}/orchestrate/hooks/{secret}")
    make_console(stderr=True).print(f"Webhook {hook_id} of {args.name!r}: POST a JSON body to the URL above "
                  "(header X-Delivery-Id or X-GitHub-Delivery: a replay within an hour "
                  "creates no second run). It is shown only now; revoke it with "
                  f"--revoke {hook_id}.", highlight=False, markup=False)
    return 0
