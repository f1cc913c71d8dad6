"""The writer process: writes the batches one flow process's reporter sends it.

    python -P -m orchestrate_nb.store.writer_process    (started by ``remote.ProcessSink``)

It reads messages (``remote.py`` describes them) on stdin, writes each batch through a
``LocalSink`` (as the reporter's own thread would) and acknowledges it on stdout. What
arrives while a batch is written is written next, as one batch, in one transaction: the
busier the flow, the larger the batches. It heartbeats the reporter's unfinished runs
while it idles, says what the reporter's process should log (never on its own stderr,
which a notebook user does not see), and, at the end of its input (the reporter closed it,
or its process died), writes what it has and exits.

One thread: a second would wait for the GIL behind the writing. It ignores SIGINT and runs in
its own session: a Ctrl-C meant for the flow, or a kill of the flow's process group, must
not lose the runs the flow has already handed over.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
import time
from typing import IO, Any

from orchestrate_nb.store.remote import send, split_frames, unpack_events

READ_SIZE = 1 << 20


class _Forward(logging.Handler):
    """Log records go to the reporter's process, as ``("log", level, logger, message)``."""

    def __init__(self, out: IO[bytes], lock: threading.Lock) -> None:
        super().__init__()
        self._out = out
        self._lock = lock
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self._lock:
                send(self._out, ("log", record.levelno, record.name, self.format(record)))
        except Exception:  # the reporter has gone: nobody to tell
            pass


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, out = sys.stdin.fileno(), sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but messages on the reporter's pipe
    buffer = bytearray()
    messages: list[tuple[Any, ...]] = []
    while not messages:  # the opening message (read unbuffered: os.read below takes the rest)
        chunk = os.read(fd, READ_SIZE)
        if not chunk:
            return 2
        buffer += chunk
        messages = split_frames(buffer)
    opening, messages = messages[0], messages[1:]
    if opening[0] != "open":
        return 2
    _, settings, owner, recover, retry_window, heartbeat_interval, level = opening
    lock = threading.Lock()  # the alerts' thread logs too
    package_log = logging.getLogger("orchestrate_nb")
    package_log.handlers[:] = [_Forward(out, lock)]
    package_log.setLevel(level)
    package_log.propagate = False

    from orchestrate_nb.store.sink import LocalSink

    sink = LocalSink(settings, owner, retry_window)
    sink.open(recover)
    ended = False
    next_heartbeat = time.monotonic() + heartbeat_interval
    while True:
        if messages:
            _write(sink, messages, out, lock)
        if ended:
            break
        if time.monotonic() >= next_heartbeat:
            next_heartbeat = time.monotonic() + heartbeat_interval
            sink.heartbeat()
        ready, _, _ = select.select([fd], [], [], max(0.0, next_heartbeat - time.monotonic()))
        chunk = os.read(fd, READ_SIZE) if ready else b""
        ended = bool(ready) and not chunk
        buffer += chunk
        messages = split_frames(buffer)
    sink.dispose()
    return 0


def _write(sink: Any, messages: list[tuple[Any, ...]], out: IO[bytes],
           lock: threading.Lock) -> None:
    events: list[Any] = []
    for _, _, packed in messages:
        events.extend(unpack_events(packed))
    sink.write(events)
    try:
        with lock:
            send(out, ("ack", messages[-1][1], sink.lost))
    except OSError:  # the reporter has gone: write what is left, then stop
        pass


if __name__ == "__main__":
    sys.exit(main())
