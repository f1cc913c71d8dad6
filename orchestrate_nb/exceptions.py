"""Prefect's exception names (``from orchestrate_nb.exceptions import FailedRun``).

Every class is, or is a subclass of, ``orchestrate_nb.errors.OrchestrateError``
(``PrefectException`` is that class), so code that catches Prefect's names catches ours.
"""

from __future__ import annotations

from orchestrate_nb.errors import (
    CancelledRun,
    ConcurrencySlotAcquisitionError,
    CrashedRun,
    FailedRun,
    FlowPauseTimeout,
    MappingLengthMismatch,
    MappingMissingIterable,
    MissingContextError,
    MissingResult,
    NotFound,
    OrchestrateError,
    ParameterTypeError,
    PausedRun,
    UnfinishedRun,
    UnsupportedFeature,
    UpstreamTaskError,
)

PrefectException = OrchestrateError
ObjectNotFound = NotFound


class ParameterBindError(ParameterTypeError):
    """Arguments that do not fit a flow's signature."""


class SignatureMismatchError(OrchestrateError, TypeError):
    """Parameters that do not match a function's signature."""


class ObjectAlreadyExists(OrchestrateError):
    """A record that exists already."""


class ReservedArgumentError(OrchestrateError, TypeError):
    """A function uses an argument name the engine reserves (``return_state``,
    ``wait_for``)."""


class InvalidNameError(OrchestrateError, ValueError):
    """A name with characters that are not allowed."""


class MissingFlowError(OrchestrateError):
    """A flow that could not be found in a file."""


class ScriptError(OrchestrateError):
    """A script that failed while being loaded."""


class NotPausedError(OrchestrateError):
    """A run that is not paused was asked to resume."""


class FlowRunWaitTimeout(OrchestrateError, TimeoutError):
    """Waiting for a flow run took longer than allowed."""


class ConfigurationError(OrchestrateError):
    """A setting or option that cannot be used as given."""


class SerializationError(OrchestrateError):
    """A value that could not be serialized."""


class HashError(OrchestrateError):
    """A value that could not be hashed (for a cache key)."""


class PrefectSignal(BaseException):  # noqa: N818 - Prefect's name
    """Signals that end a run from inside it."""


class Abort(PrefectSignal):
    """Abort the run without a state change."""


class Pause(PrefectSignal):
    """Pause the run."""


class ExternalSignal(BaseException):  # noqa: N818 - Prefect's name
    """A signal from outside the process."""


class TerminationSignal(ExternalSignal):
    """The process was asked to terminate (SIGTERM)."""


__all__ = [
    "Abort", "CancelledRun", "ConcurrencySlotAcquisitionError", "ConfigurationError",
    "CrashedRun", "ExternalSignal", "FailedRun", "FlowPauseTimeout", "FlowRunWaitTimeout",
    "HashError", "InvalidNameError", "MappingLengthMismatch", "MappingMissingIterable",
    "MissingContextError", "MissingFlowError", "MissingResult", "NotPausedError",
    "ObjectAlreadyExists", "ObjectNotFound", "ParameterBindError", "ParameterTypeError",
    "Pause", "PausedRun", "PrefectException", "PrefectSignal", "ReservedArgumentError",
    "ScriptError", "SerializationError", "SignatureMismatchError", "TerminationSignal",
    "UnfinishedRun", "UnsupportedFeature", "UpstreamTaskError",
]
