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

from orchestrate_nb.store.remote import ACK_INTERVAL, send, split_frames, unpack_events

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
    written = acked = 0  # the last batch written, and acknowledged
    acked_at = next_heartbeat = time.monotonic()
    next_heartbeat += heartbeat_interval
    while True:
        wanted = False
        batches = []
        for message in messages:
            if message[0] == "write":
                batches.append(message)
            else:  # "sync": acknowledge what came before it
                wanted = True
        if batches:
            _write(sink, batches)
            written = batches[-1][1]
        now = time.monotonic()
        if written > acked and (wanted or ended or now - acked_at >= ACK_INTERVAL):
            _acknowledge(out, lock, written, sink.lost)
            acked, acked_at = written, now
        elif wanted:
            _acknowledge(out, lock, acked, sink.lost)
        if ended:
            break
        if now >= next_heartbeat:
            next_heartbeat = now + heartbeat_interval
            sink.heartbeat()
        wait = next_heartbeat - now
        if written > acked:  # acknowledge the last batches once things go quiet
            wait = min(wait, ACK_INTERVAL)
        ready, _, _ = select.select([fd], [], [], max(0.0, wait))
        chunk = os.read(fd, READ_SIZE) if ready else b""
        ended = bool(ready) and not chunk
        buffer += chunk
        messages = split_frames(buffer)
    sink.dispose()
    return 0


def _write(sink: Any, batches: list[tuple[Any, ...]]) -> None:
    events: list[Any] = []
    for _, _, packed in batches:
        events.extend(unpack_events(packed))
    sink.write(events)


def _acknowledge(out: IO[bytes], lock: threading.Lock, seq: int, lost: int) -> None:
    try:
        with lock:
            send(out, ("ack", seq, lost))
    except OSError:  # the reporter has gone: write what is left, then stop
        pass


if __name__ == "__main__":
    sys.exit(main())
