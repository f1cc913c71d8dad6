"""The reporter's side of the writer process: batches out as bytes, acknowledgements back.

A flow's tasks and the store's writing used to share one interpreter, and so one GIL: the
writer thread's Python (planning rows, binding values) ran in the gaps of the flow's, and
most of it ended up after the flow's body, in its final flush. The writer process
(``writer_process.py``) takes that work to its own interpreter and core; this side only
pickles each batch (~1.2 µs a task's three events) and writes it to a pipe.

Messages are length-prefixed pickles (``send``/``receive``), between two processes of the
same user and the same interpreter. To the writer process:

- ``("open", settings, owner, recover, retry_window, heartbeat_interval, log_level)`` first;
- ``("write", seq, events)``: written in order; several waiting are written as one batch;
- ``("sync",)``: acknowledge at once what has been written (a flush waits on it).

From it:

- ``("ack", seq, lost)``: every batch up to ``seq`` is committed (or given up and counted in
  ``lost``, the total so far). Sent on ``sync``, and otherwise at most every
  ``ACK_INTERVAL`` seconds: a thread woken for each one would take the GIL from the flow
  at every hand-over (a pipe write lets a waiting thread in, and the flow then waits for
  the GIL for up to a switch interval, 5 ms);
- ``("log", level, logger, message)``: a line for the reporter's process to log (the one
  line an unreachable store gets must reach the user's cell, not the writer's stderr).

The batches not yet acknowledged are kept (as bytes): if the writer process dies, the
reporter writes them itself. Closing the pipe is the writer process's signal to write what it
has and exit, so a flow process that is killed still has its runs recorded.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from orchestrate_nb.core.events import (
    DependencyEdge,
    FlowRunCreated,
    LogEmitted,
    StateChanged,
    TaskRunCreated,
)

log = logging.getLogger("orchestrate_nb.store")
_HEADER = struct.Struct(">I")
PROTOCOL = pickle.HIGHEST_PROTOCOL
PIPE_SIZE = 1 << 20
ACK_INTERVAL = 0.2  # seconds between unrequested acknowledgements


# Events travel as plain tuples, with the index of each one's kind here in a byte string: a
# NamedTuple pickles through a Python-level __getnewargs__, at twice the cost, and both are
# made by ``map`` without a Python-level loop.
EVENT_KINDS = (FlowRunCreated, TaskRunCreated, StateChanged, DependencyEdge, LogEmitted)
_KIND_INDEX = {kind: i for i, kind in enumerate(EVENT_KINDS)}
_OTHER = 255  # not an event (a bug upstream): sent as it is, and lost with one line there


def pack_events(events: list[Any]) -> tuple[bytes, list[Any]]:
    try:
        kinds = bytes(map(_KIND_INDEX.__getitem__, map(type, events)))
    except KeyError:
        kinds = bytes(_KIND_INDEX.get(type(e), _OTHER) for e in events)
        return kinds, [e if kind == _OTHER else tuple(e) for kind, e in zip(kinds, events)]
    return kinds, list(map(tuple, events))


def unpack_events(packed: tuple[bytes, list[Any]]) -> list[Any]:
    kinds, values = packed
    types = EVENT_KINDS
    return [value if kind == _OTHER else types[kind]._make(value)
            for kind, value in zip(kinds, values)]


def frame(message: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(message, PROTOCOL)
    return _HEADER.pack(len(data)) + data


_SYNC_FRAME = frame(("sync",))


def send(stream: IO[bytes], message: tuple[Any, ...]) -> None:
    stream.write(frame(message))
    stream.flush()


def receive(stream: IO[bytes]) -> tuple[Any, ...] | None:
    """The next message, or None at the end of the stream."""
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    data = _read_exactly(stream, _HEADER.unpack(header)[0])
    if data is None:
        return None
    message: tuple[Any, ...] = pickle.loads(data)
    return message


def split_frames(buffer: bytearray) -> list[tuple[Any, ...]]:
    """The whole messages at the start of ``buffer`` (removed from it)."""
    messages = []
    start, size = 0, len(buffer)
    while size - start >= _HEADER.size:
        (length,) = _HEADER.unpack_from(buffer, start)
        end = start + _HEADER.size + length
        if end > size:
            break
        messages.append(pickle.loads(buffer[start + _HEADER.size:end]))
        start = end
    del buffer[:start]
    return messages


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class ProcessSink:
    """A writer process and the batches it has not acknowledged yet.

    ``write`` never blocks unless asked to (``wait=True``, the reporter's writer thread):
    a batch the pipe has no room for (the writer process is behind) waits in ``outbox``
    until the writer thread sends it, and until then nothing is sent past it. ``on_ack`` is
    called on the acknowledgement reader's thread with (seq, lost); ``on_exit`` once, when
    the writer process has gone.
    """

    def __init__(self, on_ack: Callable[[int, int], None], on_exit: Callable[[], None]) -> None:
        self._on_ack = on_ack
        self._on_exit = on_exit
        self._process: subprocess.Popen[bytes] | None = None
        self._fd = -1
        self._lock = threading.Lock()
        self._seq = 0
        self._unacked: deque[tuple[int, bytes]] = deque()
        self.outbox = bytearray()  # sent only after what is already in the pipe
        self.acked = 0
        self.dead = False

    def start(self, settings: Any, owner: Any, recover: bool, retry_window: float,
              heartbeat_interval: float) -> None:
        """Start the writer process (raises OSError when it cannot be started)."""
        env = dict(os.environ)
        # The writer imports this very package, wherever it was imported from here; and
        # never the user's working folder (``-P``), whose files could shadow a module.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH")) if p)
        self._process = process = subprocess.Popen(
            [sys.executable, "-P", "-m", "orchestrate_nb.store.writer_process"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
            # Its own session: a Ctrl-C, or a kill of this process's group (a cancelled run),
            # must not stop it before it has written what it was given.
            start_new_session=True)
        assert process.stdin is not None
        level = logging.getLogger("orchestrate_nb.store").getEffectiveLevel()
        send(process.stdin, ("open", settings, owner, recover, retry_window,
                             heartbeat_interval, level))
        self._fd = process.stdin.fileno()
        _grow_pipe(self._fd)
        os.set_blocking(self._fd, False)
        threading.Thread(target=self._read_acks, name="orchestrate_nb-store-acks",
                         daemon=True).start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def sent(self) -> int:
        """The sequence number of the last batch handed over."""
        return self._seq

    def write(self, events: list[Any], wait: bool) -> bool:
        """Hand ``events`` to the writer process (kept until it acknowledges them). Without
        ``wait``, False when some of it is left in ``outbox`` (the pipe is full)."""
        self._seq += 1
        data = frame(("write", self._seq, pack_events(events)))
        with self._lock:
            self._unacked.append((self._seq, data))
        if self.dead:
            return True
        if self.outbox:
            self.outbox += data
        else:
            written = self._write_some(data)
            if written < len(data):
                self.outbox += memoryview(data)[written:]
        if wait:
            self.send_outbox()
        return not self.outbox

    def sync(self) -> None:
        """Ask for an acknowledgement of everything handed over so far (after ``write``)."""
        if self.dead:
            return
        if self.outbox:
            self.outbox += _SYNC_FRAME
            return
        written = self._write_some(_SYNC_FRAME)
        if written < len(_SYNC_FRAME):
            self.outbox += _SYNC_FRAME[written:]

    def send_outbox(self) -> None:
        """Block until ``outbox`` is in the pipe (or the writer process has gone)."""
        while self.outbox and not self.dead:
            try:
                select.select([], [self._fd], [], 1.0)
            except (OSError, ValueError):
                self.dead = True
                return
            written = self._write_some(self.outbox)
            del self.outbox[:written]

    def _write_some(self, data: bytes | bytearray) -> int:
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            return 0
        except (OSError, ValueError):  # it has gone: the reader says so
            self.dead = True
            return len(data)

    def take_unacknowledged(self) -> list[list[Any]]:
        """The batches the writer process never acknowledged (once it has gone)."""
        with self._lock:
            batches = [unpack_events(pickle.loads(data[_HEADER.size:])[2])
                       for _, data in self._unacked]
            self._unacked.clear()
        self.outbox.clear()
        return batches

    def close(self, timeout: float) -> None:
        """Tell the writer process to finish (end of its input), and wait for it a while."""
        process = self._process
        if process is None:
            return
        self.send_outbox()
        try:
            process.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:  # a stuck store: it goes on writing, then exits
            log.debug("run store writer process %s still writing", process.pid)

    def forget_after_fork(self) -> None:
        """In a forked child: drop this process's ends of the pipes (the parent's writer
        process must see its input end when the parent closes it, not when every child has)."""
        process = self._process
        self.dead = True
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                try:
                    os.close(stream.fileno())
                except (OSError, ValueError):
                    pass
        process.returncode = 0  # never waited for here: it is the parent's child

    def _read_acks(self) -> None:
        stdout = self._process.stdout  # type: ignore[union-attr]
        try:
            while True:
                message = receive(stdout)  # type: ignore[arg-type]
                if message is None:
                    break
                if message[0] == "ack":
                    _, seq, lost = message
                    with self._lock:
                        while self._unacked and self._unacked[0][0] <= seq:
                            self._unacked.popleft()
                        self.acked = seq
                    self._on_ack(seq, lost)
                elif message[0] == "log":
                    _, level, name, text = message
                    logging.getLogger(name).log(level, "%s", text)
        except Exception:  # a garbled stream: the writer process is of no more use
            log.exception("run store writer process sent something unreadable")
        finally:
            self.dead = True
            self._on_exit()


def _grow_pipe(fd: int) -> None:
    """Linux: a 1 MiB pipe (64 KiB by default) lets a burst of tasks go without waiting."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    except (ImportError, OSError):
        pass
