"""Shared fixtures: the fixture vault, the real notes (when ../shared exists), a built deck."""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REAL_NOTES = Path(__file__).resolve().parents[2] / "shared" / "real_notes"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep test builds out of the user's own cache folder (~/.cache/aws-anki) and data folder
    (its cache signing key)."""
    os.environ["AWS_ANKI_CACHE_DIR"] = str(tmp_path_factory.mktemp("aws-anki-cache"))
    os.environ["AWS_ANKI_DATA_DIR"] = str(tmp_path_factory.mktemp("aws-anki-data"))


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """A writable copy of the fixture vault."""
    target = tmp_path / "vault"
    shutil.copytree(FIXTURES / "vault", target)
    return target


@pytest.fixture
def real_notes() -> Path:
    """The real learners' notes from ../shared; the test is skipped when they are not there."""
    if not REAL_NOTES.is_dir():
        pytest.skip("../shared/real_notes is not present")
    return REAL_NOTES


@pytest.fixture
def delivery_vault(tmp_path: Path) -> Path:
    """A one-file vault (with an image) for the push and sync tests."""
    folder = tmp_path / "vault" / "compute"
    folder.mkdir(parents=True)
    (folder / "lambda.md").write_text((FIXTURES / "deliver" / "lambda.md").read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copyfile(FIXTURES / "vault" / "attachments" / "lambda-flow.svg", folder / "flow.svg")
    return folder.parent


@pytest.fixture
def make_unreadable(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Make files unreadable: mode 0, and for root (whom modes do not stop) `os.open` refuses them
    as the kernel would refuse anyone else, so the test asserts the same thing for every user."""
    denied: list[Path] = []
    real_open = os.open

    def refusing(path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        if Path(path) in denied:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    def make(path: Path) -> None:
        path.chmod(0)
        denied.append(path)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            monkeypatch.setattr(os, "open", refusing)

    yield make
    for path in denied:
        path.chmod(0o644)
