"""Context lines and fronts: what a card says about where its fact sits.

`context_line` gives a fact's `Service › section › subsection` line; `qualified_fronts` gives a
basic front that would not name its subject (a generic label, or two fronts of a file that read
the same) the nearest heading that tells it apart. `normalise` is how headings and subjects are
compared, here and when notes are keyed (`guids`).
"""
from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from dataclasses import replace
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Callable, Sequence

from .cardtext import visible_text
from .glyphs import strip_heading_noise
from .services import Service

if TYPE_CHECKING:
    from .extract import Fact

CONTEXT_SEPARATOR = " › "
LABEL_TERMS = frozenset({
    "use case", "use cases", "example", "examples", "pros", "cons", "note", "notes", "tip", "tips",
    "pricing", "price", "cost", "limits", "limit", "benefits", "features", "caso de uso", "casos de uso",
    "ejemplo", "ventajas", "desventajas", "precio",
})
# Fronts that name a kind of point, not a subject: they always carry their section.
GENERIC_FRONTS = frozenset({
    *LABEL_TERMS, "security", "performance", "overview", "description", "definition", "summary", "scenarios",
    "scenario", "availability", "durability", "monitoring", "integration", "integrations", "encryption", "scaling",
    "billing", "considerations", "advantages", "disadvantages", "cost savings", "similar tools", "key features",
    "how it works", "when to use", "use", "purpose", "characteristics", "types", "options", "limitations",
    "best practices", "requirements", "architecture", "components", "concepts", "benefit", "feature", "costs",
    "reliability", "latency", "throughput", "storage", "logging", "access", "permissions", "configuration",
    "ventajas", "desventajas", "seguridad", "resumen", "descripción",
})
_NORMALISE = re.compile(r"[\W_]+", re.UNICODE)
# An ASCII byte to itself lower-cased if it is a letter or digit, else to a space (one C call per text).
_ASCII_WORD_BYTES = bytes(ord(chr(c).lower()) if c < 128 and chr(c).isalnum() else 32 for c in range(256))


def qualified_fronts(facts: Sequence[Fact], context_of: Callable[[tuple[str, ...]], str]) -> Sequence[Fact]:
    """Facts whose basic front would not name its subject get the section it belongs to after it:
    a generic label ("Use cases", "Benefits") always, and two fronts of a file that read the same
    by the nearest part of their context that tells them apart. Anki's duplicate check, its
    browser and AnkiConnect all go by the first field. `context_of` gives the context line of a
    heading path."""
    groups: dict[str, list[int]] = {}
    for index, fact in enumerate(facts):
        if not fact.is_cloze:
            groups.setdefault(normalise(visible_text(fact.front)), []).append(index)
    changed: dict[int, Fact] = {}
    for key, indexes in groups.items():
        if len(indexes) < 2 and key not in GENERIC_FRONTS:
            continue
        paths = [context_of(facts[i].headings).split(CONTEXT_SEPARATOR) for i in indexes]
        for i, qualifier in zip(indexes, distinguishing_each(paths, key)):
            if qualifier:
                fact = facts[i]
                changed[i] = replace(fact, front=f'{fact.front} <span class="qualifier">({html.escape(qualifier)})</span>')
    return [changed.get(i, fact) for i, fact in enumerate(facts)] if changed else facts


def distinguishing_each(paths: Sequence[Sequence[str]], front: str) -> list[str]:
    """For each path of a group, its deepest heading that no other path has (else its deepest one that
    is not the front itself), in time linear in the group: a file with one front in thousands of
    sections is common."""
    holders = Counter(heading for path in paths for heading in set(path))  # paths holding each heading
    return [_distinguishing_counted(path, holders, front) for path in paths]


def _distinguishing_counted(path: Sequence[str], holders: Counter[str], front: str) -> str:
    """One path's distinguishing heading: a heading that only one path holds, no other path has."""
    candidates = [h for h in reversed(path) if normalise(h) != front]
    for heading in candidates:
        if holders[heading] == 1:
            return heading
    return candidates[0] if candidates else ""


def context_line(headings: Sequence[str], services: Sequence[Service], index: int | None) -> str:
    """`Service › section › subsection` for a fact, so its card is answerable on its own: the path
    once, without the file's title or a document title, chapter numbers, emoji or trailing colons,
    and without the service's name again at the start of a sub-heading."""
    if not services or index is None:
        path = [strip_heading_noise(h) for h in headings if "://" not in h]
        if len(path) > 1:
            path = path[1:]  # the file's title: a file name, not a subject
        while len(path) > 1 and _DOCUMENT_TITLE.search(path[0]):
            path = path[1:]
        return CONTEXT_SEPARATOR.join(_dedupe(path))
    named = headings[index]
    lead = " & ".join(s.name for s in services)
    rest = [_without_service(strip_heading_noise(h), services) for h in headings[index + 1 :] if "://" not in h]
    # A sub-heading that only spells the service out ("AWS Identity & Access management" under IAM)
    rest = [h for h in rest if not _spells_services(h, tuple(services))]
    if index > 0 and not _spells_services(named, tuple(services)):
        rest.insert(0, strip_heading_noise(named))
    return CONTEXT_SEPARATOR.join(_dedupe([lead, *(h for h in rest if h)]))


# A heading that names the document, not a subject: `AWS Study Guide`, `README`, `SAA-C03 notes`.
_DOCUMENT_TITLE = re.compile(
    r"\b(?:readme|index|notes?|study guide|cheat ?sheet|summary|overview|table of contents|contents|"
    r"certified|certification|exam|stuff|misc|miscellaneous|apuntes|resumen|guía)\b",
    re.I,
)


def _dedupe(path: Sequence[str]) -> list[str]:
    """A path without a heading that repeats the one before it (plurals aside: "Savings Plans",
    then "saving plans")."""
    out: list[str] = []
    for heading in path:
        if not out or _singular_words(heading) != _singular_words(out[-1]):
            out.append(heading)
    return out


def _singular_words(heading: str) -> str:
    """A heading's words, normalised, each without a plural "s" ("policies": "policy")."""
    return " ".join(_singular(w) for w in normalise(heading).split())


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _without_service(heading: str, services: Sequence[Service]) -> str:
    """`CloudWatch Key Details` under CloudWatch reads `Key Details`: the service is already named."""
    words = heading.split()
    for service in services:
        for name in sorted({service.name, service.tag, *service.aliases}, key=len, reverse=True):
            size = len(name.split())
            if size < len(words) and normalise(" ".join(words[:size])) == normalise(name):
                rest = " ".join(words[size:]).lstrip("-–—:› ").strip()
                return rest if rest and rest[0].isupper() else heading
    return heading


# Words beside service names that add nothing to a heading ("HPC on AWS", "SNS vs SQS").
_FILLER = frozenset("aws amazon on in at of the vs versus and or compared with comparison".split())


@lru_cache(maxsize=4096)  # every path below a service heading asks again
def _spells_services(heading: str, services: tuple[Service, ...]) -> bool:
    """Whether a heading only spells its services' names: the service's own heading adds nothing
    ("AWS Lambda", "Lambda", "HPC on AWS", "SNS vs SQS" under both); a feature heading that merely
    contains the name ("S3 Object Lambda", "EC2 - Placement Groups") does."""
    own_words = {*_FILLER, *(w for s in services for w in _spelling_words(s))}
    return set(normalise(re.sub(r"\([^)]*\)", " ", heading)).split()) <= own_words


@cache  # per service: every note of a service asks again
def _spelling_words(service: Service) -> frozenset[str]:
    """Words that only spell the service: its name, tag, key, and long forms ("Key Management
    Service"). Aliases that contain the short name ("S3 Object Lambda") name features instead."""
    short = set(normalise(f"{service.tag} {service.key}").split())
    words = set(normalise(f"{service.name} {service.tag} {service.key}").split())
    aliases = [normalise(alias) for alias in service.aliases]
    features = [alias for alias in aliases if set(alias.split()) & short]
    for alias in aliases:
        # "Object Lambda" is the feature "S3 Object Lambda" without its service name.
        if alias not in features and not any(alias in feature for feature in features):
            words |= set(alias.split())
    return frozenset(words)


def normalise(text: str) -> str:
    """Lower-case words only: what two spellings of the same heading or subject share."""
    if text.isascii():
        # The same without a regex: NFKC leaves ASCII alone, casefold is lower, and `[\W_]` is
        # every character but a letter or digit.
        return b" ".join(text.encode("ascii").translate(_ASCII_WORD_BYTES).split()).decode("ascii")
    return _NORMALISE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()

