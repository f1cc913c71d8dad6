"""What a failed node of the run graph says: the exception and the user's last frame, read
from the traceback its failure log line carries (the same text the run store keeps).

Read from the text, not from the exception object, because the graph only sees run events:
the failure of a task run in a process pool or on a Dask worker arrives the same way.
"""

from __future__ import annotations

import re

TRACEBACK_START = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]*)", line \d+, in .*$')
# frames of installed packages, the standard library and our own engine are not the user's
_LIBRARY = re.compile(r"[/\\](site-packages|dist-packages|lib[/\\]python\d[^/\\]*)[/\\]"
                      r"|[/\\]orchestrate_nb[/\\](engine|notebook|core)[/\\]")


def failure_details(message: str) -> dict[str, str] | None:
    """``{"exception": "ValueError: bad row", "frame": 'File "...", line 5, in check\\n
    raise ValueError(...)'}`` from a log message ending with a traceback; None without one."""
    start = message.rfind(TRACEBACK_START)
    if start < 0:
        return None
    lines = message[start + len(TRACEBACK_START):].splitlines()
    frames = [i for i, line in enumerate(lines) if _FRAME.match(line)]
    if not frames:
        return None
    exception = "\n".join(line for line in lines[_frame_end(lines, frames[-1]):]
                          if line.strip()).strip()
    return {"exception": exception, "frame": _frame_text(lines, _user_frame(lines, frames))}


def _user_frame(lines: list[str], frames: list[int]) -> int:
    """The last frame in the user's code (a cell, a script), else the last frame."""
    for index in reversed(frames):
        match = _FRAME.match(lines[index])
        if match and not _LIBRARY.search(match["file"]):
            return index
    return frames[-1]


def _frame_end(lines: list[str], index: int) -> int:
    """The line after frame ``index``'s source lines (indented deeper than ``File``)."""
    end = index + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    return end


def _frame_text(lines: list[str], index: int) -> str:
    source = [line.strip() for line in lines[index + 1:_frame_end(lines, index)]]
    code = [line for line in source if line and set(line) - set("^~ ")]  # not the carets
    return "\n    ".join([lines[index].strip(), *code[:1]])
