"""One exception hierarchy for the whole package.

Every adapter (CLI, magics, server) translates ``OrchestrateError`` into its own
one-line presentation in exactly one place.
"""

from __future__ import annotations


class OrchestrateError(Exception):
    """Base of every error orchestrate_nb raises on purpose."""


class ParameterTypeError(OrchestrateError, TypeError):
    """A flow was called with a parameter of the wrong type or an unknown parameter."""


class MappingLengthMismatch(OrchestrateError, ValueError):
    """Iterables passed to ``Task.map`` differ in length."""


class MappingMissingIterable(OrchestrateError, ValueError):
    """``Task.map`` was called without any iterable argument."""


class UpstreamTaskError(OrchestrateError):
    """A task did not run because an upstream task run did not complete."""


class TaskRunTimeoutError(OrchestrateError, TimeoutError):
    """A task run exceeded its ``timeout_seconds``."""


class FlowRunTimeoutError(OrchestrateError, TimeoutError):
    """A flow run exceeded its ``timeout_seconds``."""


class CancelledRun(OrchestrateError):
    """A run was cancelled."""


class StoreError(OrchestrateError):
    """The run store could not be opened or written."""


class NotFound(OrchestrateError, LookupError):
    """A run, flow or other record does not exist."""


class UnfinishedRun(OrchestrateError):
    """A state's result was requested before the run finished."""


class ConcurrencySlotAcquisitionError(OrchestrateError):
    """Concurrency slots cannot be acquired (Prefect's name for this error)."""


class ConcurrencyLimitNotFound(ConcurrencySlotAcquisitionError, LookupError):
    """A concurrency limit that does not exist was named."""


class ConcurrencySlotTimeout(OrchestrateError, TimeoutError):
    """Concurrency slots were not acquired within ``timeout_seconds``."""


class DeploymentError(OrchestrateError, ValueError):
    """A deployment, its schedule or its parameters cannot be accepted (nothing is written)."""


class PauseError(OrchestrateError, RuntimeError):
    """A flow run cannot be paused here (outside a flow, in a task, without a run store)."""


class FlowPauseTimeout(OrchestrateError, TimeoutError):
    """A paused flow run was not resumed within its ``timeout`` (Prefect's name)."""


class ResumeError(OrchestrateError, ValueError):
    """A flow run cannot be resumed: it is not paused, or the input given is refused."""


class NotebookUsageError(OrchestrateError):
    """A ``%%task`` or ``%flow`` line, or the notebook it reads, cannot be used as written.

    Deliberately not a ``ValueError``: argparse would swallow one raised by an option's type
    converter and print its own message instead of ours."""


class BlockError(OrchestrateError, ValueError):
    """A block cannot be saved, loaded or used as asked (nothing is written)."""


class BlockNotFound(BlockError, NotFound):
    """No saved block has that name (and type)."""


class SecretKeyError(BlockError):
    """The key that encrypts secret fields is missing, malformed or not the one they were
    saved with."""


class NotificationError(OrchestrateError):
    """A notification could not be delivered (the receiver refused it or could not be
    reached)."""


class ArtifactError(OrchestrateError, ValueError):
    """An artifact cannot be created or updated as asked (nothing is written)."""


class VariableError(OrchestrateError, ValueError):
    """A variable cannot be set as asked: a bad name, a value JSON cannot hold, or a name
    taken without ``overwrite=True`` (nothing is written)."""


class AlertError(OrchestrateError, ValueError):
    """An alert cannot be created as asked (nothing is written)."""
