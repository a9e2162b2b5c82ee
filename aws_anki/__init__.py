"""aws_anki: turn Markdown study notes about AWS into Anki decks worth keeping.

    >>> import aws_anki
    >>> result = aws_anki.build_deck(["notes/"], deck_name="AWS")
    >>> result.report.notes, result.notes[0].guid
    >>> result.write("aws.apkg")
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .build import BuildReport, BuildResult, WriteResult, build_deck
from .errors import AwsAnkiError, BuildWarning
from .notes import CardNote

try:
    __version__ = version("aws-anki")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0.0.0"

__all__ = ["AwsAnkiError", "BuildReport", "BuildResult", "BuildWarning", "CardNote", "WriteResult", "build_deck", "__version__"]
