"""GUIDs: a note's stable key (its identity) and the short GUID hashed from it.

An identity is `service|sections|note type|subject` (see `note_identity`): never the text or the
place of a fact, so an edited or moved fact keeps its note. Facts whose identities collide are told
apart by a suffix, `key#2`, `key#3` ... (`numbered`); `merge_notes` numbers them in reading order
and the build state keeps each one's number across rebuilds.
"""
from __future__ import annotations

import hashlib
import re

_GUID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_GUID_BASE2 = len(_GUID_ALPHABET) ** 2
_GUID_PAIRS = tuple(a + b for a in _GUID_ALPHABET for b in _GUID_ALPHABET)
_SUFFIX = re.compile(r"#\d+$")


def note_identity(service_key: str, sections: str, note_type: str, subject: str) -> str:
    """The stable key a note's GUID is made from: the service's key ("-" for none), the sections
    below the file title (each normalised, joined by `/`), the note type and the normalised subject."""
    return f"{service_key}|{sections}|{note_type}|{subject}"


def identity_parts(identity: str) -> tuple[str, str, str, str]:
    """(service key, sections, note type, subject) of an identity; "" for parts it lacks."""
    parts = identity.split("|", 3)
    parts.extend([""] * (4 - len(parts)))
    return parts[0], parts[1], parts[2], parts[3]


def numbered(identity: str, number: int) -> str:
    """The identity of the `number`th fact (2 and on) whose key is `identity`."""
    return f"{identity}#{number}"


def unnumbered(identity: str) -> str:
    """An identity without the `#N` that tells colliding keys apart."""
    return _SUFFIX.sub("", identity) if "#" in identity else identity


def guid_for(key: str) -> str:
    """A short, stable GUID for a key (64 bits of SHA-256, base 62)."""
    number = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    # Two base-62 digits at a time: 2**64 < 62**11, so five pairs and a last digit hold any number.
    number, d1 = divmod(number, _GUID_BASE2)
    number, d2 = divmod(number, _GUID_BASE2)
    number, d3 = divmod(number, _GUID_BASE2)
    number, d4 = divmod(number, _GUID_BASE2)
    number, d5 = divmod(number, _GUID_BASE2)
    pairs = _GUID_PAIRS
    return (_GUID_ALPHABET[number] + pairs[d5] + pairs[d4] + pairs[d3] + pairs[d2] + pairs[d1]).lstrip("0") or "0"
