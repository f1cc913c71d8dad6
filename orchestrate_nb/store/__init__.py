"""The run store: SQL run history written off the hot path.

Importing this package is free; its modules import SQLAlchemy, so the engine only loads
them (through ``orchestrate_nb.store.reporter:create_store_reporter``) when a run is recorded.

- ``orm``         typed models of the schema (migrations create exactly this)
- ``database``    engines (SQLite pragmas, BEGIN IMMEDIATE writes) and ``open_database``
- ``schema``      Alembic upgrade on first use, serialised across processes
- ``batch``       pure coalescing of a batch of RunEvents into rows and updates
- ``writer``      writes one batch in one transaction (retries, isolating bad events)
- ``reporter``    the RunReporter: a deque on the caller's side, a writer thread on the other
- ``remote``      the reporter's side of the writer process (batches out as bytes, acks back)
- ``writer_process`` the writer process; ``sink`` opens the database and writes batches in it
- ``processes``   who owns a run, and whether that process is still alive
- ``recovery``    marks the runs of dead processes CRASHED
- ``concurrency`` concurrency limits and the slots held against them, across processes
- ``pauses``      paused flow runs: pause, resume, time out (conditional state changes)
- ``repository``  the query API of the CLI and the server; ``views`` the records it returns
"""
