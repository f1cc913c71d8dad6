"""Whom the result store trusts: a cache entry is a pickle, and loading one runs code.

- Every entry carries a MAC (keyed BLAKE2b, 128 bits) of the key it was stored under, its
  header (checksum of every frame, expiry, serializer, frame sizes) and its main stream
  (the pickle itself), made with a secret only this user can read. An entry whose MAC does
  not match (rewritten by someone else, copied from another key, or written with another
  secret) is a miss: nothing of it is unpickled.
- The secret is ``ORCHESTRATE_NB_RESULTS_KEY`` when set (machines that share an fsspec
  store set the same value), else ``ORCHESTRATE_NB_HOME/results.key``: 32 random bytes made
  on first use, readable by this user only. Racing processes agree on one file: each writes
  its own temporary file and links it into place; the first link wins.
- A local results folder that another user owns, or that group or others may write, is not
  used: one warning, then tasks run uncached. So is a key file others may read.

Whoever can write a shared fsspec store *and* knows the secret can make any process that
reads the store run code: give the secret only to machines (and people) you trust as you
trust your own account.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import stat
from contextlib import suppress
from pathlib import Path

from orchestrate_nb.settings import HOME_ENV, RESULTS_KEY_ENV, load_settings

log = logging.getLogger("orchestrate_nb.results")
KEY_FILE = "results.key"
MAC_BYTES = 16
_KEY_HEX_LENGTH = 64


class Signer:
    """Signs and checks entries with one secret (the keyed hash is set up once)."""

    __slots__ = ("_keyed",)

    def __init__(self, secret: bytes) -> None:
        self._keyed = hashlib.blake2b(key=secret, digest_size=MAC_BYTES)

    def sign(self, key: str, signed: bytes, stream: bytes | bytearray | memoryview) -> str:
        """The MAC of an entry: its key, the signed part of its header, its main stream."""
        encoded = key.encode()
        digest = self._keyed.copy()
        # (the key's length first: no key and header can pass for another's)
        digest.update(b"%d:%b%b" % (len(encoded), encoded, signed))
        digest.update(stream)
        return digest.hexdigest()


_signer: tuple[str | None, str | None, Signer | None] | None = None  # (home, key, signer)
_warned: set[str] = set()


def results_signer() -> Signer | None:
    """The signer of this home's entries; None (warned once) when there is no safe secret.

    Worked out again only when one of the variables it depends on has changed: this is
    on every cache hit's path."""
    global _signer
    home, key = os.environ.get(HOME_ENV), os.environ.get(RESULTS_KEY_ENV)
    current = _signer
    if current is not None and current[0] == home and current[1] == key:
        return current[2]
    settings = load_settings()
    secret = _derive(settings.results_key) if settings.results_key else \
        _key_file_secret(settings.home / KEY_FILE)
    signer = None if secret is None else Signer(secret)
    _signer = (home, key, signer)
    return signer


def warn_once(problem: str) -> None:
    """Log ``problem`` on the results logger the first time it comes up in this process."""
    if problem not in _warned:
        _warned.add(problem)
        log.warning("%s", problem)


def folder_problem(root: str) -> str | None:
    """Why the local results folder ``root`` must not be used (None: it may)."""
    try:
        info = os.stat(root)
    except FileNotFoundError:
        return None  # created on the first write, private
    except OSError as exc:
        return f"the results folder {root} cannot be checked ({exc.strerror})"
    return _not_private(root, info, "results folder", stat.S_IWGRP | stat.S_IWOTH)


def _not_private(path: str, info: os.stat_result, what: str, forbidden: int) -> str | None:
    if os.name == "nt":  # no POSIX owner and mode bits to go by (ACLs decide there)
        return None
    if info.st_uid != os.getuid():
        return (f"the {what} {path} belongs to another user: results are not cached "
                "(set ORCHESTRATE_NB_HOME or ORCHESTRATE_NB_RESULTS_URL to a folder of yours)")
    if info.st_mode & forbidden:
        verb = "read" if info.st_mode & forbidden & 0o444 else "written"
        return (f"the {what} {path} can be {verb} by other users: results are not cached "
                f"(chmod go-rwx {path})")
    return None


def _derive(text: str) -> bytes:
    return hashlib.blake2b(text.strip().encode(), digest_size=32,
                           person=b"onb-results").digest()


def _key_file_secret(path: Path) -> bytes | None:
    try:
        text = _read_key(path) if path.exists() else _create_key(path)
    except OSError as exc:
        warn_once(f"the results key {path} cannot be read or created ({exc.strerror or exc}):"
                  " results are not cached")
        return None
    if text is None:
        return None
    return _derive(text)


def _read_key(path: Path) -> str | None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        problem = _not_private(str(path), os.fstat(fd), "results key", 0o077)
        text = os.read(fd, 4096).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    if problem is None and len(text) != _KEY_HEX_LENGTH:
        problem = f"the results key {path} is damaged: results are not cached (delete it)"
    if problem is not None:
        warn_once(problem)
        return None
    return text


def _create_key(path: Path) -> str | None:
    """A new key file, 0600 from its first byte; another process's if it won the race."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(_KEY_HEX_LENGTH // 2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with suppress(FileExistsError):  # another process made it first: use theirs
            os.link(temp, path)
    finally:
        with suppress(OSError):
            os.unlink(temp)
    return _read_key(path)
