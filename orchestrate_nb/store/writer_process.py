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
MIN_BATCH = 256  # events gathered into one transaction while a flow is busy
GATHER = 0.002  # seconds of quiet after which what has arrived is written anyway


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
    # Nothing but messages on the reporter's pipe: a stray print (of a library, at C level
    # too) goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    fd = sys.stdin.fileno()
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
    batches: list[tuple[Any, ...]] = []  # received, not written yet
    pending = 0  # events in them
    wanted = False  # a "sync" among them
    while True:
        for message in messages:
            if message[0] == "write":
                batches.append(message)
                pending += len(message[2][0])
            else:  # "sync": acknowledge what came before it
                wanted = True
        messages = []
        # A batch costs a transaction (~0.3 ms on SQLite, round trips on PostgreSQL) however
        # small: while a flow hands events over as it runs, gather MIN_BATCH of them, unless
        # a flush waits or the flow has gone quiet.
        if batches and (wanted or ended or pending >= MIN_BATCH or not _more_within(fd, GATHER)):
            # Durable when acknowledged at once (a flush waits), or at the end: see
            # BatchWriter.write; what is acknowledged later is made durable by then.
            _write(sink, batches, durable=wanted or ended)
            written, batches, pending = batches[-1][1], [], 0
        now = time.monotonic()
        if not batches:
            if written > acked and (wanted or ended or now - acked_at >= ACK_INTERVAL):
                _acknowledge(out, lock, written, sink.lost)
                acked, acked_at = written, now
            elif wanted:
                sink.make_durable()  # what was acknowledged before is on disk now
                _acknowledge(out, lock, acked, sink.lost)
            wanted = False
        if ended:
            break
        if now >= next_heartbeat:
            next_heartbeat = now + heartbeat_interval
            sink.heartbeat()
        wait = next_heartbeat - now
        if written > acked:  # acknowledge the last batches once things go quiet
            wait = min(wait, ACK_INTERVAL)
        if batches:
            wait = 0.0
        ready, _, _ = select.select([fd], [], [], max(0.0, wait))
        chunk = os.read(fd, READ_SIZE) if ready else b""
        ended = bool(ready) and not chunk
        buffer += chunk
        messages = split_frames(buffer)
    sink.dispose()
    return 0


def _more_within(fd: int, seconds: float) -> bool:
    """Whether more input arrives within ``seconds``."""
    ready, _, _ = select.select([fd], [], [], seconds)
    return bool(ready)


def _write(sink: Any, batches: list[tuple[Any, ...]], durable: bool) -> None:
    events: list[Any] = []
    for _, _, packed in batches:
        events.extend(unpack_events(packed))
    sink.write(events, durable)


def _acknowledge(out: IO[bytes], lock: threading.Lock, seq: int, lost: int) -> None:
    try:
        with lock:
            send(out, ("ack", seq, lost))
    except OSError:  # the reporter has gone: write what is left, then stop
        pass


if __name__ == "__main__":
    sys.exit(main())
