"""Write the `.apkg` zip: the collection deflated in chunks on every core, reusing last build's.

The collection is cut into fixed chunks, each deflated on its own (a fresh compressor, no shared
history) and ended with a sync flush, which ends on a byte boundary with an empty stored block
that is not the last. The chunks laid end to end, then one empty final block, are therefore one
valid deflate stream (how pigz compresses on several cores), so chunks can be deflated in threads
(zlib lets go of the GIL) and the CRC-32s of chunks combined into the entry's.

A chunk's deflated bytes depend only on its own bytes (and the level and zlib), so a store kept
beside the collection maps a digest of each chunk's bytes to its deflated bytes and CRC-32: an
in-place update of the collection changes a few SQLite pages, and only their chunks are deflated
again. The store is never trusted: a header names the settings it was made with and a checksum
covers the rest; if anything is off, every chunk is deflated. A stale store (of another
collection, or of this one before it changed) is harmless: it is looked up by content only.
"""
from __future__ import annotations

import hashlib
import os
import stat
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["CHUNK_SIZE", "Deflated", "ZipWriter"]

# Measured on a 190 MB collection (see the report of issue 7): 1 MiB chunks deflate to 0.16% more
# than one stream (256 KiB: 0.6%, 64 KiB: 2.3%), and a changed page costs 1 MiB of deflating.
CHUNK_SIZE = 1 << 20
# Chunks deflated ahead of the one being written, per thread: enough to keep every thread busy.
_AHEAD_PER_THREAD = 4
# Digest of a chunk's bytes: sha256 ran at 1.2 GB/s on the build machine (SHA extensions), against
# 0.8 GB/s for blake2b and 0.16 GB/s for deflate at level 1.
_DIGEST = "sha256"
_DIGEST_SIZE = hashlib.new(_DIGEST).digest_size

# Raw deflate (no zlib header): what a zip entry holds.
_WBITS = -15
# An empty final block of fixed Huffman codes: ends the stream after the last chunk.
_FINAL_BLOCK = b"\x03\x00"

_STORE_VERSION = 1
_STORE_MAGIC = b"aws-anki deflated chunks\n"
# Header after the key: chunk count, data length, checksum (of data and index).
_STORE_HEADER = struct.Struct(f"<IQ{_DIGEST_SIZE}s")
# Index entry, one per chunk after the data: digest of the bytes, their CRC-32, deflated length.
_STORE_ENTRY = struct.Struct(f"<{_DIGEST_SIZE}sII")

# Zip records (APPNOTE.TXT 4.3): local header, central directory header, end of central directory,
# and the ZIP64 end record, its locator, and the ZIP64 extra field (tag 1).
_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")
_EXTRA64 = struct.Struct("<2H")
_STORED, _DEFLATED = 0, 8
# As Python's zipfile: ZIP64 from 2 GiB on (readers that read sizes as signed), or 65,535 entries.
_ZIP64_LIMIT = (1 << 31) - 1
_COUNT_LIMIT = 0xFFFF
_MADE_BY = 3 << 8  # Unix, so that the mode in the external attributes is read
_MODE = (stat.S_IFREG | 0o644) << 16
_DOS_DATE, _DOS_TIME = (0 << 9) | (1 << 5) | 1, 0  # 1980-01-01 00:00: the same deck, the same bytes
_UTF8_NAME = 1 << 11

# CRC-32 polynomial, bit-reversed (as zlib.crc32 computes it).
_CRC_POLY = 0xEDB88320


@dataclass(frozen=True)
class Deflated:
    """How a chunked entry was deflated: its chunks, and how many came from the store."""

    chunks: int
    reused: int


@dataclass(frozen=True)
class _Entry:
    """A zip entry as the central directory lists it."""

    name: bytes
    method: int
    offset: int
    zip64: bool  # the local header carries its sizes in a ZIP64 extra field
    crc: int = 0
    compressed: int = 0
    size: int = 0


@dataclass(frozen=True)
class _Chunk:
    """One chunk of an entry: digest and CRC-32 of its bytes, their length, and them deflated."""

    digest: bytes
    crc: int
    size: int
    packed: bytes | memoryview
    reused: bool


class ZipWriter:
    """A zip archive written front to back into a seekable binary `handle`; the central
    directory is written when the `with` block ends without an error."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._out = handle
        self._entries: list[_Entry] = []

    def __enter__(self) -> ZipWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()

    def write_bytes(self, name: str, data: bytes, *, level: int) -> None:
        """Add `data`, deflated at `level`."""
        compressor = zlib.compressobj(level, zlib.DEFLATED, _WBITS)
        packed = compressor.compress(data) + compressor.flush()
        entry = self._begin(name, _DEFLATED, max(len(packed), len(data)))
        self._out.write(packed)
        self._finish(entry, zlib.crc32(data), len(packed), len(data))

    def write_file(self, name: str, source: Path) -> None:
        """Add the file at `source` as it is (stored: for images, which are compressed already)."""
        with open(source, "rb") as handle:
            entry = self._begin(name, _STORED, os.fstat(handle.fileno()).st_size)
            crc = size = 0
            while block := handle.read(CHUNK_SIZE):
                crc = zlib.crc32(block, crc)
                size += len(block)
                self._out.write(block)
        self._finish(entry, crc, size, size)

    def write_chunked(
        self,
        name: str,
        source: Path,
        *,
        level: int,
        store: Path | None = None,
        chunk_size: int | None = None,
        threads: int | None = None,
    ) -> Deflated:
        """Add the file at `source` deflated at `level` in chunks of `chunk_size` (default
        `CHUNK_SIZE`), on `threads` threads (default: one per CPU). With `store`, chunks deflated
        by the last call with that store are reused, and the store is replaced by this call's
        chunks (if it cannot be, the entry is written all the same)."""
        chunk_size = chunk_size or CHUNK_SIZE
        key = _store_key(level, chunk_size)
        known = _load_store(store, key) if store is not None else {}
        saving = _StoreWriter(store, key) if store is not None else None
        chunks = reused = crc = compressed = 0
        try:
            with open(source, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                # Deflate grows incompressible data a little: a bound decides ZIP64 or not up front.
                entry = self._begin(name, _DEFLATED, size + (size >> 10) + 64 * (size // chunk_size + 2))
                deflated = _deflate_chunks(handle.fileno(), size, chunk_size, level, known, keyed=store is not None,
                                           threads=threads or usable_cpus())
                with closing(deflated):
                    for chunk in deflated:
                        self._out.write(chunk.packed)
                        crc = _crc_combine(crc, chunk.crc, chunk.size)
                        compressed += len(chunk.packed)
                        chunks, reused = chunks + 1, reused + chunk.reused
                        if saving is not None:
                            saving.add(chunk)
            self._out.write(_FINAL_BLOCK)
            self._finish(entry, crc, compressed + len(_FINAL_BLOCK), size)
            if saving is not None:
                saving.commit()
        finally:
            if saving is not None:
                saving.discard()  # after a commit, there is nothing left to discard
        return Deflated(chunks, reused)

    def close(self) -> None:
        """Write the central directory and the end records."""
        start = self._out.tell()
        for entry in self._entries:
            self._out.write(_central_header(entry))
        end = self._out.tell()
        count, length = len(self._entries), end - start
        if count >= _COUNT_LIMIT or length >= _ZIP64_LIMIT or start >= _ZIP64_LIMIT:
            self._out.write(_END64.pack(
                b"PK\x06\x06", _END64.size - 12, _MADE_BY | 45, 45, 0, 0, count, count, length, start,
            ))
            self._out.write(_LOCATOR64.pack(b"PK\x06\x07", 0, end, 1))
        self._out.write(_END.pack(
            b"PK\x05\x06", 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
            min(length, 0xFFFFFFFF), min(start, 0xFFFFFFFF), 0,
        ))

    def _begin(self, name: str, method: int, largest: int) -> _Entry:
        """Write a local header to fill in later; `largest` bounds the entry's stored size."""
        entry = _Entry(name.encode("utf-8"), method, self._out.tell(), largest >= _ZIP64_LIMIT)
        self._out.write(_local_header(entry))
        return entry

    def _finish(self, begun: _Entry, crc: int, compressed: int, size: int) -> None:
        """Fill in the local header of the entry whose data was just written."""
        entry = _Entry(begun.name, begun.method, begun.offset, begun.zip64, crc, compressed, size)
        if not entry.zip64 and max(compressed, size) >= _ZIP64_LIMIT:
            raise ValueError(f"zip entry {begun.name!r} grew past 2 GiB while being written")
        end = self._out.tell()
        self._out.seek(entry.offset)
        self._out.write(_local_header(entry))
        self._out.seek(end)
        self._entries.append(entry)


def _local_header(entry: _Entry) -> bytes:
    """An entry's local file header, name and extra field."""
    extra = _zip64_extra([entry.size, entry.compressed]) if entry.zip64 else b""
    sizes = (0xFFFFFFFF, 0xFFFFFFFF) if entry.zip64 else (entry.compressed, entry.size)
    return _LOCAL.pack(
        b"PK\x03\x04", _version(entry.method, entry.zip64), _flags(entry.name), entry.method, _DOS_TIME,
        _DOS_DATE, entry.crc, *sizes, len(entry.name), len(extra),
    ) + entry.name + extra


def _central_header(entry: _Entry) -> bytes:
    """An entry's central directory header, name and extra field (ZIP64 for the fields that need it)."""
    large = [value for value in (entry.size, entry.compressed, entry.offset) if value >= _ZIP64_LIMIT]
    extra = _zip64_extra(large) if large else b""
    size, compressed, offset = (
        0xFFFFFFFF if value >= _ZIP64_LIMIT else value for value in (entry.size, entry.compressed, entry.offset)
    )
    version = _version(entry.method, bool(large))
    return _CENTRAL.pack(
        b"PK\x01\x02", _MADE_BY | version, version, _flags(entry.name), entry.method, _DOS_TIME, _DOS_DATE,
        entry.crc, compressed, size, len(entry.name), len(extra), 0, 0, 0, _MODE, offset,
    ) + entry.name + extra


def _zip64_extra(values: list[int]) -> bytes:
    return _EXTRA64.pack(1, 8 * len(values)) + struct.pack(f"<{len(values)}Q", *values)


def _version(method: int, zip64: bool) -> int:
    """The zip version needed to extract: 4.5 for ZIP64, 2.0 for deflate, 1.0 for stored."""
    return 45 if zip64 else 20 if method == _DEFLATED else 10


def _flags(name: bytes) -> int:
    return _UTF8_NAME if not name.isascii() else 0


def _deflate_chunks(
    fd: int,
    size: int,
    chunk_size: int,
    level: int,
    known: Mapping[bytes, tuple[int, memoryview]],
    *,
    keyed: bool,
    threads: int,
) -> Iterator[_Chunk]:
    """The chunks of the first `size` bytes of the file open as `fd`, in order, each deflated (or
    taken from `known`), on `threads` threads; `keyed` chunks carry the digest of their bytes (else
    b"": a build with no store skips it).

    Each chunk is read by the thread that deflates it, with `os.pread` (no shared file position):
    only the chunks in flight are in memory, where mapping the file would add every page of a
    190 MB collection to the process's resident size."""

    def one(start: int) -> _Chunk:
        piece = read_at(min(chunk_size, size - start), start)
        if len(piece) != min(chunk_size, size - start):
            raise OSError(f"the collection changed size while it was being written ({start + len(piece)} bytes)")
        digest = hashlib.new(_DIGEST, piece).digest() if keyed else b""
        hit = known.get(digest)
        if hit is not None:
            return _Chunk(digest, hit[0], len(piece), hit[1], reused=True)
        compressor = zlib.compressobj(level, zlib.DEFLATED, _WBITS)
        packed = compressor.compress(piece) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return _Chunk(digest, zlib.crc32(piece), len(piece), packed, reused=False)

    read_at = _reader(fd)
    starts = range(0, size, chunk_size)
    if threads <= 1 or len(starts) <= 1:
        yield from map(one, starts)
        return
    with ThreadPoolExecutor(min(threads, len(starts)), thread_name_prefix="aws-anki-deflate") as pool:
        ahead: deque[Future[_Chunk]] = deque()
        try:
            for start in starts:
                ahead.append(pool.submit(one, start))
                if len(ahead) > threads * _AHEAD_PER_THREAD:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
        finally:
            for future in ahead:  # the caller stopped early: no chunk is deflated for nothing
                future.cancel()


def _reader(fd: int) -> Callable[[int, int], bytes]:
    """read_at(length, offset) on `fd`, safe to call from several threads at once."""
    if hasattr(os, "pread"):
        return lambda length, offset: os.pread(fd, length, offset)
    lock = threading.Lock()  # Windows has no pread: one seek-and-read at a time

    def read_at(length: int, offset: int) -> bytes:
        with lock:
            os.lseek(fd, offset, os.SEEK_SET)
            return os.read(fd, length)

    return read_at


def usable_cpus() -> int:
    """How many CPUs this process may use (its affinity where the system says): threads to deflate
    on here, and the default number of parsing workers (`parallel.worker_count`)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _crc_combine(first: int, second: int, length: int) -> int:
    """The CRC-32 of two byte strings laid end to end, from theirs and the second one's length."""
    # Feeding `length` zero bytes multiplies the register by x^(8 * length) modulo the polynomial;
    # the initial and final inversions of the two CRCs cancel out.
    return _multiply(first, _zeros_operator(length)) ^ second


@lru_cache(maxsize=64)
def _zeros_operator(length: int) -> int:
    """x^(8 * length) modulo the CRC-32 polynomial (bit-reversed, as the register holds it)."""
    result, power = 1 << 31, 1 << 23  # x^0 and x^8: bit 31 is the coefficient of x^0
    while length:
        if length & 1:
            result = _multiply(result, power)
        power = _multiply(power, power)
        length >>= 1
    return result


def _multiply(a: int, b: int) -> int:
    """a * b modulo the CRC-32 polynomial, both bit-reversed."""
    product, bit = 0, 1 << 31
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1  # b * x
    return product


def _store_key(level: int, chunk_size: int) -> bytes:
    """What a store must have been made with to be used: same format, chunks, level and zlib."""
    settings = f"{_STORE_VERSION} {chunk_size} {level} {_WBITS} {_DIGEST} {zlib.ZLIB_RUNTIME_VERSION}\n"
    return _STORE_MAGIC + settings.encode("ascii")


def _load_store(path: Path, key: bytes) -> dict[bytes, tuple[int, memoryview]]:
    """The chunks in the store at `path` by digest (CRC-32, deflated bytes); none if it is
    missing, made with other settings, truncated or corrupt."""
    try:
        raw = memoryview(path.read_bytes())
    except OSError:
        return {}
    try:
        if raw[:len(key)] != key:
            return {}
        count, length, checksum = _STORE_HEADER.unpack_from(raw, len(key))
        body = raw[len(key) + _STORE_HEADER.size:]
        if len(body) != length + count * _STORE_ENTRY.size or hashlib.new(_DIGEST, body).digest() != checksum:
            return {}
        chunks, offset = {}, 0
        for digest, crc, size in _STORE_ENTRY.iter_unpack(body[length:]):
            chunks[digest] = (crc, body[offset:offset + size])
            offset += size
        return chunks if offset == length else {}
    except struct.error:
        return {}


class _StoreWriter:
    """Writes a store to a temporary file beside `path`, which replaces it on `commit`; gives up
    quietly (the store is only a cache) if the file cannot be written."""

    def __init__(self, path: Path, key: bytes) -> None:
        self._path, self._key = path, key
        self._index: list[bytes] = []
        self._length = 0
        self._checksum = hashlib.new(_DIGEST)
        self._temp: Path | None = None
        self._file: IO[bytes] | None = None
        try:
            import tempfile  # here: this module is imported before a build forks its workers; only the store needs it

            handle, name = tempfile.mkstemp(prefix=".aws-anki-", suffix=".deflate.part", dir=path.parent)
            self._temp = Path(name)
            self._file = os.fdopen(handle, "wb")
            self._file.write(bytes(len(key) + _STORE_HEADER.size))  # the header, once it is known
        except OSError:
            self.discard()

    def add(self, chunk: _Chunk) -> None:
        """Append a chunk (in the order of the entry's chunks)."""
        if self._file is None:
            return
        try:
            self._file.write(chunk.packed)
        except OSError:
            self.discard()
            return
        self._checksum.update(chunk.packed)
        self._index.append(_STORE_ENTRY.pack(chunk.digest, chunk.crc, len(chunk.packed)))
        self._length += len(chunk.packed)

    def commit(self) -> None:
        """Finish the store and put it in place of the last one."""
        if self._file is None or self._temp is None:
            return
        try:
            index = b"".join(self._index)
            self._checksum.update(index)
            self._file.write(index)
            self._file.seek(0)
            self._file.write(self._key + _STORE_HEADER.pack(len(self._index), self._length, self._checksum.digest()))
            self._file.close()
            self._file = None
            os.replace(self._temp, self._path)
            self._temp = None
        except OSError:
            self.discard()

    def discard(self) -> None:
        """Drop the temporary file, if any (after `commit`, there is none)."""
        file, temp, self._file, self._temp = self._file, self._temp, None, None
        try:
            if file is not None:
                file.close()
        except OSError:
            pass
        try:
            if temp is not None:
                temp.unlink(missing_ok=True)
        except OSError:
            pass
