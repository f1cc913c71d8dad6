"""Transactions (Prefect 3's ``prefect.transactions``), engine side.

A transaction groups task runs: each task run that completes inside one is staged in it
(a child transaction keyed by the run's cache key) with its ``on_commit`` /
``on_rollback`` hooks and its cache record. When the outermost transaction commits, its
children commit in order: their commit hooks run and their cache records are written.
When it rolls back (an exception left the ``with`` block, or ``txn.rollback()``), the
children roll back in reverse order: each completed task run is marked ``RolledBack`` and
its rollback hooks run; no cache record of them is written.

Outside any transaction a task run still commits at once (its ``on_commit`` hooks run
after it completes), as in Prefect. Hot path: a task run without hooks outside a
transaction pays one context-variable read.

``key`` with a result store records the transaction itself: entering a transaction whose
key is already recorded finds it committed (``txn.is_committed()``), so work can be made
idempotent; ``overwrite=True`` ignores the record. Isolation: ``READ_COMMITTED`` (the
default) takes no lock; ``SERIALIZABLE`` holds an exclusive lock on the key (a lock file in
the home, taken with ``fcntl``, so it holds across processes on this machine) from entry to
commit or rollback.
"""

from __future__ import annotations

import copy
import enum
import inspect
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar, Token
from typing import Any

from orchestrate_nb.errors import OrchestrateError

_log = logging.getLogger("orchestrate_nb.transactions")
_MISSING: Any = object()


class IsolationLevel(str, enum.Enum):
    READ_COMMITTED = "READ_COMMITTED"
    SERIALIZABLE = "SERIALIZABLE"


class CommitMode(str, enum.Enum):
    EAGER = "EAGER"
    LAZY = "LAZY"
    OFF = "OFF"


class TransactionState(str, enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    STAGED = "STAGED"
    COMMITTED = "COMMITTED"
    ROLLED_BACK = "ROLLED_BACK"


current_transaction: ContextVar[Transaction | None] = ContextVar(
    "orchestrate_nb_transaction", default=None)


class Transaction:
    """One transaction: values (``set``/``get``), staged work, children, hooks."""

    def __init__(self, key: str | None = None, store: Any = None,
                 commit_mode: CommitMode | None = None,
                 isolation_level: IsolationLevel | None = None, overwrite: bool = False,
                 write_on_commit: bool = True,
                 logger: logging.Logger | logging.LoggerAdapter[Any] | None = None) -> None:
        self.key = key
        self.store = store
        self.commit_mode = CommitMode(commit_mode) if commit_mode is not None else None
        self.isolation_level = (IsolationLevel(isolation_level)
                                if isolation_level is not None else None)
        self.overwrite = overwrite
        self.write_on_commit = write_on_commit
        self.logger = logger or _log
        self.state = TransactionState.PENDING
        self.children: list[Transaction] = []
        self.on_commit_hooks: list[Callable[[Transaction], Any]] = []
        self.on_rollback_hooks: list[Callable[[Transaction], Any]] = []
        self.parent: Transaction | None = None
        self._values: dict[str, Any] = {}
        self._staged: Any = None
        self._save: Callable[[], None] | None = None  # writes a task run's cache record
        self._token: Token[Transaction | None] | None = None
        self._lock: _KeyLock | None = None
        self._children_lock = threading.Lock()

    # -- values --------------------------------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        """Keep a value for later in the transaction (hooks read it with ``get``)."""
        self._values[name] = value

    def get(self, name: str, default: Any = _MISSING) -> Any:
        """A value set on this transaction or, failing that, on a parent; a copy, so
        changing it changes nothing until ``set`` is called again."""
        if name in self._values:
            return copy.deepcopy(self._values[name])
        if self.parent is not None:
            return self.parent.get(name, default)
        if default is not _MISSING:
            return default
        raise ValueError(f"Could not retrieve value for unknown key: {name}")

    # -- state ---------------------------------------------------------------------------
    def is_committed(self) -> bool:
        return self.state is TransactionState.COMMITTED

    def is_rolled_back(self) -> bool:
        return self.state is TransactionState.ROLLED_BACK

    def is_staged(self) -> bool:
        return self.state is TransactionState.STAGED

    def is_pending(self) -> bool:
        return self.state is TransactionState.PENDING

    def is_active(self) -> bool:
        return self.state is TransactionState.ACTIVE

    def get_parent(self) -> Transaction | None:
        return self.parent

    def add_child(self, child: Transaction) -> None:
        with self._children_lock:
            self.children.append(child)

    def stage(self, value: Any, on_rollback_hooks: list[Callable[..., Any]] | None = None,
              on_commit_hooks: list[Callable[..., Any]] | None = None) -> None:
        """Stage a value to be written at commit, with hooks to run then."""
        if self.state is TransactionState.COMMITTED:
            return
        self._staged = value
        self.on_rollback_hooks += on_rollback_hooks or []
        self.on_commit_hooks += on_commit_hooks or []
        self.state = TransactionState.STAGED

    def read(self) -> Any:
        """The value recorded under this transaction's key (None when there is none)."""
        if self.store is None or self.key is None:
            return None
        hit, value = self.store.read(self.key)
        return value if hit else None

    # -- entering and leaving ------------------------------------------------------------
    def __enter__(self) -> Transaction:
        if self._token is not None:
            raise OrchestrateError("this transaction is already open; open a new one")
        parent = current_transaction.get()
        self.parent = parent
        if self.commit_mode is None:
            self.commit_mode = parent.commit_mode if parent is not None else CommitMode.LAZY
        if self.isolation_level is None:
            self.isolation_level = (parent.isolation_level if parent is not None
                                    else IsolationLevel.READ_COMMITTED)
        self.state = TransactionState.ACTIVE
        self._begin()
        self._token = current_transaction.set(self)
        return self

    async def __aenter__(self) -> Transaction:
        return self.__enter__()

    async def __aexit__(self, *exc_info: Any) -> None:
        self.__exit__(*exc_info)

    def _begin(self) -> None:
        if self.key is not None and self.isolation_level is IsolationLevel.SERIALIZABLE:
            self._lock = _KeyLock(self.key)
            self._lock.acquire()
        if not self.overwrite and self.store is not None and self.key is not None:
            hit, _ = self.store.read(self.key)
            if hit:
                self.state = TransactionState.COMMITTED

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._token is None:
            raise OrchestrateError("this transaction was left without being entered")
        current_transaction.reset(self._token)
        self._token = None
        parent = self.parent
        if exc_type is not None:
            self.rollback()  # and the exception goes on
        else:
            if self.commit_mode is CommitMode.EAGER:
                self.commit()
            if parent is None:  # nobody else will: commit (or, in mode OFF, roll back)
                if self.commit_mode is CommitMode.OFF:
                    self.rollback()
                else:
                    self.commit()
        if parent is not None:  # the parent takes responsibility
            if self.state is TransactionState.ROLLED_BACK:
                parent.rollback()
            else:
                parent.add_child(self)

    def commit(self) -> bool:
        """Commit the children, run the commit hooks, write what was staged."""
        if self.state in (TransactionState.ROLLED_BACK, TransactionState.COMMITTED):
            self._unlock()
            return False
        try:
            for child in list(self.children):
                child.commit()
            for hook in self.on_commit_hooks:
                self._run_hook(hook, "commit")
            if self.write_on_commit:
                self._write()
            self.state = TransactionState.COMMITTED
            return True
        except Exception:
            self.logger.exception("An error was encountered while committing transaction "
                                  "%r; rolling it back", self.key)
            self.rollback()
            return False
        finally:
            self._unlock()

    def _write(self) -> None:
        if self._save is not None:
            self._save()
        elif self.store is not None and self.key is not None:
            from orchestrate_nb.results.serializers import get_serializer

            self.store.write(self.key, self._staged, get_serializer(None), None, "transaction")

    def rollback(self) -> bool:
        """Run the rollback hooks (last staged first) and roll the children back."""
        if self.state in (TransactionState.ROLLED_BACK, TransactionState.COMMITTED):
            return False
        try:
            for hook in reversed(self.on_rollback_hooks):
                self._run_hook(hook, "rollback")
            self.state = TransactionState.ROLLED_BACK
            for child in reversed(list(self.children)):
                child.rollback()
            return True
        except Exception:
            self.logger.exception("An error was encountered while rolling back "
                                  "transaction %r", self.key)
            return False
        finally:
            self._unlock()

    def _run_hook(self, hook: Callable[..., Any], kind: str) -> None:
        name = getattr(hook, "__name__", repr(hook))
        quiet = getattr(hook, "log_on_run", True) is False
        if not quiet:
            self.logger.info("Running %s hook %r", kind, name)
        result = hook(self)
        if inspect.isawaitable(result):
            from orchestrate_nb.engine.calls import run_coro_sync

            run_coro_sync(result)  # type: ignore[arg-type]
        if not quiet:
            self.logger.info("%s hook %r finished running successfully", kind.capitalize(),
                             name)

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __repr__(self) -> str:
        return f"Transaction(key={self.key!r}, state={self.state.value})"


def get_transaction() -> Transaction | None:
    """The innermost open transaction, or None."""
    return current_transaction.get()


@contextmanager
def transaction(key: str | None = None, store: Any = None,
                commit_mode: CommitMode | None = None,
                isolation_level: IsolationLevel | None = None, overwrite: bool = False,
                write_on_commit: bool = True,
                logger: logging.Logger | logging.LoggerAdapter[Any] | None = None
                ) -> Iterator[Transaction]:
    """Open a transaction: task runs completed inside it commit together when the block
    ends, or roll back (their ``on_rollback`` hooks run) when it raises."""
    if key is not None and store is None:
        from orchestrate_nb.results.store import default_store

        store = default_store()
    elif store is not None and not hasattr(store, "read"):
        from orchestrate_nb.results.store import resolve_store

        store = resolve_store(store)
    if logger is None:
        logger = _run_logger_or_none() or _log
    with Transaction(key, store, commit_mode, isolation_level, overwrite, write_on_commit,
                     logger) as txn:
        yield txn


@asynccontextmanager
async def atransaction(key: str | None = None, store: Any = None,
                       commit_mode: CommitMode | None = None,
                       isolation_level: IsolationLevel | None = None, overwrite: bool = False,
                       write_on_commit: bool = True,
                       logger: logging.Logger | logging.LoggerAdapter[Any] | None = None
                       ) -> AsyncIterator[Transaction]:
    """``transaction`` for ``async with`` (Prefect's ``atransaction``)."""
    with transaction(key, store, commit_mode, isolation_level, overwrite, write_on_commit,
                     logger) as txn:
        yield txn


def _run_logger_or_none() -> Any:
    from orchestrate_nb.engine.context import flow_run_ctx, task_run_ctx
    from orchestrate_nb.engine.logging import run_logger

    task_ctx = task_run_ctx.get()
    if task_ctx is not None:
        return run_logger(task_run=task_ctx.task_run)
    flow_ctx = flow_run_ctx.get()
    return run_logger(flow_run=flow_ctx.flow_run) if flow_ctx is not None else None


# -- task runs ---------------------------------------------------------------------------
def stage_task_run(parent: Transaction | None, engine: Any, value: Any, key: str | None,
                   save: Callable[[], None] | None) -> None:
    """A task run completed: stage it in the open transaction (commit later), or, with
    none open, commit it now (its commit hooks run, its cache record is written)."""
    task = engine.task
    child = Transaction(key=key, logger=engine.logger())
    child.parent = parent
    child.commit_mode = CommitMode.LAZY
    child._save = save
    mark = _RolledBackMarker(engine)
    child.stage(value, on_rollback_hooks=[mark, *task.on_rollback_hooks],
                on_commit_hooks=list(task.on_commit_hooks))
    if parent is None or parent.commit_mode is CommitMode.EAGER:
        child.commit()
    if parent is not None:
        parent.add_child(child)


class _RolledBackMarker:
    """The first rollback hook of a task run: its state becomes ``RolledBack``."""

    log_on_run = False

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __call__(self, txn: Transaction) -> None:
        from orchestrate_nb.core.states import Completed

        self.engine.set_state(Completed(name="RolledBack",
                                        message="Task rolled back as part of transaction"))


class _KeyLock:
    """An exclusive lock on a transaction key, across threads and processes of this host."""

    _thread_locks: dict[str, threading.Lock] = {}
    _guard = threading.Lock()

    def __init__(self, key: str) -> None:
        self.key = key
        self.fd: int | None = None
        with _KeyLock._guard:
            self.thread_lock = _KeyLock._thread_locks.setdefault(key, threading.Lock())

    def acquire(self) -> None:
        import fcntl
        import hashlib

        from orchestrate_nb.private_files import private_dir
        from orchestrate_nb.settings import load_settings

        self.thread_lock.acquire()
        folder = load_settings().home / "locks"
        private_dir(folder)
        name = hashlib.sha256(self.key.encode()).hexdigest()[:32]
        self.fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        import fcntl

        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
            self.thread_lock.release()
