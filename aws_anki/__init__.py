"""aws_anki: turn Markdown study notes about AWS into Anki decks worth keeping.

    >>> import aws_anki
    >>> result = aws_anki.build_deck(["notes/"], aws_anki.DeckOptions(deck_name="AWS"))
    >>> result.report.notes, result.notes[0].guid
    >>> result.write("aws.apkg")
    >>> aws_anki.build_into("aws.apkg", ["notes/"])  # the same, and a no-op when nothing changed
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import AwsAnkiError, BuildWarning
from .options import DeckOptions, RunOptions
from .source import Source

if TYPE_CHECKING:
    from .build import BuildReport, BuildResult, DeckBuild, WriteResult, build_deck, build_into
    from .notes import CardNote

# Imported on first use, so `import aws_anki` (and `aws-anki --help`) does not load the pipeline.
_LAZY = {
    "BuildReport": "build", "BuildResult": "build", "DeckBuild": "build", "WriteResult": "build",
    "build_deck": "build", "build_into": "build", "CardNote": "notes",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version  # ~13 ms: only when asked

        try:
            value = version("aws-anki")
        except PackageNotFoundError:  # running from a checkout that is not installed
            value = "0.0.0"
    elif name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "AwsAnkiError", "BuildReport", "BuildResult", "BuildWarning", "CardNote", "DeckBuild", "DeckOptions", "RunOptions",
    "Source", "WriteResult", "build_deck", "build_into", "__version__",
]
