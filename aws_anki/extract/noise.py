"""Lines that are not worth a card: first-person musing, links and images alone, pointers, text about the notes."""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from .text import ANY_WORD, WORD, has_key_term

Token = Mapping[str, Any]

# First-person musing: at the start of a line, or `I think`/`I was`... anywhere. Two patterns, so that
# the costly search anywhere runs only on lines holding an `I `.
FIRST_PERSON_START = re.compile(
    r"^(?:\W*)(?:(?-i:I)(?![/:=&-])|I'm|I’m|I've|I’ve|I'd|I’d|I'll|I’ll|IMO|IMHO|my|in my (?:opinion|experience)|"
    r"to be fair, I|honestly|personally|it would be (?:so |really |very )?(?:nice|great|cool)|to my (?:best )?knowledge|"
    r"yo|creo|me parece|no sé|pienso)\b",
    re.I,
)
FIRST_PERSON_ANY = re.compile(
    r"\bI (?:think|wonder|guess|believe|could not|couldn't|couldn’t|can't|was|am|have|had|would|don't|do not|"
    r"never|found|find|tried|love|like|hope|see|saw|noticed|learned|learnt|watched)\b|"
    r"\b(?:from|in) my (?:experience|opinion|view|tests?)\b",
    re.I,
)
_POINTER_OPENER = re.compile(
    r"^\W*(?:see|read|check(?: out)?|(?:for )?more (?:info|information|details|about)|learn more|consult|source|"
    r"ref(?:erence)?|from|ver|lee|leer|(?:para )?más información|fuente|"
    r"here(?:'s|’s| is| are) (?:an? |the |some )?(?:\w+ )?(?:article|post|video|blog|talk|write-?up|read))\b",
    re.I,
)
_SEE_ALSO = re.compile(r"^\W*(?:for more (?:info|information|details)|learn more|see also)\b", re.I)
_POINTER_NOUN = re.compile(
    r"\b(?:here|this|article|articles|link|docs?|documentation|blog|post|video|tweet|talk|series|"
    r"aquí|artículo|enlace|documentación)\b",
    re.I,
)

# Text about the notes themselves, not about AWS: "this repository contains...", "each file covers".
_META = re.compile(
    r"^\W*(?:(?:this|the following|these|here)\b.{0,40}?\b(?:repo(?:sitory)?|page|file|folder|document|section|"
    r"notes?|guide|site|portal|course|chapter|cheat ?sheet)s?\b.{0,60}?\b(?:contains?|covers?|includes?|describes?|"
    r"lists?|is about|has|explains?|summari[sz]es?|organi[sz]ed)\b|"
    r"each (?:file|page|folder|section|note|chapter)\b(?=.{0,40}\b(?:covers?|contains?|describes?|is about|explains?)\b)|"
    r"welcome to\b|happy (?:learning|studying)\b|good luck\b|you (?:can|will) find\b|table of contents\b|"
    r"(?:images?|pictures?|diagrams?|screenshots?|files?|notes?)\b.{0,30}\b(?:folder|directory)\b|"
    r"(?:este|esta) (?:repositorio|página|archivo|documento|sección) (?:contiene|cubre|incluye))",
    re.I,
)
_TAGS_ONLY = re.compile(r"^\s*(?:#[\w/-]+\s*)+$")  # an Obsidian line of tags: `#aws #lambda`
META_HEADING = re.compile(
    r"^\W*(?:table of contents|contents|toc|index|índice|indice|contenido|further reading|reading list|"
    r"references|(?:useful |other |more )?links|(?:useful|other|more|learning|study) resources|credits|acknowledg(?:e)?ments|license|"
    r"contributing|to-?do|.*\bwatched\b.*|"
    r"referencias)\W*$",
    re.I,
)
_RAW_HTML = re.compile(r"<(?:img|div|p|table|td|tr|center|font)\b[^>]*>|<img\b|&nbsp;|\xa0\s*\xa0\s*\xa0", re.I)
# A section that works through an example or a scenario: "Example", "Example 3: services", "Scenario 1".
EXAMPLE_HEADING = re.compile(r"^\W*(?:(?:an?|for|worked|sample) )?(?:examples?|scenario)\b(?! (?:of|use ?cases?)\b)", re.I)
_URL_ONLY = re.compile(r"^\s*(?:<)?https?://\S+(?:>)?\s*$")


def _first_person(text: str) -> re.Match[str] | None:
    """The first-person phrase of a text (at its start if there is one there), or None."""
    found = FIRST_PERSON_START.match(text)
    if found is None and ("I " in text or "i " in text or "\u0130 " in text or "\u0131 " in text or "my " in text):
        found = FIRST_PERSON_ANY.search(text)  # (`I` ignoring case also matches `İ` and `ı`)
    return found


def noise_reason(text: str, tokens: Sequence[Token]) -> str | None:
    """Why a line is not worth a card (first-person, link-only, ...), or None."""
    # Line breaks and blank text are not meaningful; they hold no key term either, so
    # `has_key_term(tokens)` below is that of the meaningful tokens.
    meaningful = links = False
    only_images = True
    for token in tokens:
        kind = token["type"]
        if kind == "text":
            if token["raw"].strip():
                meaningful, only_images = True, False
        elif kind != "softbreak":
            meaningful = True
            if kind == "link":
                links = True
                only_images = False
            elif kind != "image" and kind != "embed":
                only_images = False
    if meaningful and only_images:
        return "image-only"
    if not meaningful or not ANY_WORD.search(text):
        return "empty"
    if links:
        outside = " ".join(t["raw"] for t in tokens if t["type"] == "text" and t["raw"].strip())
        if len(WORD.findall(outside)) <= 2 and not has_key_term(tokens):
            return "link-only"
    if "://" in text and _URL_ONLY.match(text):
        return "bare-url"
    if ("<" in text or "\xa0" in text) and _RAW_HTML.search(text):
        return "raw-html"  # layout markup written as text (`<img align=...>`, `&nbsp;` runs): no fact
    if _META.match(text):
        return "meta"
    if _TAGS_ONLY.match(text):
        return "tags"
    first_person = _first_person(text)
    if first_person and (first_person.start() == 0 or not has_key_term(tokens)):
        return "first-person"
    if _SEE_ALSO.match(text):
        return "pointer"  # "For more information, see Managing certificates in IAM"
    if _POINTER_OPENER.match(text) and len(text) < 160 and (links or _POINTER_NOUN.search(text)):
        if not has_key_term(tokens) or links:
            return "pointer"
    return None
