"""Recording files sealed at rest (AES-256-GCM), read and written as if they were plain.

A sealed file is the seal's header (``keyring.py``: the data key, wrapped) and then records, one per ``write``:
the plaintext's length, a random nonce, the ciphertext and its tag, the record's index and the file's kind bound in
as associated data (records cannot be moved, nor swapped between a recording's capture and its audio, which share
its data key). One write per record, appended, keeps what a crash leaves readable up to its last
whole record, as with plain files; a write over what is there (a header patched on close) seals the records it
touches again, each with a fresh nonce and at its place. :func:`open_file` tells sealed from plain files by their
first bytes, so every reader (encoding, digests, repair, delivery, the API) works on both.
"""

from __future__ import annotations

import bisect
import io
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from calltape.at_rest.keyring import HEADER_SIZE, KEYRING, MAGIC, NONCE, Keyring, Seal

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

_RECORD = struct.Struct(f"<I{NONCE}s")  # the plaintext's length, the nonce; then ciphertext and tag
TAG = 16
_INDEX = struct.Struct("<Q")
AUDIO, CAPTURE = b"A", b"C"  # the kinds of file a recording's data key seals


def kind_of(path: Path) -> bytes:
    """A sealed file's kind, by its name: a capture (``.capture``), else the recording's audio."""
    return CAPTURE if path.suffix == ".capture" else AUDIO


class DamagedRecordError(ValueError):
    """A record does not open with the recording's data key (damaged on disk)."""


class SealedFile(io.RawIOBase):
    """A sealed file opened for reading, or reading and writing, by its plaintext's offsets."""

    def __init__(self, fd: int, seal: Seal, *, writable: bool, kind: bytes = AUDIO) -> None:
        super().__init__()
        self._fd = fd
        self._kind = kind
        self._writable = writable
        self._aead = AESGCM(seal.data_key)
        self._starts: list[int] = []  # each record's offset in the plaintext
        self._sizes: list[int] = []  # its plaintext's length
        self._at: list[int] = []  # its offset in the file
        self._end = 0  # the plaintext's length
        self._file_end = HEADER_SIZE
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None  # the last record opened
        self._index()

    def _index(self) -> None:
        size = os.fstat(self._fd).st_size
        at = HEADER_SIZE
        while at + _RECORD.size <= size:
            length, _nonce = _RECORD.unpack(os.pread(self._fd, _RECORD.size, at))
            total = _RECORD.size + length + TAG
            if at + total > size:
                break  # torn by a crash: the file ends before it
            self._starts.append(self._end)
            self._sizes.append(length)
            self._at.append(at)
            self._end += length
            at += total
        self._file_end = at
        if self._writable and size > at:
            os.ftruncate(self._fd, at)

    # ---- io ---------------------------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        if base + offset < 0:
            raise OSError(22, "negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._end:
            index = bisect.bisect_right(self._starts, self._pos) - 1
            plain = self._record(index)
            piece = plain[self._pos - self._starts[index] : self._pos - self._starts[index] + len(view) - done]
            view[done : done + len(piece)] = piece
            done += len(piece)
            self._pos += len(piece)
        return done

    def write(self, data: ReadableBuffer) -> int:
        if not self._writable:
            raise io.UnsupportedOperation("not opened for writing")
        data = bytes(data)
        written = len(data)
        if self._pos > self._end:
            data, self._pos = bytes(self._pos - self._end) + data, self._end
        over = min(len(data), self._end - self._pos)  # the part that falls on records already written
        if over:
            self._overwrite(self._pos, data[:over])
        if written and len(data) > over:
            self._append(data[over:])
        self._pos += len(data)
        return written

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        if size >= self._end:
            return self._end
        index = bisect.bisect_right(self._starts, size) - 1
        keep = size - self._starts[index]
        kept = self._record(index)[:keep] if keep else b""
        self._end, self._file_end, self._cached = self._starts[index], self._at[index], None
        del self._starts[index:], self._sizes[index:], self._at[index:]
        cut = self._file_end
        os.ftruncate(self._fd, cut)
        if kept:
            self._append(kept)
        return size

    def close(self) -> None:
        if not self.closed and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        super().close()

    # ---- records ----------------------------------------------------------------------------------------

    def _record(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        data = os.pread(self._fd, _RECORD.size + self._sizes[index] + TAG, self._at[index])
        plain = _open_record(self._aead, data, index, self._kind)
        self._cached = (index, plain)
        return plain

    def _append(self, plain: bytes) -> None:
        index = len(self._starts)
        record = _seal_record(self._aead, plain, index, self._kind)
        if os.pwrite(self._fd, record, self._file_end) != len(record):
            os.ftruncate(self._fd, self._file_end)
            raise OSError(28, "No space left on device (short write)")
        self._starts.append(self._end)
        self._sizes.append(len(plain))
        self._at.append(self._file_end)
        self._end += len(plain)
        self._file_end += len(record)

    def _overwrite(self, position: int, data: bytes) -> None:
        """Patch records in place: each one touched is sealed again (a fresh nonce, the same length)."""
        index = bisect.bisect_right(self._starts, position) - 1
        while data:
            plain = bytearray(self._record(index))
            offset = position - self._starts[index]
            piece = data[: len(plain) - offset]
            plain[offset : offset + len(piece)] = piece
            os.pwrite(self._fd, _seal_record(self._aead, bytes(plain), index, self._kind), self._at[index])
            self._cached = (index, bytes(plain))
            data, position, index = data[len(piece) :], position + len(piece), index + 1


def _seal_record(aead: AESGCM, plain: bytes, index: int, kind: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return _RECORD.pack(len(plain), nonce) + aead.encrypt(nonce, plain, _INDEX.pack(index) + kind)


def _open_record(aead: AESGCM, record: bytes, index: int, kind: bytes) -> bytes:
    _length, nonce = _RECORD.unpack_from(record)
    try:
        return aead.decrypt(nonce, record[_RECORD.size :], _INDEX.pack(index) + kind)
    except InvalidTag:
        raise DamagedRecordError(f"record {index} of a sealed recording does not open: it is damaged") from None


# ---- opening ---------------------------------------------------------------------------------------------


def create_file(path: Path, seal: Seal | None) -> BinaryIO:
    """A new recording file (replacing any), unbuffered: each write reaches the file at once; sealed with *seal*."""
    if seal is None:
        return path.open("wb", buffering=0)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        os.write(fd, seal.header)
        return cast(BinaryIO, SealedFile(fd, seal, writable=True, kind=kind_of(path)))
    except BaseException:
        os.close(fd)
        raise


def open_file(path: Path, mode: str = "rb", seal: Seal | None = None, keyring: Keyring = KEYRING) -> BinaryIO:
    """An existing recording file, sealed or plain, to read (``rb``) or patch (``r+b``) as plain; a sealed one
    opens with *seal*'s data key if given, else with the keyring's (KeyUnavailableError if it is missing or wrong)."""
    fd = os.open(path, os.O_RDWR if "+" in mode else os.O_RDONLY)
    try:
        header = os.pread(fd, HEADER_SIZE, 0)
        if not header.startswith(MAGIC):
            return cast(BinaryIO, os.fdopen(fd, mode))
        seal = seal or Seal.of_header(header, keyring)
        return cast(BinaryIO, SealedFile(fd, seal, writable="+" in mode, kind=kind_of(path)))
    except BaseException:
        os.close(fd)
        raise


def is_sealed(path: Path) -> bool:
    """The file is sealed (its first bytes say so)."""
    with path.open("rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def seal_of(path: Path, keyring: Keyring = KEYRING) -> Seal | None:
    """The seal of a sealed file (its data key unwrapped), None for a plain one."""
    with path.open("rb") as fh:
        header = fh.read(HEADER_SIZE)
    return Seal.of_header(header, keyring) if header.startswith(MAGIC) else None


def read_plain(path: Path, keyring: Keyring = KEYRING) -> bytes:
    """The whole file as plain bytes."""
    with open_file(path, keyring=keyring) as fh:
        return fh.read()


def unseal_bytes(data: bytes, keyring: Keyring = KEYRING) -> bytes:
    """A sealed recording's bytes (its audio: a database copy) as plain bytes; plain bytes as they are."""
    if not data.startswith(MAGIC):
        return data
    aead = AESGCM(Seal.of_header(data[:HEADER_SIZE], keyring).data_key)
    return b"".join(_records(aead, data))


def _records(aead: AESGCM, data: bytes) -> Iterator[bytes]:
    at, index = HEADER_SIZE, 0
    while at + _RECORD.size <= len(data):
        length, _nonce = _RECORD.unpack_from(data, at)
        end = at + _RECORD.size + length + TAG
        if end > len(data):
            return
        yield _open_record(aead, data[at:end], index, AUDIO)
        at, index = end, index + 1


def rewrap(header: bytes, key_id: str, keyring: Keyring = KEYRING) -> bytes:
    """*header* (a sealed file's) with its data key wrapped by *key_id* instead: the records stay as they are."""
    return Seal.of_header(header, keyring).rewrapped(key_id, keyring).header


def rewrap_file(path: Path, key_id: str, keyring: Keyring = KEYRING) -> bool:
    """Re-wrap a sealed file's data key by *key_id*, in place and on disk; False for a plain file or one already
    wrapped by it."""
    with path.open("r+b") as fh:
        header = fh.read(HEADER_SIZE)
        if not header.startswith(MAGIC) or Seal.of_header(header, keyring).key_id == key_id:
            return False
        fh.seek(0)
        fh.write(rewrap(header, key_id, keyring))
        fh.flush()
        os.fsync(fh.fileno())
    return True
