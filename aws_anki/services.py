"""The AWS service catalog and the matching of service names in headings and prose.

The catalog is data (``data/services.json``); this module turns it into a token trie once and
answers four questions: which service does a name denote (``lookup``), which services does a
heading name (``in_heading``), which services does running prose mention (``in_text``), and
where (``mentions``: character spans, for the key terms of a card).
``resolve_path`` applies the rule of the nearest heading: a fact belongs to the services named by
the deepest heading above it that names any as its subject, not only beside it ("... with CloudWatch").
"""
from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .errors import AwsAnkiError

CATALOG_RESOURCE = ("data", "services.json")
PREFIXES = ("aws", "amazon")
PREFIXES_SET = frozenset(PREFIXES)
HEADING_CACHE_SIZE = 16384

_TOKEN = re.compile(r"(?:(?i:non)-)?[^\W_]+")  # "non-Lambda" is one token: it names no service
_LEADING_NUMBER = re.compile(r"^\s*(?:\d+[.)]?(?=\s|$)\s*)+(?:[-:\u2013\u2014]\s*)?")
_TRAILING_PAREN = re.compile(r"\s*\([^()]*\)\s*$")
_GLUE_CHARS = frozenset("_-'")


@dataclass(frozen=True)
class Service:
    """One AWS service: stable key, canonical name, Anki tag, category and aliases."""

    key: str
    name: str
    tag: str
    category: str
    aliases: tuple[str, ...]

    def __hash__(self) -> int:
        # Keys are unique in a catalog; hashing the key alone keeps per-note lookups keyed by service cheap.
        return hash(self.key)


class _Form(NamedTuple):
    """One way of writing a service's name, as the trie stores it (without an AWS/Amazon prefix)."""

    service: int
    ambiguous: bool  # a plain word: in a heading only as the whole heading, in prose never
    misspelling: bool  # headings only
    prefixed: bool  # written with AWS/Amazon only ("AWS SSO"): matches only after a prefix
    exact_case: tuple[str, ...] | None  # when set, the match must end with these tokens as written


_Trie = dict[str, Any]
_TERMINAL = "\0"


def _tokens(text: str) -> list[str]:
    """Split text into word tokens (letters and digits), NFKC-normalised, case kept."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text))


def _fold(tokens: Iterable[str]) -> tuple[str, ...]:
    """Case-fold tokens for matching."""
    return tuple(token.casefold() for token in tokens)


def normalize(name: str) -> str:
    """Return the matching form of a name: case-folded words joined by single spaces."""
    return " ".join(_fold(_tokens(name)))


def _strip_prefix(tokens: tuple[str, ...]) -> tuple[str, ...] | None:
    """Return the tokens after a leading AWS/Amazon prefix, or None when there is none."""
    if len(tokens) > 1 and tokens[0].casefold() in PREFIXES:
        return tokens[1:]
    return None


def _is_capitals(tokens: Sequence[str]) -> bool:
    """Tell whether a form is written in capitals (an acronym such as AIM or RAM)."""
    joined = "".join(tokens)
    return joined.isupper() and any(char.isalpha() for char in joined)


def _case_ok(form: _Form, raw: Sequence[str], end: int) -> bool:
    """Tell whether a match ending at token ``end`` is written in the case the form requires."""
    if form.exact_case is None:
        return True
    return tuple(raw[end - len(form.exact_case):end]) == form.exact_case


@dataclass(frozen=True)
class Catalog:
    """The immutable service catalog with its name matcher, built once."""

    services: tuple[Service, ...]
    ambiguous: frozenset[tuple[str, str]] = frozenset()
    misspellings: frozenset[tuple[str, str]] = frozenset()
    version: int = 0
    _by_key: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _by_name: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _trie: _Trie = field(init=False, repr=False, compare=False)
    _heading_cache: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key: dict[str, int] = {}
        for index, service in enumerate(self.services):
            if service.key in by_key:
                raise AwsAnkiError(f"service catalog: duplicate key {service.key!r}")
            by_key[service.key] = index
        forms = self._build_forms()
        trie: _Trie = {}
        by_name: dict[str, int] = {}
        for tokens, form in forms.items():
            node = trie
            for token in tokens:
                node = node.setdefault(token, {})
            node[_TERMINAL] = form
            by_name[" ".join(tokens)] = form.service
        for index, service in enumerate(self.services):
            for written in (service.tag, service.key):
                by_name.setdefault(normalize(written), index)
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_trie", trie)
        object.__setattr__(self, "_heading_cache", functools.lru_cache(maxsize=HEADING_CACHE_SIZE)(self._match_heading))

    def __reduce__(self) -> tuple[type[Catalog], tuple[Any, ...]]:
        """Pickle the data only (for worker processes); the matcher is rebuilt on arrival."""
        return Catalog, (self.services, self.ambiguous, self.misspellings, self.version)

    def _build_forms(self) -> dict[tuple[str, ...], _Form]:
        """Turn names and aliases into trie forms keyed by their case-folded tokens, prefix removed."""
        forms: dict[tuple[str, ...], _Form] = {}
        for index, service in enumerate(self.services):
            for written in (service.name, *service.aliases):
                raw = tuple(_tokens(written))
                if not raw:
                    raise AwsAnkiError(f"service catalog: empty name or alias in {service.key!r}")
                base = _strip_prefix(raw)
                ambiguous = (service.key, written) in self.ambiguous
                misspelling = (service.key, written) in self.misspellings
                exact = (base or raw) if (ambiguous or misspelling) and _is_capitals(base or raw) else None
                form = _Form(index, ambiguous, misspelling, base is not None, exact)
                folded = _fold(base or raw)
                owner = forms.get(folded)
                if owner is not None and owner.service != index:
                    other = self.services[owner.service].key
                    raise AwsAnkiError(f"service catalog: {written!r} names both {other!r} and {service.key!r}")
                forms[folded] = form if owner is None else _merge(owner, form)
        return forms

    def get(self, key: str) -> Service:
        """Return the service with this key; KeyError when there is none."""
        return self.services[self._by_key[key]]

    def lookup(self, name: str) -> Service | None:
        """Return the service a key, name, tag or alias denotes (any case or punctuation)."""
        index = self._by_key.get(name)
        if index is None:
            tokens = _fold(_tokens(name))
            index = self._by_name.get(" ".join(tokens))
            if index is None and _strip_prefix(tokens):
                index = self._by_name.get(" ".join(tokens[1:]))
        return None if index is None else self.services[index]

    def in_heading(self, heading: str) -> tuple[Service, ...]:
        """Return the services a heading names, in order of appearance, without repeats."""
        return self._heading_cache(heading)  # type: ignore[no-any-return]

    def in_text(self, text: str) -> tuple[Service, ...]:
        """Return the services running prose mentions (no misspellings, no bare plain words)."""
        found = self._prose(unicodedata.normalize("NFKC", text))
        return tuple(self.services[index] for index in dict.fromkeys(index for _, _, index in found))

    def mentions(self, text: str) -> tuple[tuple[int, int, Service], ...]:
        """Where running prose mentions services, by the rules of `in_text`: (start, end, service)
        for each mention, in order, as character offsets into `text` itself."""
        return tuple((start, end, self.services[index]) for start, end, index in self._prose(text))

    def _prose(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, service index) of the service names in prose: see `in_text`."""
        matches = list(_TOKEN.finditer(text))
        raw = [match.group() for match in matches]
        folded = tuple(t.casefold() if t.isascii() else unicodedata.normalize("NFKC", t).casefold() for t in raw)
        if self._trie.keys().isdisjoint(folded) and not PREFIXES_SET.intersection(folded):
            return []  # most lines of notes name no service: no walk

        def glued(first: int, last: int) -> bool:
            before = text[matches[first].start() - 1] if matches[first].start() > 0 else " "
            after = text[matches[last].end()] if matches[last].end() < len(text) else " "
            return before in _GLUE_CHARS or after in _GLUE_CHARS

        def accept(form: _Form, start: int, end: int) -> bool:
            if form.ambiguous or form.misspelling:
                return False
            if end - start == 1 and len(raw[start]) <= 2 and glued(start, end - 1):
                return False
            return _case_ok(form, raw, end)

        return [(matches[start].start(), matches[end - 1].end(), index) for index, start, end in self._spans(folded, accept)]

    def _match_heading(self, heading: str) -> tuple[Service, ...]:
        """Match a heading (uncached); see in_heading."""
        raw = _tokens(heading)
        core = _TRAILING_PAREN.sub("", _LEADING_NUMBER.sub("", heading))
        core_tokens = _tokens(core)
        core_start = 0
        for index in range(len(raw) - len(core_tokens) + 1):
            if raw[index:index + len(core_tokens)] == core_tokens:
                core_start = index
                break
        core_span = (core_start, core_start + len(core_tokens))

        def accept(form: _Form, start: int, end: int) -> bool:
            if not _case_ok(form, raw, end):
                return False
            return not form.ambiguous or (start, end) == core_span

        return self._scan(raw, accept)

    def _scan(self, raw: Sequence[str], accept: Any) -> tuple[Service, ...]:
        """The services of the matches `_spans` finds in these tokens, in order, without repeats."""
        found = dict.fromkeys(index for index, _, _ in self._spans(_fold(raw), accept))
        return tuple(self.services[index] for index in found)

    def _spans(self, folded: Sequence[str], accept: Any) -> list[tuple[int, int, int]]:
        """Walk the trie over case-folded tokens, taking the longest accepted form at each position:
        (service index, first token, end token) of each match.

        ``accept(form, start, end)`` judges unprefixed matches; a match right after an AWS/Amazon
        token takes the prefix in and is always accepted but for its case and misspelling rules.
        """
        found: list[tuple[int, int, int]] = []
        position = 0
        while position < len(folded):
            best: tuple[int, int] | None = None
            if folded[position] in PREFIXES:
                for form, end in self._walk(folded, position + 1):
                    if accept(form._replace(ambiguous=False), position, end):
                        best = (form.service, end)
                        break
            if best is None:
                for form, end in self._walk(folded, position):
                    if not form.prefixed and accept(form, position, end):
                        best = (form.service, end)
                        break
            if best is None:
                position += 1
                continue
            found.append((best[0], position, best[1]))
            position = best[1]
        return found

    def _walk(self, folded: Sequence[str], start: int) -> list[tuple[_Form, int]]:
        """Return the forms that start at token ``start``, longest first, with their end."""
        node = self._trie
        matches: list[tuple[_Form, int]] = []
        for end in range(start, len(folded)):
            next_node = node.get(folded[end])
            if next_node is None:
                break
            node = next_node
            form = node.get(_TERMINAL)
            if form is not None:
                matches.append((form, end + 1))
        matches.reverse()
        return matches


def _merge(first: _Form, second: _Form) -> _Form:
    """Combine two spellings of one service that fold to the same tokens ("AWS Config", "Config")."""
    if first.prefixed != second.prefixed:
        return first if second.prefixed else second  # a listed bare form is usable without prefix
    return min(first, second, key=lambda form: (form.ambiguous, form.misspelling))


def catalog_from_json(data: Mapping[str, Any]) -> Catalog:
    """Build a catalog from the parsed ``services.json`` document."""
    services: list[Service] = []
    ambiguous: set[tuple[str, str]] = set()
    misspellings: set[tuple[str, str]] = set()
    for entry in data["services"]:
        aliases = tuple(entry.get("aliases", ()))
        service = Service(entry["key"], entry["name"], entry["tag"], entry["category"], aliases)
        services.append(service)
        misspellings.update((service.key, alias) for alias in entry.get("misspellings", ()))
        marked = entry.get("ambiguous")
        if marked is True:
            ambiguous.update((service.key, alias) for alias in aliases if len(_tokens(alias)) == 1)
        elif marked:
            ambiguous.update((service.key, form) for form in marked)
    return Catalog(tuple(services), frozenset(ambiguous), frozenset(misspellings), int(data.get("version", 0)))


@functools.cache
def load_catalog() -> Catalog:
    """Load the catalog shipped in the package (cached)."""
    # A path, not importlib.resources (as for the templates, see models.template_text): the package
    # is never imported from a zip, and importing and opening resources cost every build about 6 ms.
    return catalog_from_json(json.loads(Path(__file__).resolve().parent.joinpath(*CATALOG_RESOURCE).read_text(encoding="utf-8")))


def resolve_path(headings: Sequence[str], *, catalog: Catalog | None = None) -> tuple[tuple[Service, ...], int | None]:
    """Return the services of the deepest heading that names any, and its index; ((), None) if none.
    A heading that only relates its subject to a service ("On-Demand vs auto scaling", "Metrics to
    monitor with CloudWatch") leaves the fact with a heading above it that names one, if any."""
    catalog = catalog or load_catalog()
    related: tuple[tuple[Service, ...], int] | None = None
    for index in range(len(headings) - 1, -1, -1):
        found = catalog.in_heading(headings[index])
        if not found:
            continue
        if not _only_related(headings[index], catalog):
            # ...unless the heading above names no other service: the nearer heading is then the more exact one
            return (found, related[1]) if related and set(found) <= set(related[0]) else (found, index)
        related = related or (found, index)
    return related or ((), None)


# What comes before a service a heading only relates its subject to: "with", "vs", "(", "+".
_RELATION_BEFORE = re.compile(
    r"(?:\b(?:vs|versus|with|without|and|or|for|in|inside|into|using|to|from|via|than|on|by|through|"
    r"behind|across|between|before|after)\.?|[(+&/,=])\s*(?:(?:the|a|an)\s+)?$",
    re.I,
)


def _only_related(heading: str, catalog: Catalog) -> bool:
    """Whether the first service a heading names follows a relation word, not opens its subject."""
    found = catalog.mentions(heading)
    if not found or not _RELATION_BEFORE.search(heading[: found[0][0]]):
        return False
    tokens = _tokens(_LEADING_NUMBER.sub("", heading))  # "RAM (Resource Access Manager)" opens on one
    return not any(catalog.lookup(" ".join(tokens[:size])) for size in range(1, min(len(tokens), 4) + 1))
