"""The progress bar `aws-anki build` shows on stderr, as a `RunOptions.progress` callback."""
from __future__ import annotations

import sys
import time
from typing import Any

import click


class ProgressBar:
    """A progress bar on stderr for builds that take more than about a second (terminals only)."""

    DELAY = 0.3  # seconds of parsing before a bar appears: builds under about a second never show one

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._clock = time.monotonic
        self._started = self._clock()
        self._bar: Any = None
        self._shown = 0
        self._visible = False  # a bar was shown, so later stages are announced too

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage == "write":
            self.stage("Writing the deck")
            return
        if self._bar is None:
            if done >= total or self._clock() - self._started < self.DELAY:
                return
            self._bar = click.progressbar(length=total, label="Parsing notes", file=sys.stderr, show_pos=True)
            self._bar.__enter__()
            self._visible = True
        self._bar.update(done - self._shown)
        self._shown = done
        if done >= total:
            self.stage("Merging duplicate facts")

    def stage(self, label: str) -> None:
        """Close the bar and say what the build does next (only if a bar was shown)."""
        self.close()
        if self._visible:
            click.echo(f"{label}...", err=True)

    def close(self) -> None:
        """Close the bar, if one is shown."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.__exit__(None, None, None)
