"""The runtime: runs flows and tasks as explicit state machines and emits RunEvents."""
