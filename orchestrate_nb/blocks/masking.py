"""Secret values loaded in this process are masked in every log record made after.

A ``Secret`` (or any block with secret fields) registers its values when it is loaded;
from then on a log record whose message contains one has it replaced by ``**********``
before any handler sees it: the console, a cell's output, the run store's log lines. The
record factory costs one check of an empty set while no secret is loaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

MASK = "**********"
MIN_LENGTH = 4  # shorter values would mask ordinary words
_values: set[str] = set()
_lock = threading.Lock()
_installed = False
_previous_factory = logging.getLogRecordFactory()


def register_secret_values(values: Iterable[Any]) -> None:
    """Mask these values (strings, or the strings inside dicts and lists) from now on."""
    global _installed
    found = set(_strings(values))
    if not found:
        return
    with _lock:
        _values.update(found)
        if not _installed:
            _install()
            _installed = True


def mask_secrets(text: str) -> str:
    """``text`` with every registered secret value replaced by the mask."""
    if not _values:
        return text
    for value in sorted(_values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


def _strings(values: Iterable[Any]) -> Iterable[str]:
    for value in values:
        if isinstance(value, str):
            if len(value) >= MIN_LENGTH:
                yield value
        elif isinstance(value, bytes):
            yield from _strings([value.decode("utf-8", "replace")])
        elif isinstance(value, dict):
            yield from _strings(value.values())
        elif isinstance(value, list | tuple):
            yield from _strings(value)
        elif value is not None and not isinstance(value, bool):
            yield from _strings([str(value)])


def _install() -> None:
    global _previous_factory
    _previous_factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(_masking_record_factory)


def _masking_record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _previous_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a bad format: the handler reports it as usual
        return record
    masked = mask_secrets(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        if mask_secrets(text) != text:
            record.exc_text = mask_secrets(text)
            record.exc_info = None  # handlers format exc_info themselves: keep only the text
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
    return record
