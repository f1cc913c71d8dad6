"""Parameters whose name says they are secret are never stored or shown in clear.

A flow's parameters are recorded masked (the secret never reaches the database), and every
reader of a run (``runs show``, the repository's views) masks them again, which covers
runs created from a deployment: those keep their parameters as given, because the worker
that executes the run needs the values.

A name is secret when its last word (words are ``_``-, ``-``- or camelCase-separated) is one
of ``SECRET_WORDS``: ``password``, ``db_password``, ``apiKey``, ``auth_token``, ``key`` are;
``token_count`` and ``password_file`` are not.
Values of pydantic's ``SecretStr``/``SecretBytes`` need nothing more: their text is
already ``'**********'``.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "**********"  # what pydantic's SecretStr shows
SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "key", "apikey",
    "credential", "credentials", "auth", "authorization", "cookie", "signature",
})
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_MAX_DEPTH = 4


def looks_secret(name: str) -> bool:
    words = _WORDS.findall(name)
    return bool(words) and words[-1].lower() in SECRET_WORDS


def mask_parameters(parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of ``parameters`` with the values of secret-looking names (at any depth) masked."""
    if not parameters:
        return parameters
    return _mask_dict(parameters, 0)


def _mask_dict(values: dict[str, Any], depth: int) -> dict[str, Any]:
    return {name: MASK if value is not None and looks_secret(str(name))
            else _mask_value(value, depth + 1) for name, value in values.items()}


def _mask_value(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return _mask_dict(value, depth)
    if isinstance(value, list):
        return [_mask_value(item, depth + 1) for item in value]
    return value
