"""Deliver a build to Anki without clicking Import.

Two routes, both optional and imported only when used (the core never imports them):

- `aws_anki.deliver.ankiconnect.push`: send the notes to a running Anki desktop through the
  AnkiConnect add-on (v6 API). Standard library only.
- `aws_anki.deliver.collection_sync.sync_collection`: import the build into a collection file
  with the official `anki` library (exactly like Anki desktop's Import), then sync it with AnkiWeb
  or a self-hosted sync server, so AnkiMobile/AnkiDroid get the cards at their next sync. Needs
  `pip install aws-anki[sync]`.
"""
from __future__ import annotations

from ..errors import AwsAnkiError


class DeliveryError(AwsAnkiError):
    """A build could not be delivered to Anki; the message says why and what to do."""


__all__ = ["DeliveryError"]
