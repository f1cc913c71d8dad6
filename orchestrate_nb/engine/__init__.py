"""The engine: runs flows and tasks as explicit state machines and emits RunEvents."""
