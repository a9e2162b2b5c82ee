"""The values build options may take, shared by the notes stage and the command line (which must
not import the notes stage just to list them: an up-to-date `aws-anki build` never needs it)."""
from __future__ import annotations

DECK_LAYOUTS = ("none", "category", "service", "file")
REVERSE_MODES = ("none", "short", "all")
