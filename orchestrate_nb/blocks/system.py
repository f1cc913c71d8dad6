"""The system blocks: ``Secret``, ``JSON`` and ``String`` (Prefect's ``prefect.blocks.system``)."""

from __future__ import annotations

from typing import Any, Union

from pydantic import Field, SecretStr
from pydantic import Secret as PydanticSecret

from orchestrate_nb.blocks.core import Block


class Secret(Block):
    """A secret value: encrypted at rest, masked in logs once loaded, shown nowhere.

    ``Secret(value="s3cr3t").save("db-password")``; ``Secret.load("db-password").get()``.
    """

    _block_type_name = "Secret"
    value: Union[SecretStr, PydanticSecret[Any]] = Field(  # noqa: UP007 (pydantic reads it)
        description="A string, or any JSON value, to keep secret")

    def get(self) -> Any:
        """The value in clear (keep it out of prints: logs mask it, outputs cannot)."""
        return self.value.get_secret_value()


class JSON(Block):
    """Any JSON value, in plain text (``JSON(value={"a": 1}).save("settings")``)."""

    _block_type_name = "JSON"
    value: Any = Field(description="A JSON-compatible value")


class String(Block):
    """A string, in plain text."""

    _block_type_name = "String"
    value: str = Field(description="A string value")
