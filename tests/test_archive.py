"""The zip writer of the `.apkg`: the collection deflated in chunks (one deflate stream), chunks
reused from a store only when their bytes match, and zips that Python's zipfile and Anki read."""
from __future__ import annotations

import os
import random
import struct
import zipfile
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest

import aws_anki
from aws_anki import archive
from aws_anki.archive import Deflated, ZipWriter
from aws_anki.uptodate import kept_path

CHUNK = 4096  # small chunks, so that small inputs have many


def _data(size: int, seed: int = 7) -> bytes:
    """Bytes like a collection's: text that deflates well, with some that does not."""
    rng = random.Random(seed)
    words = [b"lambda", b"bucket", b"<b>", b"region", b"\x00\x00\x00\x01", b"15 minutes", b"\x1f"]
    parts, length = [], 0
    while length < size:
        part = rng.randbytes(rng.randrange(1, 40)) if rng.random() < 0.1 else rng.choice(words)
        parts.append(part)
        length += len(part)
    return b"".join(parts)[:size]


def _write(tmp_path: Path, data: bytes, *, store: Path | None = None, level: int = 1, chunk_size: int = CHUNK,
           threads: int | None = None, name: str = "out.zip") -> tuple[bytes, Deflated]:
    """The zip of `data` as the entry `collection.anki2`, and how it was deflated."""
    source = tmp_path / "collection.anki2"
    if not source.is_file() or source.read_bytes() != data:
        source.write_bytes(data)
    out = tmp_path / name
    with open(out, "wb") as handle, ZipWriter(handle) as writer:
        deflated = writer.write_chunked("collection.anki2", source, level=level, store=store,
                                        chunk_size=chunk_size, threads=threads)
    return out.read_bytes(), deflated


def _check(zipped: bytes, tmp_path: Path, expected: dict[str, bytes]) -> None:
    """The zip reads back whole with zipfile, and each deflated entry is one finished deflate stream."""
    path = tmp_path / "check.zip"
    path.write_bytes(zipped)
    with zipfile.ZipFile(path) as read:
        assert read.testzip() is None
        assert read.namelist() == list(expected)
        for info in read.infolist():
            assert read.read(info) == expected[info.filename]
            assert info.CRC == zlib.crc32(expected[info.filename])
            if info.compress_type == zipfile.ZIP_DEFLATED:
                name_length, extra_length = struct.unpack_from("<2H", zipped, info.header_offset + 26)
                start = info.header_offset + 30 + name_length + extra_length
                inflate = zlib.decompressobj(-15)
                assert inflate.decompress(zipped[start:start + info.compress_size]) == expected[info.filename]
                assert inflate.eof and not inflate.unused_data  # the final block is there, nothing after it


def test_crc_combine_equals_crc_of_the_whole() -> None:
    data = _data(20_000)
    for cut in (0, 1, 7, 4096, 19_999, 20_000):
        first, second = data[:cut], data[cut:]
        assert archive._crc_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(data)


@pytest.mark.parametrize("size", [0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 37 * CHUNK + 123])
def test_round_trip(tmp_path: Path, size: int) -> None:
    data = _data(size)
    zipped, deflated = _write(tmp_path, data)
    _check(zipped, tmp_path, {"collection.anki2": data})
    assert deflated == Deflated(chunks=-(-size // CHUNK), reused=0)


def test_incompressible_data_and_default_chunks(tmp_path: Path) -> None:
    data = random.Random(3).randbytes(archive.CHUNK_SIZE) + _data(archive.CHUNK_SIZE + 5000)
    zipped, deflated = _write(tmp_path, data, chunk_size=archive.CHUNK_SIZE)
    _check(zipped, tmp_path, {"collection.anki2": data})
    assert deflated.chunks == 3


def test_compresses_like_one_stream(tmp_path: Path) -> None:
    data = _data(40 * CHUNK)
    zipped, _ = _write(tmp_path, data, chunk_size=8 * CHUNK)
    assert len(zipped) < len(zlib.compress(data, 1)) * 1.03


def test_threads_do_not_change_the_bytes(tmp_path: Path) -> None:
    data = _data(50 * CHUNK + 17)
    one, _ = _write(tmp_path, data, threads=1)
    assert _write(tmp_path, data, threads=4)[0] == one
    assert _write(tmp_path, data, threads=3, level=6)[0] != one  # the level is honoured
    _check(_write(tmp_path, data, threads=3, level=6)[0], tmp_path, {"collection.anki2": data})


def test_without_pread_threads_read_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data(20 * CHUNK + 5)
    expected, _ = _write(tmp_path, data, threads=1)
    monkeypatch.delattr(os, "pread")  # as on Windows
    assert _write(tmp_path, data, threads=4, name="no-pread.zip")[0] == expected


def test_reuse_gives_the_same_bytes_as_a_fresh_write(tmp_path: Path) -> None:
    data, store = _data(20 * CHUNK + 99), tmp_path / "collection.anki2.deflate"
    fresh, _ = _write(tmp_path, data)
    first, deflated = _write(tmp_path, data, store=store)
    assert first == fresh and deflated == Deflated(21, 0) and store.is_file()
    again, deflated = _write(tmp_path, data, store=store)
    assert again == fresh and deflated == Deflated(21, 21)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aws-anki-")] == []


def test_only_changed_chunks_are_deflated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, store = bytearray(_data(20 * CHUNK + 99)), tmp_path / "store"
    _write(tmp_path, bytes(data), store=store)
    data[5 * CHUNK + 10] ^= 0xFF
    data[5 * CHUNK + 11] ^= 0xFF  # the same chunk twice
    data[12 * CHUNK] ^= 0xFF
    compressors: list[int] = []
    compressobj = zlib.compressobj
    monkeypatch.setattr(archive.zlib, "compressobj", lambda *a: compressors.append(1) or compressobj(*a))
    changed, deflated = _write(tmp_path, bytes(data), store=store)
    monkeypatch.undo()
    assert deflated == Deflated(21, 19) and len(compressors) == 2
    assert changed == _write(tmp_path, bytes(data), name="fresh.zip")[0]
    _check(changed, tmp_path, {"collection.anki2": bytes(data)})
    # The collection grows: the old last chunk is full now, and a new one follows.
    grown = bytes(data) + _data(CHUNK, seed=8)
    zipped, deflated = _write(tmp_path, grown, store=store)
    assert deflated == Deflated(22, 20)
    assert zipped == _write(tmp_path, grown, name="fresh.zip")[0]
    # Chunks are found by content, wherever they are: a shrunk collection reuses them all.
    shrunk = grown[:7 * CHUNK]
    assert _write(tmp_path, shrunk, store=store)[1] == Deflated(7, 7)
    assert _write(tmp_path, shrunk, store=store)[0] == _write(tmp_path, shrunk, name="fresh.zip")[0]


def _corrupt(store: Path) -> None:
    raw = bytearray(store.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    store.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", [
    pytest.param(_corrupt, id="a flipped bit"),
    pytest.param(lambda p: p.write_bytes(p.read_bytes()[:-1]), id="truncated"),
    pytest.param(lambda p: p.write_bytes(p.read_bytes()[:30]), id="truncated in the header"),
    pytest.param(lambda p: p.write_bytes(p.read_bytes() + b"\x00"), id="longer"),
    pytest.param(lambda p: p.write_bytes(b""), id="empty"),
    pytest.param(lambda p: p.write_bytes(b"not a store at all" * 100), id="garbage"),
    pytest.param(lambda p: p.write_bytes(p.read_bytes().replace(b"deflated chunks\n1 ", b"deflated chunks\n2 ", 1)),
                 id="another format version"),
])
def test_a_damaged_store_is_ignored(tmp_path: Path, damage: object) -> None:
    data, store = _data(10 * CHUNK), tmp_path / "store"
    fresh, _ = _write(tmp_path, data, store=store)
    damage(store)  # type: ignore[operator]
    zipped, deflated = _write(tmp_path, data, store=store)
    assert zipped == fresh and deflated == Deflated(10, 0)
    assert _write(tmp_path, data, store=store)[1] == Deflated(10, 10)  # it was written again, whole


def test_a_store_index_pointing_at_wrong_bytes_is_caught_by_its_checksum(tmp_path: Path) -> None:
    data, store = _data(4 * CHUNK), tmp_path / "store"
    _write(tmp_path, data, store=store)
    raw = bytearray(store.read_bytes())
    entry = archive._STORE_ENTRY
    index = len(raw) - 4 * entry.size
    first, second = raw[index:index + entry.size], raw[index + entry.size:index + 2 * entry.size]
    raw[index:index + 2 * entry.size] = second + first  # two chunks' digests swapped
    store.write_bytes(bytes(raw))
    zipped, deflated = _write(tmp_path, data, store=store)
    assert deflated.reused == 0
    _check(zipped, tmp_path, {"collection.anki2": data})


@pytest.mark.parametrize(("level", "chunk_size"), [(6, CHUNK), (1, 2 * CHUNK)])
def test_a_store_made_with_other_settings_is_ignored(tmp_path: Path, level: int, chunk_size: int) -> None:
    data, store = _data(10 * CHUNK), tmp_path / "store"
    _write(tmp_path, data, store=store)
    zipped, deflated = _write(tmp_path, data, store=store, level=level, chunk_size=chunk_size)
    assert deflated.reused == 0
    assert zipped == _write(tmp_path, data, level=level, chunk_size=chunk_size, name="fresh.zip")[0]


def test_a_store_made_by_another_zlib_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, store = _data(3 * CHUNK), tmp_path / "store"
    _write(tmp_path, data, store=store)
    monkeypatch.setattr(archive.zlib, "ZLIB_RUNTIME_VERSION", "0.0.0-other")
    assert _write(tmp_path, data, store=store)[1].reused == 0


@pytest.mark.parametrize("where", ["missing folder", "folder is a file", "store is a folder"])
def test_the_archive_is_written_when_the_store_cannot_be(tmp_path: Path, where: str) -> None:
    data = _data(5 * CHUNK)
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "folder").mkdir()
    store = {"missing folder": tmp_path / "gone" / "store", "folder is a file": tmp_path / "file" / "store",
             "store is a folder": tmp_path / "folder"}[where]
    zipped, deflated = _write(tmp_path, data, store=store)
    assert zipped == _write(tmp_path, data, name="fresh.zip")[0] and deflated == Deflated(5, 0)
    assert (tmp_path / "folder").is_dir() and list((tmp_path / "folder").iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aws-anki-")] == []


def test_a_store_that_cannot_be_replaced_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, store = _data(5 * CHUNK), tmp_path / "store"
    _write(tmp_path, data, store=store)
    before = store.read_bytes()

    def refuse(*_: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(archive.os, "replace", refuse)
    zipped, _ = _write(tmp_path, _data(5 * CHUNK, seed=9), store=store)
    _check(zipped, tmp_path, {"collection.anki2": _data(5 * CHUNK, seed=9)})
    assert store.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aws-anki-")] == []


def test_a_failed_write_leaves_the_store_alone(tmp_path: Path) -> None:
    data, store = _data(5 * CHUNK), tmp_path / "store"
    _write(tmp_path, data, store=store)
    before = store.read_bytes()
    with open(tmp_path / "out.zip", "wb") as handle, pytest.raises(FileNotFoundError), ZipWriter(handle) as writer:
        writer.write_chunked("collection.anki2", tmp_path / "missing", level=1, store=store, chunk_size=CHUNK)
    assert store.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aws-anki-")] == []


def test_media_entries_are_stored_and_the_media_list_deflated(tmp_path: Path) -> None:
    data, listing = _data(3 * CHUNK), b'{"0": "x.png"}'
    image = random.Random(5).randbytes(3 * archive.CHUNK_SIZE // 2)
    (tmp_path / "x.png").write_bytes(image)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "collection.anki2").write_bytes(data)
    out = tmp_path / "deck.apkg"
    with open(out, "wb") as handle, ZipWriter(handle) as writer:
        writer.write_chunked("collection.anki2", tmp_path / "collection.anki2", level=1, chunk_size=CHUNK)
        writer.write_bytes("media", listing, level=1)
        writer.write_file("0", tmp_path / "x.png")
        writer.write_file("1", tmp_path / "empty.png")
        writer.write_file("é.png", tmp_path / "x.png")
    expected = {"collection.anki2": data, "media": listing, "0": image, "1": b"", "é.png": image}
    _check(out.read_bytes(), tmp_path, expected)
    with zipfile.ZipFile(out) as read:
        assert [i.compress_type for i in read.infolist()] == [zipfile.ZIP_DEFLATED] * 2 + [zipfile.ZIP_STORED] * 3
        assert {i.date_time for i in read.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_zip64_records_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Sizes, offsets and counts past the limits (lowered here) go in ZIP64 fields and records.
    monkeypatch.setattr(archive, "_ZIP64_LIMIT", 3 * CHUNK)
    monkeypatch.setattr(archive, "_COUNT_LIMIT", 3)
    data, small = _data(20 * CHUNK), b"small"
    (tmp_path / "small").write_bytes(small)
    (tmp_path / "big").write_bytes(data)
    (tmp_path / "collection.anki2").write_bytes(data)
    out = tmp_path / "deck.apkg"
    with open(out, "wb") as handle, ZipWriter(handle) as writer:
        writer.write_chunked("collection.anki2", tmp_path / "collection.anki2", level=1, chunk_size=CHUNK)
        writer.write_bytes("media", small, level=1)
        writer.write_file("0", tmp_path / "big")
        writer.write_file("1", tmp_path / "small")  # after 4 GiB (lowered): its offset is ZIP64
    zipped = out.read_bytes()
    assert b"PK\x06\x06" in zipped and b"PK\x06\x07" in zipped
    _check(zipped, tmp_path, {"collection.anki2": data, "media": small, "0": data, "1": small})


def test_a_zip64_deck_imports_into_anki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("anki")
    from anki_harness import import_apkg, open_collection

    notes = Path(__file__).parent / "fixtures" / "rich" / "notes"
    rich = aws_anki.build_deck([notes], attachments="files", use_cache=False)
    monkeypatch.setattr(archive, "_ZIP64_LIMIT", 64)
    monkeypatch.setattr(archive, "_COUNT_LIMIT", 2)
    out = tmp_path / "rich.apkg"
    rich.write(out, use_state=False)
    assert b"PK\x06\x06" in out.read_bytes()
    with open_collection(tmp_path / "anki") as col:
        summary = import_apkg(col, out)
        assert summary.new == len(rich.notes)
        folder = Path(col.media.dir())
        for name, source in rich.media_files.items():
            assert (folder / name).read_bytes() == source.read_bytes(), name


def test_a_deck_of_many_chunks_imports_into_anki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("anki")
    from anki_harness import import_apkg, open_collection, rendered_cards

    notes = Path(__file__).parent / "fixtures" / "rich" / "notes"
    rich = aws_anki.build_deck([notes], attachments="files", use_cache=False)
    monkeypatch.setattr(archive, "CHUNK_SIZE", 1024)
    out = tmp_path / "rich.apkg"
    rich.write(out, use_state=False)
    with zipfile.ZipFile(out) as read:
        assert read.getinfo("collection.anki2").file_size > 20 * 1024  # many chunks, on several threads
    with open_collection(tmp_path / "anki") as col:
        assert import_apkg(col, out).new == len(rich.notes)
        assert len(rendered_cards(col)) == rich.report.cards


def test_the_store_is_kept_beside_the_kept_collection(vault: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "deck.apkg", tmp_path / "cache"
    aws_anki.build_into(out, [vault], cache_dir=cache, jobs=1, now=1_800_000_000)
    kept = kept_path(cache, out)
    store = kept.with_name(kept.name + ".deflate")
    assert store.is_file()
    with zipfile.ZipFile(out) as read:
        assert read.testzip() is None and read.read("collection.anki2") == kept.read_bytes()
    # A deck written without a cache leaves no store anywhere.
    aws_anki.build_deck([vault], use_cache=False, jobs=1).write(tmp_path / "plain" / "deck.apkg", use_state=False)
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["deck.apkg"]


def test_the_same_collection_gives_the_same_deck(tmp_path: Path) -> None:
    data = _data(9 * CHUNK)
    first, _ = _write(tmp_path, data)
    os.utime(tmp_path / "collection.anki2", (0, 0))  # times are not written
    assert _write(tmp_path, data)[0] == first


@pytest.mark.parametrize(("attribute", "error"), [
    ("write_chunked", OSError(28, "No space left on device")),
    ("write_file", OSError(28, "No space left on device")),  # the media, after the collection
    ("write_file", KeyboardInterrupt()),
    ("write_bytes", KeyboardInterrupt()),
])
def test_a_failed_archive_keeps_the_previous_deck(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attribute: str,
                                                  error: BaseException) -> None:
    from aws_anki.errors import AwsAnkiError

    result = aws_anki.build_deck([Path(__file__).parent / "fixtures" / "rich" / "notes" / "networking"], use_cache=False)
    assert result.media_files
    out = tmp_path / "out" / "deck.apkg"
    result.write(out, use_state=False)
    before = out.read_bytes()

    def failing(*_: object, **__: object) -> None:
        raise error

    monkeypatch.setattr(ZipWriter, attribute, failing)
    with pytest.raises(KeyboardInterrupt if isinstance(error, KeyboardInterrupt) else AwsAnkiError):
        result.write(out, use_state=False, now=2_000_000_000)
    assert out.read_bytes() == before
    assert [p.name for p in out.parent.iterdir()] == ["deck.apkg"]


def test_a_write_failing_midway_stops_the_threads_and_keeps_the_store(tmp_path: Path) -> None:
    data, store = _data(40 * CHUNK), tmp_path / "store"
    _write(tmp_path, data, store=store)
    before = store.read_bytes()

    class Full:
        """A file that fills up after a few writes."""

        def __init__(self, handle: Any) -> None:
            self.handle, self.writes = handle, 0

        def write(self, data: bytes) -> int:
            self.writes += 1
            if self.writes > 5:
                raise OSError(28, "No space left on device")
            return self.handle.write(data)

        def tell(self) -> int:
            return self.handle.tell()

        def seek(self, offset: int) -> int:
            return self.handle.seek(offset)

    with open(tmp_path / "out.zip", "wb") as handle, pytest.raises(OSError):
        ZipWriter(Full(handle)).write_chunked(  # type: ignore[arg-type]
            "collection.anki2", tmp_path / "collection.anki2", level=1, store=store, chunk_size=CHUNK, threads=2,
        )
    assert store.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aws-anki-")] == []
    assert not [t for t in threading.enumerate() if t.name.startswith("aws-anki-deflate")]
