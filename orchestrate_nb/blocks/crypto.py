"""The key that encrypts blocks' secret fields, and the encryption itself (Fernet).

The key is never in the database: it is ``ORCHESTRATE_NB_SECRET_KEY`` when set (workers on
several machines share it that way), else a file readable by its owner only
(``ORCHESTRATE_NB_SECRET_KEY_FILE``, default ``~/.config/orchestrate-nb/secret.key``),
created on first use. Creating it is race-safe: the key is written to a private temporary
file that is then hard-linked into place, so two processes starting at once end with one
key, and no process ever reads a half-written one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrate_nb.errors import SecretKeyError
from orchestrate_nb.private_files import FILE_MODE, private_dir
from orchestrate_nb.settings import SECRET_KEY_ENV, secret_key_file, secret_key_from_env

if TYPE_CHECKING:
    from cryptography.fernet import Fernet


def fernet(create: bool = True) -> Fernet:
    """The Fernet of the configured key; ``create``: make the key file if there is none."""
    from cryptography.fernet import Fernet

    key, where = _key(create)
    try:
        return Fernet(key)
    except ValueError:
        raise SecretKeyError(f"the secret key in {where} is not a valid key (32 url-safe "
                             "base64-encoded bytes, as Fernet.generate_key() makes)") from None


def encrypt(plaintext: bytes) -> str:
    return fernet().encrypt(plaintext).decode("ascii")


def decrypt(token: str, what: str) -> bytes:
    """``token`` decrypted; a wrong key is one clear line naming ``what`` was saved."""
    from cryptography.fernet import InvalidToken

    try:
        return fernet(create=False).decrypt(token.encode("ascii"))
    except InvalidToken:
        raise SecretKeyError(
            f"cannot decrypt the secret fields of {what}: they were saved with another secret "
            f"key than {_describe_source()} (set {SECRET_KEY_ENV} to the key they were saved "
            "with, or save them again)") from None


def _describe_source() -> str:
    if secret_key_from_env():
        return f"${SECRET_KEY_ENV}"
    return str(secret_key_file())


def _key(create: bool) -> tuple[bytes, str]:
    from_env = secret_key_from_env()
    if from_env:
        return from_env.strip().encode("ascii", "replace"), f"${SECRET_KEY_ENV}"
    path = secret_key_file()
    try:
        return path.read_bytes().strip(), str(path)
    except FileNotFoundError:
        if not create:
            raise SecretKeyError(
                f"no secret key: {path} does not exist and {SECRET_KEY_ENV} is not set, so "
                "secrets saved elsewhere cannot be read here (set the key they were saved "
                "with)") from None
    except OSError as exc:
        raise SecretKeyError(f"cannot read the secret key {path}: {exc.strerror}") from None
    return _create_key_file(path), str(path)


def _create_key_file(path: Path) -> bytes:
    from cryptography.fernet import Fernet

    private_dir(path.parent)
    key = Fernet.generate_key()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret.key.")
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, key + b"\n")
        os.fsync(fd)
        os.close(fd)
        try:
            os.link(temporary, path)  # fails if another process made it first: use theirs
        except FileExistsError:
            return path.read_bytes().strip()
        return key
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
