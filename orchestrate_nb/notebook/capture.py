"""A cell's output, recorded while it runs (the user still sees it live) and shown again on a
cache hit.

While a ``%%task`` cell or ``%flow run`` executes, ``sys.stdout``/``sys.stderr`` and the
shell's display publisher are wrapped by routers. A router passes everything through and
also appends it to the :class:`Recording` of the cell that wrote it, found through a
contextvar: cells run in other threads (``--parallel``, ``--timeout``) record their own
output, and what the engine logs between attempts is recorded by no cell.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

OutputEvent = tuple[Any, ...]  # ("stdout"|"stderr", text) or ("display", data, metadata)

_recording: ContextVar[Recording | None] = ContextVar("orchestrate_nb_recording", default=None)
_install_lock = threading.Lock()


class Recording:
    """The output of one cell run, in order."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[OutputEvent] = []

    def text(self, stream: str, text: str) -> None:
        events = self.events
        if events and events[-1][0] == stream:
            events[-1] = (stream, events[-1][1] + text)
        else:
            events.append((stream, text))

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        self.events.append(("display", dict(data), dict(metadata or {})))


@contextmanager
def recording() -> Iterator[Recording]:
    """Record what this thread's code writes and displays (routers must be installed)."""
    record = Recording()
    token = _recording.set(record)
    try:
        yield record
    finally:
        _recording.reset(token)


class _StreamRouter:
    """Stands in for ``sys.stdout`` or ``sys.stderr``."""

    def __init__(self, target: Any, stream: str) -> None:
        self._target = target
        self._stream = stream

    def write(self, text: str) -> int:
        record = _recording.get()
        if record is not None and isinstance(text, str):
            record.text(self._stream, text)
        return self._target.write(text)  # type: ignore[no-any-return]

    @property
    def unrecorded(self) -> Any:
        """The stream itself, for run-log lines (they reach the run store on their own)."""
        return self._target

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class OutputRouter:
    """Installs the routers of one shell for as long as any user needs them."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._depth = 0
        self._saved: tuple[Any, Any, Any] | None = None

    @contextmanager
    def active(self) -> Iterator[None]:
        with _install_lock:
            if self._depth == 0:
                self._install()
            self._depth += 1
        try:
            yield
        finally:
            with _install_lock:
                self._depth -= 1
                if self._depth == 0:
                    self._uninstall()

    def _install(self) -> None:
        publisher = self.shell.display_pub
        original = publisher.publish
        self._saved = (sys.stdout, sys.stderr, publisher)

        def publish(data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
            record = _recording.get()
            if record is not None and not kwargs.get("update") and isinstance(data, dict):
                record.display(data, metadata)
            return original(data, metadata, *args, **kwargs)

        publisher.publish = publish
        sys.stdout = _StreamRouter(sys.stdout, "stdout")  # type: ignore[assignment]
        sys.stderr = _StreamRouter(sys.stderr, "stderr")  # type: ignore[assignment]

    def _uninstall(self) -> None:
        if self._saved is None:
            return
        stdout, stderr, publisher = self._saved
        self._saved = None
        if isinstance(sys.stdout, _StreamRouter):
            sys.stdout = stdout
        if isinstance(sys.stderr, _StreamRouter):
            sys.stderr = stderr
        publisher.__dict__.pop("publish", None)  # the class's own method again


def replay(events: list[OutputEvent], shell: Any) -> None:
    """Show recorded output again: text to the streams, displays through the shell (which
    flushes the streams first, so the order holds). No flush of our own: in a kernel each
    one waits for the IO thread, and that would be most of a cache hit's cost."""
    for event in events:
        if event[0] == "display":
            shell.display_pub.publish(data=event[1], metadata=event[2])
        else:
            stream = sys.stdout if event[0] == "stdout" else sys.stderr
            stream.write(event[1])


def show_pending_figures() -> None:
    """Draw the figures the cell made now, inside its recording (matplotlib's inline backend
    would otherwise draw them after the cell, where no recording sees them)."""
    backend = sys.modules.get("matplotlib_inline.backend_inline")
    if backend is None or threading.current_thread() is not threading.main_thread():
        return
    try:
        backend.flush_figures()
    except Exception:  # noqa: BLE001 - drawing is best effort; the cell itself succeeded
        return
