"""`Term: definition` lines: where a term ends, and what reads as a term rather than a clause."""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from ..parse import inline_text
from .deletions import FILLER
from .noise import FIRST_PERSON_ANY, FIRST_PERSON_START
from .plain import FLOW
from .text import WORD, lstrip_tokens

Token = Mapping[str, Any]

MAX_TERM_CHARS = 70
MAX_TERM_WORDS = 8
MAX_DASH_TERM_WORDS = 4
_SEPARATORS = (" = ", " -> ", " => ", " - ", " – ", " — ")
_COMPOUND_TAILS = frozenset("based driven level side wide specific managed enabled aware facing optimized".split())
_COPULA = re.compile(r"^\s*(is|are|was|were|means|refers to|es|son|significa|se refiere a)\s+", re.I)
_IS_A = r"\s+(?:is|are|es|son)\s+(?=(?:a|an|the|one|un|una|el|la|los|las)\s)"  # "X is a Y"
IS_A = re.compile(_IS_A, re.I)
WHOLE_BOLD_SPLIT = re.compile(_IS_A + r"|\s*(?<!:)[=:](?!:)\s+", re.I)

# A "term" that opens like a sentence is not a term ("keep in mind that this: ...").
_SENTENCE_OPENER = re.compile(
    r"^(?:keep in mind|note|remember|also|again|and|but|so|if|when|because|in order|for example|e\.g|i\.e|however|then|"
    r"which|what|how|why|as|by default|in (?:the )?case of|nota|también|si|cuando|porque|pero)\b",
    re.I,
)
_PRONOUNS = frozenset(
    "this that these those there it its they them you your we he she one here which who what "
    "esto eso este esta estos estas ello ellos ellas aquí".split()
)
_TRAILING_PRONOUNS = frozenset("there it this that they them here".split())

# A term never ends with these, nor has these after its first word (then it is a clause).
TERM_END_WORDS = frozenset("that which and or but so then if when the a an to of with for as el la que y o".split())
CLAUSE_WORDS = frozenset(
    "can could will would should must may might have has had does did is are was were allows lets get gets got "
    "means makes creates needs puede pueden tiene tienen es son hay".split()
)
_SECOND_PERSON = frozenset(("you", "your", "we", "our", "tú", "usted"))

# Definition terms that name a kind of point, not a subject: asked together with their section.
GENERIC_LABELS = frozenset(
    "use case|use cases|example|examples|pros|cons|pro|con|advantages|disadvantages|benefits|benefit|features|"
    "feature|limits|limit|limitations|pricing|price|cost|costs|note|notes|tip|tips|security|performance|"
    "availability|durability|scalability|monitoring|integration|integrations|encryption|scaling|billing|"
    "considerations|purpose|how it works|when to use|ventajas|desventajas|casos de uso|caso de uso|ejemplo|precio".split("|")
)

# Headings that name no topic of their own: a generic label is asked with the one above them.
GENERIC_HEADINGS = frozenset(
    "general info|general information|general|overview|key details|key points|basics|introduction|intro|summary|"
    "notes|misc|miscellaneous|details|concepts|key concepts|features|key features|characteristics|"
    "key characteristics|información general".split("|")
)
ARTICLE = re.compile(r"^(?:an?|the|el|la|los|las|un|una)\s+(?=\S)", re.I)
_QUOTED = re.compile(r"[\"“'].*[\"”']")
_URL_IN_TERM = re.compile(r"https?$|\bhttps?://")
_DIGITS = re.compile(r"[\d\s]+")
_BARE_SEPARATORS = (":", *(s.strip() for s in _SEPARATORS))


def _earliest_separator(raw: str) -> tuple[int, int] | None:
    """Position and width of the first definition separator in a text (`: ` preferred)."""
    colon = raw.find(":")
    while colon >= 0 and (raw[colon + 1 : colon + 2] not in (" ", "\t", "") or raw[colon - 1 : colon] == ":"):
        colon = raw.find(":", colon + 1)
    if colon >= 0 and is_term(raw[:colon].strip()):
        return colon, 1
    found = [(colon, 1)] if colon >= 0 else []
    if "-" in raw or "=" in raw or "–" in raw or "—" in raw:  # one of these is in every other separator
        for sep in _SEPARATORS:
            at = raw.find(sep)
            if at >= 0:
                found.append((at, len(sep)))
    return min(found) if found else None


def _split_tokens(tokens: Sequence[Token], index: int, offset: int, skip: int) -> tuple[list[Token], list[Token]]:
    """Split inline tokens inside text token `index` at `offset`, dropping `skip` separator chars."""
    raw = tokens[index]["raw"]
    left = [*tokens[:index]]
    right = [*tokens[index + 1 :]]
    if raw[:offset].strip():
        left.append({"type": "text", "raw": raw[:offset].rstrip()})
    if raw[offset + skip :].strip():
        right.insert(0, {"type": "text", "raw": raw[offset + skip :].lstrip()})
    return left, right


def split_definition(tokens: Sequence[Token], text: str | None = None) -> tuple[list[Token], list[Token]] | None:
    """Split `Term: definition` style tokens into (term, definition), or None; `text`: their plain text if known."""
    first = tokens[0] if tokens else None
    if first is None:
        return None
    if text is None:
        text = inline_text(tokens)
    if ("->" in text or "=>" in text or "→" in text) and FLOW.search(text):
        return None
    # `**Term**: def`, `**Term** - def`, `**Term** is def`, `` `term`: def ``, `**Term:** def`
    if first["type"] in ("strong", "codespan", "emphasis") and len(tokens) > 1:
        term = inline_text([first]).strip()
        if first["type"] == "strong" and term.endswith(":") and is_term(term[:-1].strip()):
            return [first], lstrip_tokens(tokens[1:])
        rest = tokens[1]
        if rest["type"] == "text" and is_term(term):
            raw = rest["raw"]
            stripped = raw.lstrip()
            for sep in _BARE_SEPARATORS:
                if stripped.startswith(sep) and (sep not in ("-", ":") or stripped[len(sep) : len(sep) + 1] in (" ", "")):
                    if sep == "-" and not raw.startswith(" "):
                        continue
                    body = stripped[len(sep) :]
                    if body.strip() or len(tokens) > 2:
                        return [first], lstrip_tokens(_rest_tokens(body, tokens[2:]))
            copula = _COPULA.match(raw)
            if copula and first["type"] == "strong":
                return [first], lstrip_tokens(_rest_tokens(raw[copula.end() :], tokens[2:]))
        if first["type"] == "strong":
            return None
    # `Term: def` with the separator in a text token near the start
    length = 0  # of the plain text of the tokens up to this one
    for index, token in enumerate(tokens):
        if token["type"] != "text":
            if token["type"] in ("link", "image", "embed", "strong", "mark", "inline_html"):
                return None
            length += len(inline_text((token,)))
            continue
        found = _earliest_separator(token["raw"])
        if found is not None:
            left, right = _split_tokens(tokens, index, *found)
            term = inline_text(left).strip()
            # A dash joins many things: only a short term before it makes a definition.
            dash = token["raw"][found[0] : found[0] + found[1]].strip() in ("-", "–", "—")
            body = inline_text(right).strip()
            if dash and (len(term.split()) > MAX_DASH_TERM_WORDS or body.split(" ", 1)[0] in _COMPOUND_TAILS):
                return None  # a long clause, or a compound written with spaces ("Identity - based Policies")
            return (left, right) if is_term(term) and body else None
        length += len(token["raw"])
        if length > MAX_TERM_CHARS:
            return None
    return None


def _rest_tokens(body: str, tail: Sequence[Token]) -> list[Token]:
    """A definition body: the text left after a separator, then the tokens after it."""
    head = [{"type": "text", "raw": body.lstrip()}] if body.strip() else []
    return [*head, *tail]


def is_term(term: str) -> bool:
    """Whether a text reads as a term: a short noun phrase, not a clause or a pronoun."""
    if not 0 < len(term) <= MAX_TERM_CHARS:
        return False
    words = term.split()
    if len(words) > MAX_TERM_WORDS:
        return False
    lowered = [word.lower() for word in words]
    return (
        not term.endswith((".", ",", ";"))
        and term.count("(") == term.count(")")
        and term.count('"') % 2 == 0
        and not (term[0] in "\"“'" and _QUOTED.fullmatch(term))  # a quoted title
        and ". " not in term
        and lowered[-1] not in TERM_END_WORDS
        and (len(words) == 1 or lowered[-1] not in _TRAILING_PRONOUNS)  # "In the case of a server, there"
        and CLAUSE_WORDS.isdisjoint(lowered[1:])
        and _SECOND_PERSON.isdisjoint(lowered)
        and lowered[0].strip("\"'(") not in _PRONOUNS
        and not ("http" in term and _URL_IN_TERM.search(term))
        and not _DIGITS.fullmatch(term)
        and not (len(words) > 1 and _SENTENCE_OPENER.match(term))
        and not (FIRST_PERSON_START.match(term) or FIRST_PERSON_ANY.match(term))
    )


_PADDING = frozenset("list lists available existing given specified current new some any one".split())


def restates(term: str, body: str) -> bool:
    """Whether a definition's body only says its term again ("Security: security recommendations")."""
    said = {w.removesuffix("s") for w in WORD.findall(term.lower())}
    words = [w for w in WORD.findall(body.lower()) if w not in FILLER and len(w) > 2]
    restated = sum(w.removesuffix("s") in said for w in words)
    if len(said) == 1 and words and words[0].removesuffix("s") in said:
        return True  # "Type: type of message": the answer opens on the question
    parts = [p.lower() for p in re.findall(r"[A-Za-z][a-z]*", term)] if re.search(r"_|[a-z][A-Z]", term) else []
    if len(parts) >= 2:  # an identifier spelled out: "num_topics: number of required topics"
        opening = [w for w in WORD.findall(body.lower())][: len(parts) + 3]
        if all(any(w.startswith(p) or p.startswith(w[:3]) and w.startswith(p[:3]) for w in opening) for p in parts):
            return True
    if (
        len(said) >= 2
        and not any(c.isdigit() for c in body)
        and not re.search(r"::|\baws \w|\w-\w+-\w", body)  # a command or type name is an answer
        and all(any(w.removesuffix("s") == t for w in words) for t in said)
    ):
        # "policy templates: a list of available policy templates": the term again, plus filler
        return sum(1 for w in words if w.removesuffix("s") not in said and w not in _PADDING) <= 1
    return 0 < len(words) <= 2 and restated >= max(1, len(words) - 1)
