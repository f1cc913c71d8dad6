"""The ``%flow status`` table read as a user reads it (no kernel): the time column says what
the figure is, and a cached row says what it saved."""

from __future__ import annotations

from orchestrate_nb.notebook.status import CellStatus, status_bundle


def test_the_time_column_is_not_mistaken_for_when_the_cell_last_ran() -> None:
    rows = [CellStatus("make_csv", "completed", "re-ran: seed changed", 0.006),
            CellStatus("load", "cached", "cached", 0.016),
            CellStatus("plot", "never run")]

    lines = status_bundle(rows)["text/plain"].splitlines()

    assert lines[0].split() == ["task", "state", "took", "why"]
    assert lines[1].split() == ["make_csv", "completed", "6", "ms", "re-ran:", "seed", "changed"]
    assert lines[2].split() == ["load", "cached", "saved", "16", "ms"]  # "cached" once
    assert lines[3].split() == ["plot", "never", "run", "-"]
