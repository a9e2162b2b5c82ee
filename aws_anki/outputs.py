"""Writing outputs (the deck, its `.lock.json`, the preview page) without ever losing a user's file.

- **Refused before anything is written**: an output named like a note (`.md`, `.markdown`...),
  one that is an input of the build (a note file or an image, however it is reached), or two
  outputs that are one file (`refuse_unsafe_outputs`).
- **One build at a time per output** (`output_lock`): an exclusive `fcntl.flock` on a hidden lock
  file beside the output (`.<name>.aws-anki.lock`, removed when the build is done). A second
  build into the same output waits for the first (told through `waiting`), then finds the deck
  up to date or builds on its state. Where `flock` is missing (Windows) `msvcrt.locking` takes
  its place; on a filesystem that refuses locks the build goes on unlocked, which the unique
  temporary names below keep safe for the files themselves.
- **Temporary files carry their output's name** (`.<name>.aws-anki-XXXXXXXX<suffix>`, unique per
  build), so that under the lock any left by a killed build are known to be stale and removed.
- **Replaced together or not at all** (`replace_together`): staged files are renamed into place
  one after the other; if a rename fails, those already made are undone from a hard-linked copy
  of the previous file.
- **One-line errors**: every `OSError` becomes a `PackageError` naming the path and the reason.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import OutputError, PackageError, printable

try:
    import fcntl as _fcntl
except ImportError:  # Windows
    _fcntl = None  # type: ignore[assignment]
try:
    import msvcrt as _msvcrt
except ImportError:  # POSIX
    _msvcrt = None  # type: ignore[assignment]

__all__ = [
    "NOTE_SUFFIXES", "output_lock", "refuse_unsafe_outputs", "replace_together", "shareable", "temporary", "write_failure",
]

# Every name a Markdown note goes by: an output never takes one.
NOTE_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd", ".mkdn")
_LONGEST_NAME = 100  # longer output names are hashed into their temporary names (names stop at 255 bytes)

_held: dict[tuple[int, str], int] = {}  # (thread, lock file) -> how deep this thread holds it


def refuse_unsafe_outputs(outputs: Sequence[Path], inputs: Iterable[Path] = ()) -> None:
    """OutputError unless every output is safe to replace: not named like a note, not one of
    `inputs` (compared as files, so symlinks and other spellings count), not another output."""
    for output in outputs:
        if output.suffix.lower() in NOTE_SUFFIXES:
            raise OutputError(f"{_shown(output)}: refusing to write there: it is named like a Markdown note "
                              f"({output.suffix}); choose another output name (a deck ends in .apkg)")
    entries = [_entry(output) for output in outputs]
    for index, entry in enumerate(entries):
        if entry in entries[:index]:
            raise OutputError(f"{_shown(outputs[index])}: refusing to write two outputs into one file; give each its own name")
    existing = {_identity(output): output for output in outputs if _is_file(output)}
    existing.pop(None, None)
    if not existing:
        return  # nothing there to lose
    for source in inputs:
        identity = _identity(source)
        found = existing.get(identity) if identity is not None else None
        if found is not None:
            raise OutputError(f"{_shown(found)}: refusing to write there: it is {_shown(source)}, an input of this build")


def _entry(path: Path) -> str:
    """The directory entry a rename onto `path` replaces, spelled one way (case-folded for
    case-insensitive filesystems: refusing too much there is better than too little)."""
    return os.path.normcase(str(Path(os.path.abspath(path.parent)).resolve() / path.name)).casefold()


def _is_file(path: Path) -> bool:
    with suppress(OSError, ValueError):
        return stat.S_ISREG(os.lstat(path).st_mode)
    return False


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file `path` leads to, or None if there is none."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino)


def _shown(path: Path | str) -> str:
    return printable(os.fspath(path))


def write_failure(path: Path, what: str, error: OSError) -> PackageError:
    """The one-line error of a write that failed: the path, what was written, and why."""
    reason = error.strerror or str(error) or type(error).__name__
    if isinstance(error, (FileExistsError, NotADirectoryError)) and not path.parent.is_dir():
        reason = f"{reason} ({_shown(_first_non_folder(path.parent))} is a file, not a folder)"
    return PackageError(f"{_shown(path)}: could not write the {what}: {reason}")


def _first_non_folder(folder: Path) -> Path:
    """The first ancestor of `folder` (from the root down) that exists but is not a folder."""
    for parent in (*reversed(folder.parents), folder):
        if parent.exists() and not parent.is_dir():
            return parent
    return folder


def _prefix(output: Path) -> str:
    """The start of the name of every temporary file made for `output`."""
    name = output.name
    if len(os.fsencode(name)) > _LONGEST_NAME:
        name = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f".{name}.aws-anki-"


def _lock_file(output: Path) -> Path:
    return output.with_name(_prefix(output)[:-1] + ".lock")


def temporary(output: Path, suffix: str) -> Path:
    """A new, empty temporary file beside `output` (its folder made if needed), named for it."""
    folder = output.parent
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=_prefix(output), suffix=suffix, dir=folder)
    os.close(handle)
    return Path(name)


@contextmanager
def staging(path: Path, suffix: str, what: str, *, owner: Path | None = None) -> Iterator[Path]:
    """A new temporary file meant for `path` (named for `owner`, default `path`) to write into, made
    `shareable` when the block ends; removed if the block fails, an OSError becoming a PackageError
    that names `path` and `what`."""
    staged: Path | None = None
    try:
        staged = temporary(owner if owner is not None else path, suffix)
        yield staged
        shareable(staged)
    except BaseException as error:
        if staged is not None:
            staged.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_failure(path, what, error) from error
        raise


def shareable(path: Path) -> None:
    """Give a temporary file the permissions of any new file (mkstemp makes it 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextmanager
def output_lock(output: Path, *, what: str = "file", waiting: Callable[[Path, str], None] | None = None) -> Iterator[None]:
    """Hold the lock of `output` (re-entrant in one thread): a second build into it waits, and
    `waiting(output, holder)` is called once first (`holder`: the other build's process ID, or "").
    While held, temporary files a killed build left for `output` are removed. PackageError naming
    `output` (the `what`) when the lock file cannot be made: a read-only folder, a parent that is a file."""
    lock = _lock_file(output)
    key = (threading.get_ident(), os.path.abspath(lock))
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    try:
        handle, locked = _acquire(lock, waiting, output)
    except OSError as error:
        raise write_failure(output, what, error) from error
    _held[key] = 1
    try:
        if locked:
            _remove_stale(output)
        yield
    finally:
        del _held[key]
        with suppress(OSError):
            lock.unlink()  # before unlocking: a waiter then sees the file gone and locks a new one
        os.close(handle)


def _acquire(lock: Path, waiting: Callable[[Path, str], None] | None, output: Path) -> tuple[int, bool]:
    """Open and lock the lock file; (handle, whether locked). A lock file its holder removed
    before we got it is stale: lock the one now at the path instead."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    told = False
    while True:
        handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            locked = _try_lock(handle)
            if locked is False:
                if waiting is not None and not told:
                    waiting(output, _holder(handle))
                    told = True
                _wait_for_lock(handle)
                locked = True
            if not locked or _same_file(handle, lock):
                if locked:
                    _write_holder(handle)
                return handle, bool(locked)
        except BaseException:
            os.close(handle)
            raise
        os.close(handle)


def _try_lock(handle: int) -> bool | None:
    """Try to lock without waiting: True, False (another build holds it), None (locks not supported)."""
    try:
        if _fcntl is not None:
            _fcntl.flock(handle, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        elif _msvcrt is not None:
            _msvcrt.locking(handle, _msvcrt.LK_NBLCK, 1)
        else:
            return None
    except BlockingIOError:
        return False
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EAGAIN, errno.EDEADLK):
            return False
        if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            return None  # a filesystem without locks: go on unlocked
        raise
    return True


def _wait_for_lock(handle: int) -> None:
    if _fcntl is not None:
        _fcntl.flock(handle, _fcntl.LOCK_EX)
        return
    while True:  # msvcrt's blocking lock gives up after 10 seconds: ask again until it is ours
        try:
            _msvcrt.locking(handle, _msvcrt.LK_LOCK, 1)  # type: ignore[union-attr]
            return
        except OSError as error:
            if error.errno != errno.EDEADLK:
                raise


def _same_file(handle: int, path: Path) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(handle)
    return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)


def _holder(handle: int) -> str:
    """The process ID the holder wrote into the lock file ("" if none can be read)."""
    with suppress(OSError):
        text = os.pread(handle, 20, 0).decode("ascii", "replace").strip() if hasattr(os, "pread") else ""
        return text if text.isdigit() else ""
    return ""


def _write_holder(handle: int) -> None:
    if _msvcrt is not None and _fcntl is None:
        return  # the locked byte cannot be written through another handle there; the ID is only a courtesy
    with suppress(OSError):
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode("ascii"), 0)


def _remove_stale(output: Path) -> None:
    """Remove the temporary files of `output` a killed build left (only ours: our prefix, plain files)."""
    prefix = _prefix(output)
    try:
        entries = list(os.scandir(output.parent))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(prefix) and entry.is_file(follow_symlinks=False):
            with suppress(OSError):
                os.unlink(entry.path)


def replace_together(pairs: Sequence[tuple[Path, Path]], what: str, *, owner: Path | None = None) -> None:
    """Rename each staged file onto its target, all or none: when one rename fails, the targets
    already replaced get their previous files back. PackageError (naming the target) on failure;
    the staged files are removed either way. `owner`: the output whose lock is held (default: the
    first target), whose name the files kept aside carry."""
    owner = owner if owner is not None else pairs[0][1]
    done: list[tuple[Path, Path | None]] = []  # (target, its previous file kept aside, or None if it had none)
    target, kept = owner, None
    try:
        for staged, target in pairs:
            kept = _keep_aside(target, owner)
            os.replace(staged, target)
            done.append((target, kept))
            kept = None
    except BaseException as error:
        _undo(done)
        if kept is not None:
            with suppress(OSError):
                kept.unlink()
        if isinstance(error, OSError):
            raise write_failure(target, what, error) from error
        raise
    finally:
        for staged, _ in pairs:
            with suppress(OSError):
                staged.unlink(missing_ok=True)
        for _, previous in done:
            if previous is not None:
                with suppress(OSError):
                    previous.unlink(missing_ok=True)


def _keep_aside(target: Path, owner: Path) -> Path | None:
    """A hard link (or, where links are not supported, a copy) of what is at `target`, to put back
    if a later rename fails; None when there is nothing there."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return None
    kept = temporary(owner, ".previous")
    kept.unlink()
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(target), kept)
    elif not stat.S_ISREG(info.st_mode):
        return None  # a folder or device: the rename onto it fails and leaves it as it is
    else:
        try:
            os.link(target, kept)
        except OSError:
            shutil.copy2(target, kept)
    return kept


def _undo(done: Sequence[tuple[Path, Path | None]]) -> None:
    """Put back the previous files of the targets already replaced."""
    for target, kept in reversed(done):
        with suppress(OSError):
            if kept is None:
                target.unlink(missing_ok=True)
            else:
                os.replace(kept, target)
