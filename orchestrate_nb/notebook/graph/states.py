"""The node-state vocabulary, defined once: each state's mark, colour, and whether it is
final (and unsuccessful). The static SVG, the text fallback and ``%flow status`` read it
here; the widget sends it to its view (the ``states`` trait), whose stylesheet colours
nodes from it, so a state added here shows the same everywhere."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MUTED = "#6e7781"


@dataclass(frozen=True)
class NodeState:
    mark: str
    colour: str
    final: bool = False
    unsuccessful: bool = False


# Order matters: the unsuccessful states are listed (and a group's worst state chosen) in
# this order.
NODE_STATES: dict[str, NodeState] = {
    "completed": NodeState("✓", "#1a7f37", final=True),
    "cached": NodeState("⟳", "#0969da", final=True),
    "not cached": NodeState("✓", "#8250df", final=True),
    "failed": NodeState("✗", "#cf222e", final=True, unsuccessful=True),
    "crashed": NodeState("✗", "#a40e26", final=True, unsuccessful=True),
    "not run": NodeState("·", MUTED, final=True, unsuccessful=True),
    "cancelled": NodeState("⊘", MUTED, final=True, unsuccessful=True),
    "running": NodeState("▶", "#1f6feb"),
    "retrying": NodeState("↻", "#bc4c00"),
    "pending": NodeState("○", MUTED),
    "paused": NodeState("‖", MUTED),
    "stale": NodeState("!", "#9a6700"),
    "never run": NodeState("·", MUTED),
}

FINAL_STATES = frozenset(name for name, state in NODE_STATES.items() if state.final)
UNSUCCESSFUL_STATES = tuple(name for name, state in NODE_STATES.items() if state.unsuccessful)
STATE_COLOURS = {name: state.colour for name, state in NODE_STATES.items()}
STATE_MARKS = {name: state.mark for name, state in NODE_STATES.items()}


def state_table() -> dict[str, dict[str, Any]]:
    """The table as the widget's view receives it (JSON)."""
    return {name: asdict(state) for name, state in NODE_STATES.items()}
