"""The zygote: ``main()`` runs in a process a worker's launcher starts (``ZYGOTE_MAIN``).

It imports what runs need once (``deploy/preload.py``), then forks a run process per request
read from stdin and reports on stdout when each one ends (the protocol is described in
``deploy/launcher.py``). It is single-threaded, so forking it is safe; it ignores SIGINT (a
Ctrl-C in the worker's terminal is for the worker, which stops its runs itself) and exits
when stdin closes.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import sys
from typing import Any

from orchestrate_nb.private_files import open_private


def main() -> None:
    messages = os.dup(1)  # the protocol's channel; stray prints go to stderr instead
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select() through wake_w

    import orchestrate_nb.deploy.preload  # noqa: F401 - the point of the zygote

    def send(message: dict[str, Any]) -> None:
        os.write(messages, json.dumps(message).encode() + b"\n")

    buffer = b""
    while True:
        reap(send)
        ready, _, _ = select.select([0, wake_r], [], [], 5.0)
        if wake_r in ready:
            os.read(wake_r, 4096)
        if 0 not in ready:
            continue
        chunk = os.read(0, 1 << 20)
        if not chunk:
            return  # the worker is gone
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            request = json.loads(line)
            try:
                pid = os.fork()
            except OSError as exc:
                send({"error": f"fork failed: {exc}"})
                continue
            if pid == 0:
                run_child(request, closing=(messages, wake_r, wake_w))
            send({"started": pid})


def reap(send: Any) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send({"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def run_child(request: dict[str, Any], closing: tuple[int, ...]) -> None:
    """In the forked run process: never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in closing:
            os.close(fd)
        os.setsid()
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        log = open_private(request["log"], os.O_WRONLY | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        from orchestrate_nb.deploy.execute import main as execute

        code = execute([request["run_id"]])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported in the run's log, then exit 1
        import traceback

        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    main()
