"""Where each task cell stands, and why: completed, cached, not cached, failed, never run, or
stale.

A cell is stale when one of its inputs now holds something else than when it last ran (an
upstream cell ran again and produced another value, or a plain cell changed it), when a file
it read or wrote has other content now, when its saved code differs from the code it ran,
or when a cell upstream of it is stale. A cell reading a URL or a database is flagged: no
file fingerprint follows those, so it needs ``--cache-expiration`` or ``--no-cache``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from orchestrate_nb.notebook.analysis import Edge, downstream_of
from orchestrate_nb.notebook.cell_files import changed_files
from orchestrate_nb.notebook.cell_run import UNHASHABLE
from orchestrate_nb.notebook.cells import TaskCell
from orchestrate_nb.notebook.explain import format_seconds, name_list
from orchestrate_nb.notebook.file_state import declared_files, display_path
from orchestrate_nb.notebook.fingerprints import current_fingerprint
from orchestrate_nb.notebook.graph.states import STATE_COLOURS
from orchestrate_nb.notebook.state import CellRecord, KernelState

FRESH = frozenset({"completed", "cached", "not cached"})
# names whose use means the cell reads from the network or a database
REMOTE_NAMES = frozenset({"requests", "httpx", "urllib", "urlopen", "aiohttp", "sqlite3",
                          "sqlalchemy", "create_engine", "psycopg", "psycopg2", "pymysql",
                          "pymongo", "boto3", "duckdb", "read_sql", "read_sql_query"})
REMOTE_NOTE = "reads {}: not a file; use --cache-expiration or --no-cache"


@dataclass(frozen=True)
class CellStatus:
    name: str
    state: str
    why: str = ""
    duration: float | None = None


def statuses(kernel: KernelState, cells: Sequence[TaskCell], edges: Sequence[Edge]
             ) -> dict[str, CellStatus]:
    own = {cell.name: _own_status(kernel, cell) for cell in cells}
    result = dict(own)
    for cell in cells:
        if own[cell.name].state != "stale":
            continue
        for name in sorted(downstream_of(edges, cell.name)):
            status = result[name]
            if status.state in FRESH:
                result[name] = CellStatus(name, "stale", f"upstream {cell.name!r} is stale",
                                          status.duration)
    return result


def _own_status(kernel: KernelState, cell: TaskCell) -> CellStatus:
    record = kernel.records.get(cell.name)
    if record is None:
        return CellStatus(cell.name, "never run")
    if cell.saved is not None and record.code_hash != cell.analysis.code_hash:
        return CellStatus(cell.name, "stale", "code changed", record.duration)
    if record.state not in FRESH:
        return CellStatus(cell.name, record.state, record.why, record.duration)
    changed = changed_inputs(kernel, record) + changed_files(record.files) + \
        _new_declared_files(cell, record)
    if changed:
        return CellStatus(cell.name, "stale", f"{name_list(changed)} changed", record.duration)
    remote = remote_source(cell)
    why = f"{record.why}; {REMOTE_NOTE.format(remote)}" if remote else record.why
    return CellStatus(cell.name, record.state, why, record.duration)


def _new_declared_files(cell: TaskCell, record: CellRecord) -> list[str]:
    """Files its ``--files`` patterns and path literals name now that its last run did not
    see (a new part in a dataset folder)."""
    patterns = cell.options.files if cell.options is not None else ()
    known = {*record.files, *record.skipped}
    return [display_path(path) for path in declared_files(patterns, cell.analysis.path_literals)
            if path not in known]


def remote_source(cell: TaskCell) -> str | None:
    """What a cached cell reads that is not a file (a URL, a database), if anything."""
    options = cell.options
    if options is not None and (options.no_cache or options.cache_expiration):
        return None
    analysis = cell.analysis
    if analysis.remote_literals:
        return analysis.remote_literals[0]
    used = REMOTE_NAMES.intersection((*analysis.inputs, *analysis.modules))
    return f"through {sorted(used)[0]}" if used else None


def changed_inputs(kernel: KernelState, record: CellRecord) -> list[str]:
    """Inputs that hold something else now than when the cell last ended."""
    changed = []
    for name, expected in (record.inputs_after or record.inputs).items():
        if expected == UNHASHABLE:
            continue  # no fingerprint then: no way to tell
        try:
            now = current_fingerprint(name, kernel.namespace, kernel.known)
        except Exception:  # noqa: BLE001 - unhashable now: it changed
            now = UNHASHABLE
        if now != expected:
            changed.append(name)
    return changed


def needs_running(found: dict[str, CellStatus], edges: Sequence[Edge]) -> set[str]:
    """``%flow run --stale``: cells not fresh, and everything downstream of them."""
    selected = {name for name, status in found.items() if status.state not in FRESH}
    for name in list(selected):
        selected |= downstream_of(edges, name)
    return selected


def status_bundle(rows: Sequence[CellStatus], edges: Sequence[Edge] = ()) -> dict[str, str]:
    """The status table as plain text and HTML, then the files that link cells."""
    if not rows:
        text = "no task cells yet (mark a cell with %%task)"
        return {"text/plain": text, "text/html": f"<p>{escape(text)}</p>"}
    table = [("task", "state", "took", "why")] + [_row(r) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    text = "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip()
                     for a, b, c, d in table)
    links = [f"{up} → {down} ({name})" for up, down, name in edges
             if up != down and not name.isidentifier()]
    footer = f"files: {'; '.join(links)}" if links else ""
    return {"text/plain": f"{text}\n{footer}" if footer else text,
            "text/html": _html_table(table) + (f"<p>{escape(footer)}</p>" if footer else "")}


def _row(status: CellStatus) -> tuple[str, str, str, str]:
    """A cached cell's time is what the cache saved ("saved 16 ms"), and its state already
    says it is cached (no "cached" again under why)."""
    if status.duration is None:
        return status.name, status.state, "-", status.why
    took = format_seconds(status.duration)
    if status.state == "cached":
        return (status.name, status.state, f"saved {took}",
                "" if status.why == "cached" else status.why)
    return status.name, status.state, took, status.why


def _html_table(table: list[tuple[str, str, str, str]]) -> str:
    head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in table[0])
    body = "".join(
        f"<tr><td>{escape(name)}</td><td style='color:{STATE_COLOURS.get(state, '#24292f')}'>"
        f"{escape(state)}</td><td>{escape(duration)}</td><td>{escape(why)}</td></tr>"
        for name, state, duration, why in table[1:])
    return f"<table class='orchestrate-nb-status'><tr>{head}</tr>{body}</table>"


def show(shell: Any, bundle: dict[str, str]) -> None:
    shell.display_pub.publish(data=bundle, metadata={})
