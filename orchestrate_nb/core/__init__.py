"""Pure definitions: states, events, tasks and flows. No I/O, no Jupyter."""
