"""``orchestrate-nb server start``: the runs UI, the API, webhooks and /metrics without Jupyter."""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import socket
import sys
from typing import Any

from orchestrate_nb.errors import OrchestrateError

TOKEN_ENV = "ORCHESTRATE_NB_SERVER_TOKEN"
READ_ONLY_TOKEN_ENV = "ORCHESTRATE_NB_SERVER_READ_ONLY_TOKEN"
MIN_TOKEN_LENGTH = 16


class ServerError(OrchestrateError):
    """A server option the user must change (one line)."""


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "server", help="serve the runs UI, the API, webhooks and /metrics without Jupyter",
        description="The standalone Orchestrate server (pip install 'orchestrate-nb[server]').")
    commands = group.add_subparsers(dest="server_command", metavar="COMMAND", required=True)
    start = commands.add_parser(
        "start", help="start the server (127.0.0.1:4200; a token is printed)",
        description="Serve /orchestrate/ (the UI), /orchestrate/api/, /metrics and "
                    "/orchestrate/hooks/ on HOST:PORT. A token is required: give one "
                    f"(--token or {TOKEN_ENV}) or one is made and printed. Binding an "
                    "address other than loopback needs a token you give.")
    start.add_argument("--host", default="127.0.0.1", metavar="H")
    start.add_argument("--port", default=4200, type=int, metavar="P",
                       help="the port (4200; 0 picks a free one)")
    start.add_argument("--token", metavar="T",
                       help=f"the token that may read and write (or {TOKEN_ENV}; "
                            "the environment keeps it out of the process list)")
    start.add_argument("--read-only-token", metavar="T",
                       help=f"a token that may only read (or {READ_ONLY_TOKEN_ENV})")
    start.add_argument("--root-dir", metavar="DIR",
                       help="the folder notebook paths are relative to (the current one)")
    start.add_argument("--threads", type=int, default=8, metavar="N",
                       help="threads the store calls run on (8)")
    start.set_defaults(handler=start_server)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP (not 0): asyncio turns Nagle off (TCP_NODELAY) only on accepted
    # sockets whose proto says TCP; with it on, every answer waited ~40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def start_server(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_ENV) or None
    read_only = args.read_only_token or os.environ.get(READ_ONLY_TOKEN_ENV) or None
    if not 0 <= args.port <= 65535:
        raise ServerError(f"--port must be between 0 and 65535, got {args.port}")
    if args.threads < 1 or args.threads > 256:
        raise ServerError(f"--threads must be between 1 and 256, got {args.threads}")
    if not _loopback(args.host) and token is None:
        raise ServerError(f"refusing to listen on {args.host} without a token you give: pass "
                          f"--token (or set {TOKEN_ENV}), or use --host 127.0.0.1")
    for name, value in (("--token", token), ("--read-only-token", read_only)):
        if value is not None and len(value) < MIN_TOKEN_LENGTH:
            raise ServerError(f"{name} must be at least {MIN_TOKEN_LENGTH} characters")
    if token is not None and read_only is not None and token == read_only:
        raise ServerError("--read-only-token must differ from --token")
    try:
        import uvicorn

        from orchestrate_nb.server.asgi import Tokens, create_app
    except ImportError as exc:
        raise ServerError(f"the server needs its extra ({exc.name} is missing): pip install "
                          "'orchestrate-nb[server]'") from None
    from orchestrate_nb.server.services import OrchestrateService

    made = token is None
    token = token or secrets.token_hex(24)
    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    service = OrchestrateService(root_dir=args.root_dir)
    app = create_app(service, Tokens(token, read_only), api_threads=args.threads)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{shown}:{port}"
    print(f"orchestrate_nb server, run store {service.display_url}", flush=True)
    if made:
        print(f"    {base}/orchestrate/?token={token}", flush=True)
    else:
        print(f"    {base}/orchestrate/  (open it with ?token=<your token>)", flush=True)
    print(f"    API {base}/orchestrate/api/   metrics {base}/metrics   webhooks "
          f"{base}/orchestrate/hooks/", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            server_header=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        service.close()
    print("orchestrate_nb server stopped", file=sys.stderr, flush=True)
    return 0
