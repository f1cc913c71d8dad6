"""The on-disk format of one result entry.

::

    ONBR2 <mac> <xxh3> <expires> <serializer> <n0>,<n1>,… {"key":…,"created":…,"task":…}\\n
    <frame 0: n0 bytes><frame 1: n1 bytes>…

One header line of space-separated fields, then the serializer's frames back to back:

- ``mac``: 32 hex digits, a keyed BLAKE2b of the key looked up, the rest of the header line
  and frame 0 (``trust.py``): an entry someone else wrote, or one copied from another key,
  is a miss before anything of it is unpickled;
- ``xxh3``: 16 hex digits, the xxh3-64 of all frames (catches garbled bytes);
- ``expires``: seconds since the epoch, or ``-`` for never;
- ``serializer``: the registered name that reads the frames back (``cloudpickle``…);
- ``n0,n1,…``: frame sizes; frame 0 is the main stream (a pickle, JSON text…), the others
  are pickle protocol-5 out-of-band buffers (large numpy/pandas buffers) stored raw;
- a JSON object with the key itself, when it was written and by which task, for tools and
  for keys too long or odd to be file names (only then is it parsed on a lookup).

A lookup of a small entry is one ``read`` of the first 64 KiB (the whole file) and a split
of one line: no JSON parsing. A large frame is read with ``readinto`` straight into the
buffer the value will live in (numpy arrays are rebuilt on it without a copy), so restoring
an array costs about what a bare ``pickle.load`` costs. Frame sizes are checked against the
file's length, and the checksum and the MAC before anything is unpickled. An entry of the
unsigned format of earlier versions (``ONBR1``) is a quiet miss, rewritten by the next run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import xxhash

from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.results.serializers import load_frames, registered_serializer
from orchestrate_nb.results.trust import Signer

MAGIC = b"ONBR2"
UNSIGNED_MAGIC = b"ONBR1 "  # earlier versions' entries
HEAD_READ = 64 * 1024
ReadInto = Callable[[memoryview], int]


class CorruptEntry(OrchestrateError):
    """A result entry on disk is truncated, garbled or not an entry at all."""


class ForgedEntry(CorruptEntry):
    """A result entry whose MAC does not match: not written under this key with this secret."""


def encode_entry(key: str, frames: list[Any], serializer: str, created: float,
                 expires: float | None, task_key: str | None, signer: Signer) -> list[Any]:
    """The byte chunks of an entry, in order (frames are not copied)."""
    views = [memoryview(frame).cast("B") for frame in frames]
    digest = xxhash.xxh3_64()
    for view in views:
        digest.update(view)
    meta = json.dumps({"key": key, "created": created, "task": task_key},
                      separators=(",", ":"))  # ensure_ascii: never a newline or a space
    fields = [digest.hexdigest(), "-" if expires is None else repr(expires),
              serializer, ",".join(str(view.nbytes) for view in views), meta]
    signed = " ".join(fields).encode()
    stream = views[0] if views else memoryview(b"")
    line = b" ".join((MAGIC, signer.sign(key, signed, stream).encode(), signed)) + b"\n"
    return [line, *views]


class Header:
    __slots__ = ("mac", "signed", "checksum", "expires", "serializer", "sizes", "meta_text",
                 "length")

    def __init__(self, line: bytes) -> None:
        parts = line.split(b" ", 6)
        if len(parts) != 7 or parts[0] != MAGIC:
            raise CorruptEntry("not a result entry (bad header)")
        try:
            self.mac = parts[1].decode()
            self.checksum = parts[2].decode()
            self.expires = None if parts[3] == b"-" else float(parts[3])
            self.serializer = parts[4].decode()
            self.sizes = [int(n) for n in parts[5].split(b",")]
        except ValueError:
            raise CorruptEntry("header has a bad field") from None
        self.signed = line[len(parts[0]) + len(parts[1]) + 2:]
        self.meta_text = parts[6]
        self.length = len(line) + 1

    def meta(self) -> dict[str, Any]:
        try:
            meta = json.loads(self.meta_text)
        except ValueError:
            raise CorruptEntry("header metadata is not valid JSON") from None
        if not isinstance(meta, dict):
            raise CorruptEntry("header metadata is not an object")
        return meta


def parse_header(head: bytes) -> Header:
    end = head.find(b"\n")
    if end < 0:
        raise CorruptEntry("entry is empty" if not head else "header is incomplete")
    return Header(head[:end])


def load_entry(head: bytes, size: int, readinto: ReadInto | None, key: str,
               key_is_name: bool, now: float, signer: Signer) -> tuple[bool, Any]:
    """``(True, value)`` for a live entry of ``key``; ``(False, None)`` when it has expired,
    belongs to another key or is of the unsigned earlier format. ``head`` is the entry's
    first bytes, ``size`` its length, ``readinto`` fills a buffer with the bytes after
    ``head``. Raises CorruptEntry (ForgedEntry: its MAC does not match)."""
    if head.startswith(UNSIGNED_MAGIC):
        return False, None
    header = parse_header(head)
    if not key_is_name and header.meta().get("key") != key:
        return False, None  # another key whose hashed file name is the same
    if header.expires is not None and now >= header.expires:
        return False, None
    serializer = registered_serializer(header.serializer)
    if serializer is None:
        raise CorruptEntry(f"serializer {header.serializer!r} is not registered here")
    frames = read_frames(header, memoryview(head)[header.length:], size - header.length,
                         readinto)
    if signer.sign(key, header.signed, frames[0]) != header.mac:
        raise ForgedEntry("its signature does not match: rewritten by someone else, or "
                          "written with another results key")
    return True, load_frames(serializer, frames)


def read_frames(header: Header, rest: memoryview, payload: int, readinto: ReadInto | None
                ) -> list[Any]:
    """The entry's frames, checked against the header's sizes and checksum."""
    sizes = header.sizes
    if sum(sizes) != payload or min(sizes) < 0:
        raise CorruptEntry(f"entry holds {payload} bytes after its header, the header says "
                           f"{sum(sizes)} (truncated?)")
    if len(sizes) == 1 and len(rest) == payload:  # a small entry: all read already
        if xxhash.xxh3_64_hexdigest(rest) != header.checksum:
            raise CorruptEntry("checksum mismatch")
        return [rest]
    frames: list[Any] = []
    digest = xxhash.xxh3_64()
    for index, size in enumerate(sizes):
        take = min(len(rest), size)
        if index == 0 and take == size:
            frame: Any = rest[:size]  # the main stream: unpickling copies what it keeps
        else:  # out-of-band buffers become the value's own (writable) memory
            frame = bytearray(size)
            frame[:take] = rest[:take]
            if take < size:
                _fill(readinto, memoryview(frame)[take:])
        rest = rest[take:]
        digest.update(frame)
        frames.append(frame)
    if digest.hexdigest() != header.checksum:
        raise CorruptEntry("checksum mismatch")
    return frames


def _fill(readinto: ReadInto | None, view: memoryview) -> None:
    while view.nbytes:
        n = readinto(view) if readinto is not None else 0
        if not n:
            raise CorruptEntry("entry is truncated")
        view = view[n:]
