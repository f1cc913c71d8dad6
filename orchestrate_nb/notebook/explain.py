"""Why a cell ran or did not, in a few words, and the one-line badge that says it.

``⟳ cached · saved 12.3 s``, ``▶ re-ran: n changed · 0.52 s``,
``▶ ran · 3 ms · not cached: 'conn' (socket) can't be pickled``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrate_nb.notebook.state import LastRun
from orchestrate_nb.settings import refresh_every_cache

CACHED_MARK = "⟳"
RAN_MARK = "▶"
NO_ENTRY = "re-ran: no cache entry (cleared or expired)"
REFRESHED = "re-ran: the cache is not read here (a deployment run computes fresh)"
_STYLE = "font-size:85%;color:#5f6b7a;font-family:var(--jp-ui-font-family,sans-serif)"
_NOT_CACHED_STYLE = "color:#9a6700"


def why_it_ran(previous: LastRun | None, code_hash: str, inputs: Mapping[str, str],
               files: Mapping[str, str] | None = None) -> str:
    """``ran: first run``, ``re-ran: code changed``, ``re-ran: n changed``,
    ``re-ran: data/sales.csv changed``... (``files``: the fingerprints of the files the
    last run opened, as they were when this run started)."""
    from orchestrate_nb.notebook.cell_files import changed_files, new_files

    if previous is None:
        return "ran: first run"
    if previous.code_hash != code_hash:
        return "re-ran: code changed"
    changed = [n for n, fp in inputs.items() if previous.inputs.get(n) != fp]
    changed += [n for n in previous.inputs if n not in inputs]
    changed += changed_files(previous.files, files or {})
    if not changed:  # nothing else explains it: a file that appeared in a folder it reads
        changed = new_files(previous.files, files or {})
    if changed:
        return f"re-ran: {name_list(changed)} changed"
    return REFRESHED if refresh_every_cache() else NO_ENTRY


def name_list(names: Sequence[str], limit: int = 3) -> str:
    """``a, b and c``; ``a, b, c and 2 more``."""
    if len(names) <= limit:
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def format_seconds(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def cached_text(saved: float) -> str:
    return f"{CACHED_MARK} cached · saved {format_seconds(saved)}"


def ran_text(why: str, duration: float, not_cached: str | None) -> str:
    text = f"{RAN_MARK} {why} · {format_seconds(duration)}"
    return f"{text} · not cached: {not_cached}" if not_cached else text


def badge_bundle(text: str, name: str) -> dict[str, Any]:
    """The badge as a display bundle: plain text, and a small grey line in HTML."""
    head, sep, warning = text.partition(" · not cached: ")
    body = html.escape(head)
    if sep:
        body += f' · <span style="{_NOT_CACHED_STYLE}">not cached: {html.escape(warning)}</span>'
    title = html.escape(f"task {name}", quote=True)
    return {"text/plain": text,
            "text/html": f'<span class="orchestrate-nb-badge" title="{title}" '
                         f'style="{_STYLE}">{body}</span>'}


def show_badge(shell: Any, text: str, name: str) -> None:
    shell.display_pub.publish(data=badge_bundle(text, name), metadata={})
