"""``Block``: configuration with a name, saved in the run store, as in Prefect.

Subclass it with pydantic fields; ``save(name)`` keeps it, ``load(name)`` brings it back.
Fields whose values are secret (pydantic's ``SecretStr``, ``SecretBytes``, ``Secret[...]``,
or containers of them) are encrypted with the secret key (``crypto.py``), never written in
clear, and their values are masked in logs once loaded (``masking.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import re
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr, Secret, SecretBytes, SecretStr
from pydantic import ValidationError as PydanticValidationError

from orchestrate_nb.blocks import crypto
from orchestrate_nb.blocks.masking import register_secret_values
from orchestrate_nb.errors import BlockError

if TYPE_CHECKING:
    from orchestrate_nb.store.database import Database

UTC = dt.timezone.utc
B = TypeVar("B", bound="Block")
NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SECRET_TYPES = (SecretStr, SecretBytes, Secret)


def block_type_slug(cls: type) -> str:
    """``SlackWebhook`` → ``slack-webhook`` (Prefect's rule), unless the class names one."""
    explicit = getattr(cls, "_block_type_slug", None)
    if explicit:
        return str(explicit)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", cls.__name__).lower()


def validate_block_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise BlockError(f"invalid block name {name!r}: use lowercase letters, numbers and "
                         "dashes (e.g. 'team-slack')")
    return name


class Block(BaseModel):
    """A saved piece of configuration; subclass it (Prefect's ``Block``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, validate_assignment=True)

    _block_type_slug: ClassVar[str | None] = None
    _block_type_name: ClassVar[str | None] = None
    _description: ClassVar[str | None] = None
    _block_document_name: str | None = PrivateAttr(default=None)

    @classmethod
    def get_block_type_slug(cls) -> str:
        return block_type_slug(cls)

    @classmethod
    def get_block_type_name(cls) -> str:
        return cls._block_type_name or cls.__name__

    # -- saving -------------------------------------------------------------------------
    def save(self, name: str | None = None, overwrite: bool = False) -> str:
        """Save under ``name`` (lowercase letters, numbers, dashes); a taken name needs
        ``overwrite=True``. Returns the block's reference, ``"type/name"``."""
        from orchestrate_nb.store.blocks import BlockRecord, save_block
        from orchestrate_nb.store.handles import shared_database

        name = validate_block_name(name if name is not None else self._block_document_name)
        plain, secrets = self._split_fields()
        encrypted = crypto.encrypt(json.dumps(secrets).encode()) if secrets else None
        now = dt.datetime.now(UTC)
        cls = type(self)
        record = BlockRecord(cls.get_block_type_slug(), name,
                             f"{cls.__module__}:{cls.__qualname__}", plain, sorted(secrets),
                             encrypted, now, now)
        save_block(shared_database(), record, overwrite)
        self._block_document_name = name
        register_secret_values(secrets.values())
        return record.ref

    async def asave(self, name: str | None = None, overwrite: bool = False) -> str:
        return await asyncio.to_thread(self.save, name, overwrite)

    def _split_fields(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(plain fields as JSON, secret fields' values in clear)."""
        plain: dict[str, Any] = {}
        secrets: dict[str, Any] = {}
        for field in type(self).model_fields:
            value = getattr(self, field)
            if _holds_secret(value):
                secrets[field] = _reveal(value)
            else:
                plain[field] = self.model_dump(mode="json", include={field})[field]
        return plain, secrets

    # -- loading ------------------------------------------------------------------------
    @classmethod
    def load(cls: type[B], name: str, validate: bool = True) -> B:
        """The block saved as ``name`` (``"type/name"`` on ``Block`` itself)."""
        from orchestrate_nb.store.handles import shared_database

        return cls.load_from(shared_database(), name, validate)

    @classmethod
    def load_from(cls: type[B], database: Database, name: str, validate: bool = True) -> B:
        """``load`` from a given store (a worker's)."""
        from orchestrate_nb.store.blocks import get_block

        block_type = None if cls is Block else cls.get_block_type_slug()
        if block_type is not None and name.startswith(f"{block_type}/"):
            name = name.split("/", 1)[1]
        record = get_block(database, name, block_type)
        target = cls if cls is not Block else _import_class(record.class_path)
        values = dict(record.data)
        if record.encrypted:
            secrets = json.loads(crypto.decrypt(record.encrypted, f"block {record.ref!r}"))
            register_secret_values(secrets.values())
            values.update(secrets)
        try:
            block = target.model_validate(values) if validate else \
                target.model_construct(**values)
        except PydanticValidationError as exc:
            raise BlockError(f"block {record.ref!r} no longer fits {target.__name__}: "
                             f"{exc.error_count()} field(s) invalid "
                             f"({', '.join(str(e['loc'][0]) for e in exc.errors() if e['loc'])})"
                             ) from None
        block._block_document_name = record.name
        return block  # type: ignore[return-value]

    @classmethod
    async def aload(cls: type[B], name: str, validate: bool = True) -> B:
        return await asyncio.to_thread(cls.load, name, validate)

    @classmethod
    def delete(cls, name: str) -> None:
        """Remove the block saved as ``name``."""
        from orchestrate_nb.store.blocks import delete_block
        from orchestrate_nb.store.handles import shared_database

        delete_block(shared_database(), name, None if cls is Block else cls.get_block_type_slug())

    def __repr_args__(self) -> Any:  # secret values never in a repr
        for key, value in super().__repr_args__():
            yield key, ("**********" if _holds_secret(value) else value)


def _holds_secret(value: Any) -> bool:
    if isinstance(value, _SECRET_TYPES):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_secret(item) for item in value)
    return False


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretBytes):
        return value.get_secret_value().decode("utf-8", "replace")
    if isinstance(value, _SECRET_TYPES):
        return _reveal(value.get_secret_value())
    if isinstance(value, dict):
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_reveal(item) for item in value]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def _import_class(class_path: str) -> type[Block]:
    module_name, _, qualname = class_path.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        raise BlockError(f"the block's class {class_path} cannot be imported here: import "
                         "the module that defines it and load it from that class") from None
    if not (isinstance(found, type) and issubclass(found, Block)):
        raise BlockError(f"{class_path} is not a Block class")
    return found
