"""The task graph: its model, layout, static SVG and live widget (see the notebook package)."""
