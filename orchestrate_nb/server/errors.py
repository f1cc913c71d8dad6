"""The service layer's errors: an HTTP status and one line for the user (never a traceback).

``error_status`` maps the package's own errors the same way, for every adapter.
"""

from __future__ import annotations

from orchestrate_nb.errors import (
    DeploymentError,
    NotebookUsageError,
    NotFound,
    OrchestrateError,
    ParameterTypeError,
    ResumeError,
    StoreError,
)
from orchestrate_nb.settings import mask_url


class ServiceError(Exception):
    """An HTTP status and one line for the user."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    @property
    def message(self) -> str:
        return str(self)


class BadRequest(ServiceError):
    status = 400


class Forbidden(ServiceError):
    status = 403


class NotFoundError(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Unavailable(ServiceError):
    status = 503


def one_line(text: str) -> str:
    return " ".join(str(text).split()) or "error"


def error_status(exc: BaseException) -> tuple[int, str] | None:
    """(HTTP status, one line) for an error the user can act on; None for a bug."""
    if isinstance(exc, ServiceError):
        return exc.status, exc.message
    if isinstance(exc, NotFound):
        return 404, one_line(str(exc))
    if isinstance(exc, StoreError):
        return 503, one_line(mask_url(str(exc)))
    if isinstance(exc, (DeploymentError, ParameterTypeError, ResumeError, NotebookUsageError)):
        return 400, one_line(str(exc))
    if isinstance(exc, OrchestrateError):
        return 400, one_line(str(exc))
    return None

