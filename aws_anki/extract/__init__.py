"""Extract stage: turn parsed sections into Facts, the units a learner memorises. No Anki here.

One fact, one card. How a line (a bullet's first paragraph, or one sentence of prose) becomes a
card; the first rule that matches wins:
1. noise gives no card: first-person musing (unless a bold term comes after it), link-only or
   image-only lines, bare URLs, "see this article" pointers; a last sentence that only points
   elsewhere ("Read more here.") is dropped from its line;
2. an author's own `{{c1::...}}` is kept as written (a `::` inside the deletion must sit in a code
   span: outside code, the first `::` starts the hint, as in Anki); `==highlight==` spans become
   deletions, one number each;
3. `Q:`/`A:` line pairs give a basic card (question, answer);
4. `**Term**: def`, `**Term:** def`, `**Term** - def`, `**Term** is/are def`, `Term: def`,
   `Term = def`, `Term - def` give a definition card (front: the term, back: the definition). A
   term is a short noun phrase: at most 8 words (4 before a dash) and 70 characters, not opening
   with a pronoun ("this", "there"), holding no verb after its first word ("X can Y") and no
   sentence end. `A -> B -> C` is a flow, not a definition. Definitions of the same term in one
   section merge into one card. An answer keeps its first sentence, and the next ones while it
   stays within 25 words; the rest goes to the card's extra;
5. a line of several sentences makes one card per sentence: a cloze never shows its siblings;
6. bold spans inside a sentence become cloze deletions, one number per span; spans joined only by
   "and"/"or"/"y"/"o"/"&"/"/"/"+"/commas belong together and share a number. A span is not a
   deletion when it is filler ("whenever", "can use") or a link, hides more than 60% of the line,
   is longer than 9 words, is longer than 4 words and leaves fewer than 4 words of its sentence
   visible, or is already shown in the card's context (the answer would be on the front);
7. a line (almost) entirely in bold, or whose every span was refused, splits into a definition
   card when it reads `Term = def`, `Term: def` or `Term is/are a|an|the ...`; otherwise it is a
   plain statement (rule 8). A cloze never hides a whole line;
8. a plain statement (no markup) becomes a cloze on its key term, found by `keyterms` (numbers
   with units, defaults, other AWS services, acronyms, code, quoted terms: see there for the
   ranking), or no card, with the reason: trivial advice, a pointer to text not on the card
   ("above"), over 40 words, or no key term (see `plain`).
A `Note:`/`Tip:`/`Important:` prefix is dropped and the rest follows the rules above; such a line
wrapped into the bullet above it is split off. Bold broken by hard wrapping (`**` at the end of a
line) is repaired.
Enumerations: a bullet or paragraph that ends with ":", a short line in bold, or a short plain
bullet (not a full sentence) over at least two short sub-items leads in to its items. A small,
closed set (at most 7 items of at most 8 words, 30 words in all) makes one list card with the
whole list (front: the lead-in; back: each item's first sentence, or only the terms when every
item is a definition); the rest of each item goes to the card's extra. Items that are
definitions or have bold or highlights also make their own cards, in the context of the lead-in.
A longer set never has one item blanked: its items that say something (5 words or more, a
definition, a key term) make their own cards in the list's context, and a set of bare names
makes no card (`long-set`). A section holding nothing but one list of 3 to 7 distinct
definitions also gets a list card of their terms, asked by the heading. A paragraph that is a
short line in bold (optionally ending with ":") and introduces more text acts as a sub-heading
for what follows in its section.
Sub-items under a fact go to its extra field; sub-items with a key term of their own (at any
depth) also make facts. Tables are keyed by their first column: with one value column, one card
per row; a comparison (two value columns or more) gives one card per cell, asked by its row and
column. Code blocks and images attach to the fact before them in the section (to the next one
when none came before).
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..parse import Block, Document, Section, inline_text, lines_outside_fences
from ..render import CLOZE_CLOSE, CLOZE_HINT, blocks_html, cloze_open, inline_html
from .plain import clauses, plain_deletions, shown_elsewhere

Token = Mapping[str, Any]

MAX_LIST_ITEMS = 7
MAX_SET_ITEM_WORDS = 12  # a list card's items are short names, phrases or steps ...
MAX_SET_WORDS = 36  # ... and all of them together fit in a glance
MAX_NAME_WORDS = 4  # an item this short is a name
MAX_ANNOUNCED_ITEM_WORDS = 8  # "X needs:" over a few short items is a set the author announced
MAX_LISTED_TERM_WORDS = 3  # a list card of definitions' terms only when the terms are names
MIN_STATEMENT_WORDS = 5  # an item of a long list this long says something of its own
MAX_ANSWER_WORDS = 25  # an answer keeps its first sentence, and more only up to this many words
MAX_DELETION_SHARE = 0.6
MAX_SENTENCE_DELETION_WORDS = 4
MIN_SENTENCE_CUE_WORDS = 4  # a long deletion needs at least this many visible words in its sentence
MAX_DELETION_WORDS = 5  # a longer bold span is a phrase the author stressed, not a term to recall
MAX_DELETIONS_PER_NOTE = 20
MAX_ITEM_WORDS = 15  # sub-items this short (on average) are an enumeration's items
MAX_TERM_CHARS = 70
MAX_TERM_WORDS = 8
MAX_DASH_TERM_WORDS = 4
MAX_ANSWER_CHARS = 600
WHOLE_BOLD_SHARE = 0.8
MAX_PSEUDO_HEADING_WORDS = 8

_AUTHOR_OPEN = re.compile(r"\{\{c(\d+)::")
_SEPARATORS = (" = ", " -> ", " => ", " - ", " – ", " — ")
_COPULA = re.compile(r"^\s*(is|are|was|were|means|refers to|es|son|significa|se refiere a)\s+", re.I)
_WHOLE_BOLD_SPLIT = re.compile(
    r"\s+(?:is|are|es|son)\s+(?=(?:a|an|the|one|un|una|el|la|los|las)\s)|\s*(?<!:)[=:](?!:)\s+", re.I
)
# The gap between two sentences is group 1 (a leading `[.!?]` rather than a look-behind lets the
# regex engine skip quickly to the candidates).
_SENTENCE_END = re.compile(r"[.!?](\s+)(?=[\"'(¿¡]?[A-ZÁÉÍÓÚÑ0-9`*_\[])")
_ABBREVIATIONS = re.compile(r"(?:\b(?:e\.g|i\.e|eg|ie|etc|vs|approx|incl|p\.ej|aprox|no|nr|min|max)\.)$", re.I)
# First-person musing: at the start of a line, or `I think`/`I was`... anywhere. Two patterns, so that
# the costly search anywhere runs only on lines holding an `I `.
_FIRST_PERSON_START = re.compile(
    r"^(?:\W*)(?:I(?![/:=&-])|I'm|I’m|I've|I’ve|I'd|I’d|I'll|I’ll|IMO|IMHO|my|in my (?:opinion|experience)|"
    r"to be fair, I|honestly|yo|creo|me parece|no sé|pienso)\b",
    re.I,
)
_FIRST_PERSON_ANY = re.compile(
    r"\bI (?:think|wonder|guess|believe|could not|couldn't|couldn’t|can't|was|am|have|had|would|don't|do not|"
    r"never|found|find|tried|love|like|hope|see|saw|noticed|learned|learnt|watched)\b",
    re.I,
)
_POINTER_OPENER = re.compile(
    r"^\W*(?:see|read|check(?: out)?|(?:for )?more (?:info|information|details)|learn more|consult|source|"
    r"ref(?:erence)?|from|ver|lee|leer|(?:para )?más información|fuente)\b",
    re.I,
)
_POINTER_NOUN = re.compile(
    r"\b(?:here|this|article|articles|link|docs?|documentation|blog|post|video|tweet|talk|series|"
    r"aquí|artículo|enlace|documentación)\b",
    re.I,
)
# A "term" that opens like a sentence is not a term ("keep in mind that this: ...").
_SENTENCE_OPENER = re.compile(
    r"^(?:keep in mind|note|remember|also|and|but|so|if|when|because|in order|for example|e\.g|i\.e|however|then|"
    r"which|what|how|why|as|by default|nota|también|si|cuando|porque|pero)\b",
    re.I,
)
_PRONOUNS = frozenset(
    "this that these those there it its they them you your we he she one here which who what "
    "esto eso este esta estos estas ello ellos ellas aquí".split()
)
# A term never ends with these, nor has these after its first word (then it is a clause).
_DANGLING = frozenset("that which and or but so then if when the a an to of with for as el la que y o".split())
_CLAUSE_WORDS = frozenset(
    "can could will would should must may might have has had does did is are was were allows lets get gets got "
    "means makes creates needs puede pueden tiene tienen es son hay".split()
)
_SECOND_PERSON = frozenset(("you", "your", "we", "our", "tú", "usted"))
# What may stand between two bold spans that make one deletion ("**S3** and **EBS**").
_JOINERS = frozenset(("", "and", "or", "&", "/", ",", "y", "o", "+", ", and", ", or"))
# Words that carry no fact on their own: a bold span made only of these is not a deletion.
_FILLER = frozenset(
    "a an the and or of to in on for with by at from as is are be been was were it this that these those there "
    "here whenever when if then also very really just can could should would will use used using you your we "
    "example examples e.g note important remember keep mind always never only not do does some any such stuff "
    "thing things actually basically quite pretty rather kind sort lot default has have had usually often sometimes "
    "generally mostly typically simply easily neat cool nice interesting "
    "associate associated separate separately bigger smaller larger faster slower cheaper more less different same "
    "multiple single both each every better best worse worst higher lower cannot can't possible easy hard key main "
    "basic simple whole entire own other another new old really burned careful "
    "el la los las un una y o de del en con por para es son se que muy también".split()
)
# Text about the notes themselves, not about AWS: "this repository contains...", "each file covers".
_META = re.compile(
    r"^\W*(?:(?:this|the following|these|here)\b.{0,40}?\b(?:repo(?:sitory)?|page|file|folder|document|section|"
    r"notes?|guide|site|portal|course|chapter|cheat ?sheet)s?\b.{0,60}?\b(?:contains?|covers?|includes?|describes?|"
    r"lists?|is about|has|explains?|summari[sz]es?|organi[sz]ed)\b|each (?:file|page|folder|section|note|chapter)\b|"
    r"welcome to\b|happy (?:learning|studying)\b|good luck\b|you (?:can|will) find\b|table of contents\b|"
    r"(?:images?|pictures?|diagrams?|screenshots?|files?|notes?)\b.{0,30}\b(?:folder|directory)\b|"
    r"(?:este|esta) (?:repositorio|página|archivo|documento|sección) (?:contiene|cubre|incluye))",
    re.I,
)
_TAGS_ONLY = re.compile(r"^\s*(?:#[\w/-]+\s*)+$")  # an Obsidian line of tags: `#aws #lambda`
_META_HEADING = re.compile(
    r"^\W*(?:table of contents|contents|toc|index|índice|indice|contenido|further reading|reading list|"
    r"references|useful links|credits|acknowledg(?:e)?ments|license|contributing|to-?do|.*\bwatched\b.*|"
    r"referencias)\W*$",
    re.I,
)
# A lead-in that announces a closed set.
_SET_LEAD = re.compile(
    r"^(?:to|how to|para|cómo)\s|^\w+ing\b|\b(?:types?|kinds?|steps?|modes?|options?|classes|tiers?|levels?|strategies|components?|parts?|consists?|"
    r"includes?|engines?|categories|models?|families|pillars?|phases?|stages?|states?|methods?|ways?|formats?|"
    r"protocols?|flavou?rs?|editions?|plans?|layers?|elements?|benefits|advantages|tipos?|pasos?|modos?|clases)\b",
    re.I,
)
# A bold span that opens like a clause, or a comma inside one that is no list of names.
_CLAUSE_SPAN = re.compile(
    r"^\s*(?:when|while|if|for|with|by|to|from|as|because|since|after|before|during|without|so|and|or|but|that|which|"
    r"not|no|can|will|must|should|is|are|be|used|using|create|creates|update|you|we|it|"
    r"cuando|si|para|con|por|porque)\b",
    re.I,
)
# Definition terms that name a kind of point, not a subject: asked together with their section.
GENERIC_LABELS = frozenset(
    "use case|use cases|example|examples|pros|cons|pro|con|advantages|disadvantages|benefits|benefit|features|"
    "feature|limits|limit|limitations|pricing|price|cost|costs|note|notes|tip|tips|security|performance|"
    "availability|durability|scalability|monitoring|integration|integrations|encryption|scaling|billing|"
    "considerations|purpose|how it works|when to use|ventajas|desventajas|casos de uso|caso de uso|ejemplo|precio".split("|")
)
# Headings that name no topic of their own: a generic label is asked with the one above them.
_GENERIC_HEADINGS = frozenset(
    "general info|general information|general|overview|key details|key points|basics|introduction|intro|summary|"
    "notes|misc|miscellaneous|details|concepts|key concepts|features|key features|información general".split("|")
)
_NOTE_LABEL = re.compile(r"^\s*(?:note|nb|n\.b\.|tip|important|nota|importante|ojo)\s*:\s*", re.I)
# A label, an arrow or a connective that ties a line to the one before: not part of its fact.
_NOTE_PREFIX = re.compile(
    r"^\s*(?:(?:note|nb|n\.b\.|tip|important|nota|importante|ojo)\s*:\s*|(?:=>|->|→|⇒)\s*|(?:so|also|and|but|then),?\s+(?=\w))",
    re.I,
)
_ARTICLE = re.compile(r"^(?:an?|the|el|la|los|las|un|una)\s+(?=\S)", re.I)
_FLOW = re.compile(r"(?:->|=>|→).*(?:->|=>|→)")  # `A -> B -> C` is a flow, not a definition
_URL_ONLY = re.compile(r"^\s*(?:<)?https?://\S+(?:>)?\s*$")
_QUESTION = re.compile(r"^\s*(?:Q|Question|P|Pregunta)\s*[:.]\s*", re.I)
_ANSWER = re.compile(r"^\s*(?:A|Answer|R|Respuesta)\s*[:.]\s*", re.I)
_WORD = re.compile(r"\w+")
# Matched on a line without its leading spaces and `>` (matching them in the pattern is slow: it backtracks).
_DEFINITION_LINE = re.compile(
    r"(?:[-*+]|\d{1,3}[.)])?[ \t]*"
    r"(?:\*\*(?P<bold>[^*\n]{1,70}?)(?::\*\*|\*\*[ \t]*(?::|=|-(?=\s)|–|—|(?:is|are|es|son)(?=\s)))"
    r"|(?P<plain>[\w\"'(][^:=*\n]{0,69}?)(?::(?=\s)|[ \t]=|[ \t]-[ \t]|[ \t]–[ \t]))"
    r"[ \t]*(?P<body>\S.*)$"
)
_MARKUP = re.compile(r"\*\*|==|`|(?<!\w)_|_(?!\w)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_ANY_WORD = re.compile(r"\w")
_QUOTED = re.compile(r"[\"“'].*[\"”']")
_URL_IN_TERM = re.compile(r"https?$|\bhttps?://")
_DIGITS = re.compile(r"[\d\s]+")
_TAG = re.compile(r"<[^>]+>")
_SENTENCE_TAIL = re.compile(r"[.!?]\s+$")
_BARE_SEPARATORS = (":", *(s.strip() for s in _SEPARATORS))


@dataclass(frozen=True)
class Fact:
    """One thing to learn, with its fields as HTML (cloze deletions as render sentinels)."""

    kind: str  # definition | cloze | list | row | cell | qa
    front: str  # basic: the prompt (term, lead-in, question); cloze: the text with deletions
    back: str  # basic: the answer; cloze: ""
    extra: str  # shown on the back: sub-points, code, images
    headings: tuple[str, ...]  # file title > h1 > h2 ... (> lead-in of an enumeration)
    source: str  # notes-root-relative path of the file
    line: int
    subject: str  # plain text the note's identity is derived from
    pattern: str = ""  # which rule of the notes made it (for statistics)

    @property
    def is_cloze(self) -> bool:
        """Whether this fact becomes a cloze note."""
        return self.kind == "cloze"


@dataclass(frozen=True)
class Skip:
    """A line of the notes that made no card, and why."""

    source: str
    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class Extraction:
    """Everything one file gave: its facts, what was skipped, and what coverage is measured on."""

    source: str
    metadata: Mapping[str, Any]
    facts: tuple[Fact, ...]
    skipped: tuple[Skip, ...]
    bold_texts: tuple[tuple[int, str], ...] = ()  # (line, text) of every bold span
    definition_texts: tuple[tuple[int, str, str], ...] = ()  # (line, term, definition) of definition-like lines


def extract_facts(document: Document) -> Extraction:
    """Extract the facts of one parsed document."""
    builder = _Builder(document.source.rel_path)
    for section in document.sections:
        builder.section(section)
    return Extraction(
        source=document.source.rel_path,
        metadata=document.source.metadata,
        facts=tuple(builder.facts),
        skipped=tuple(builder.skipped),
        bold_texts=tuple(bold_texts(document)),
        definition_texts=tuple(definition_lines(document.source.text)),
    )


# What coverage is measured on: found independently of the rules above -------------------------


def bold_texts(document: Document) -> Iterator[tuple[int, str]]:
    """Every bold span outside headings (hard-wrapped ones repaired), with its line."""
    found: list[tuple[int, str]] = []
    for section in document.sections:
        for block in section.blocks:
            _bold_in(block.token, block.line, found)
    return iter(found)


def _bold_in(token: Token, line: int, found: list[tuple[int, str]]) -> None:
    """Add the bold spans in one token and its children to `found`, with the nearest line known."""
    line = token.get("line", line)
    kind = token["type"]
    if kind == "strong":
        text = inline_text(token["children"]).strip()
        if text:
            found.append((line, text))
        return
    children = token.get("children")
    if not children:
        return
    if kind in ("paragraph", "block_text", "table_cell"):
        children = repair_bold(children)
    for child in children:
        if "children" not in child:
            continue  # a leaf (text, code span...) holds no bold
        if child["type"] == "strong":  # the common case, without a call
            text = _span_text(child["children"]).strip()
            if text:
                found.append((child.get("line", line), text))
        else:
            _bold_in(child, line, found)


def definition_lines(text: str) -> Iterator[tuple[int, str, str]]:
    """Lines that read `Term: definition` (any separator), found on the raw text outside code."""
    for number, raw in lines_outside_fences(text):
        # Most lines hold no separator at all: a cheap test first (a dash separator follows a term's
        # first character, so an item's own `- ` marker is left out of it).
        rest = raw.lstrip(" \t>")
        if not ("**" in rest or ":" in rest or "=" in rest or "–" in rest or " -" in rest[1:] or "\t-" in rest[1:]):
            continue
        match = _DEFINITION_LINE.match(rest)
        if match is None:
            continue
        term = _strip_markup(match.group("bold") or match.group("plain") or "").strip(" :")
        body = match.group("body")
        if "](" in body:
            body = _LINK.sub(r"\1", body)
        body = _strip_markup(body).strip()
        if _QUESTION.fullmatch(term + ":") or _ANSWER.fullmatch(term + ":") or _NOTE_LABEL.fullmatch(term + ":"):
            term = ""  # a `Q:`/`A:`/`Note:` label, not a term: only what follows it must be in a card
            if not body:
                continue
        if body and len(term.split()) <= MAX_TERM_WORDS and not term.lower().startswith("http"):
            yield number, term, body


def _strip_markup(text: str) -> str:
    """The text without `**`, `==`, backticks and `_` emphasis marks."""
    if "*" in text or "=" in text or "`" in text or "_" in text:
        return _MARKUP.sub("", text)
    return text


# Inline helpers ----------------------------------------------------------------------------------


class _Line:
    """A run of inline tokens that reads as one statement (a bullet head or one sentence)."""

    # A plain slotted class: lines are made by the thousand, and `text` is read many times.
    __slots__ = ("_text", "line", "tokens")

    def __init__(self, tokens: tuple[Token, ...], line: int) -> None:
        self.tokens = tokens
        self.line = line
        self._text: str | None = None

    @property
    def text(self) -> str:
        """The plain text of the line."""
        text = self._text
        if text is None:
            text = self._text = inline_text(self.tokens).strip()
        return text


def repair_bold(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """Re-pair `**` left as literal text by hard wrapping (`we are **` / `reserving x**`) into bold."""
    for token in tokens:
        if token["type"] == "text" and "**" in token["raw"]:
            break
    else:
        return tuple(tokens)
    pieces: list[Token | None] = []  # None marks a literal `**`
    for token in tokens:
        if token["type"] == "text" and "**" in token["raw"]:
            parts = token["raw"].split("**")
            for index, part in enumerate(parts):
                if index:
                    pieces.append(None)
                if part:
                    pieces.append({"type": "text", "raw": part})
        else:
            pieces.append(token)
    out: list[Token] = []
    opened: int | None = None
    for piece in pieces:
        if piece is not None:
            out.append(piece)
        elif opened is None:
            opened = len(out)
        else:
            inner = [t for t in out[opened:] if t["type"] != "softbreak"]
            if inner and inner[0]["type"] == "text":
                inner[0] = {"type": "text", "raw": inner[0]["raw"].lstrip()}
            if inner and inner[-1]["type"] == "text":
                inner[-1] = {"type": "text", "raw": inner[-1]["raw"].rstrip()}
            del out[opened:]
            out.append({"type": "strong", "children": inner})
            opened = None
    if opened is not None:
        out.insert(opened, {"type": "text", "raw": "**"})
    return tuple(out)


def _strong_tokens(tokens: Sequence[Token], found: list[Token] | None = None) -> list[Token]:
    """Bold tokens of a line, nested ones included (not inside links)."""
    if found is None:
        found = []
    for token in tokens:
        kind = token["type"]
        if kind == "strong":
            found.append(token)
        elif kind != "link" and "children" in token:
            _strong_tokens(token["children"], found)
    return found


def _has_key_term(tokens: Sequence[Token]) -> bool:
    """Whether a line carries a key term: bold, a highlight, or an author's cloze."""
    for token in tokens:
        kind = token["type"]
        if kind == "strong" or kind == "mark" or (kind == "text" and "{{c" in token["raw"]):
            return True
    return False


def _first_person(text: str) -> re.Match[str] | None:
    """The first-person phrase of a text (at its start if there is one there), or None."""
    found = _FIRST_PERSON_START.match(text)
    if found is None and ("I " in text or "i " in text or "\u0130 " in text or "\u0131 " in text):
        found = _FIRST_PERSON_ANY.search(text)  # (`I` ignoring case also matches `İ` and `ı`)
    return found


def noise_reason(text: str, tokens: Sequence[Token]) -> str | None:
    """Why a line is not worth a card (first-person, link-only, ...), or None."""
    # Line breaks and blank text are not meaningful; they hold no key term either, so
    # `_has_key_term(tokens)` below is that of the meaningful tokens.
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
    if not meaningful or not _ANY_WORD.search(text):
        return "empty"
    if links:
        outside = " ".join(t["raw"] for t in tokens if t["type"] == "text" and t["raw"].strip())
        if len(_WORD.findall(outside)) <= 2 and not _has_key_term(tokens):
            return "link-only"
    if "://" in text and _URL_ONLY.match(text):
        return "bare-url"
    if _META.match(text):
        return "meta"
    if _TAGS_ONLY.match(text):
        return "tags"
    first_person = _first_person(text)
    if first_person and (first_person.start() == 0 or not _has_key_term(tokens)):
        return "first-person"
    if _POINTER_OPENER.match(text) and len(text) < 160 and (links or _POINTER_NOUN.search(text)):
        if not _has_key_term(tokens) or links:
            return "pointer"
    return None


def _earliest_separator(raw: str) -> tuple[int, int] | None:
    """Position and width of the first definition separator in a text (`: ` preferred)."""
    colon = raw.find(":")
    while colon >= 0 and (raw[colon + 1 : colon + 2] not in (" ", "\t", "") or raw[colon - 1 : colon] == ":"):
        colon = raw.find(":", colon + 1)
    if colon >= 0 and _is_term(raw[:colon].strip()):
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
    if ("->" in text or "=>" in text or "→" in text) and _FLOW.search(text):
        return None
    # `**Term**: def`, `**Term** - def`, `**Term** is def`, `` `term`: def ``, `**Term:** def`
    if first["type"] in ("strong", "codespan", "emphasis") and len(tokens) > 1:
        term = inline_text([first]).strip()
        if first["type"] == "strong" and term.endswith(":") and _is_term(term[:-1].strip()):
            return [first], _lstrip(tokens[1:])
        rest = tokens[1]
        if rest["type"] == "text" and _is_term(term):
            raw = rest["raw"]
            stripped = raw.lstrip()
            for sep in _BARE_SEPARATORS:
                if stripped.startswith(sep) and (sep not in ("-", ":") or stripped[len(sep) : len(sep) + 1] in (" ", "")):
                    if sep == "-" and not raw.startswith(" "):
                        continue
                    body = stripped[len(sep) :]
                    if body.strip() or len(tokens) > 2:
                        return [first], _lstrip(_rest_tokens(body, tokens[2:]))
            copula = _COPULA.match(raw)
            if copula and first["type"] == "strong":
                return [first], _lstrip(_rest_tokens(raw[copula.end() :], tokens[2:]))
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
            if _is_term(term) and inline_text(right).strip() and not (dash and len(term.split()) > MAX_DASH_TERM_WORDS):
                return left, right
            return None
        length += len(token["raw"])
        if length > MAX_TERM_CHARS:
            return None
    return None


def _lstrip(tokens: Sequence[Token]) -> list[Token]:
    """Drop leading blank text from tokens."""
    out = list(tokens)
    while out and out[0]["type"] == "text" and not out[0]["raw"].strip():
        out.pop(0)
    if out and out[0]["type"] == "text":
        out[0] = {"type": "text", "raw": out[0]["raw"].lstrip()}
    return out


def _rest_tokens(body: str, tail: Sequence[Token]) -> list[Token]:
    """A definition body: the text left after a separator, then the tokens after it."""
    head = [{"type": "text", "raw": body.lstrip()}] if body.strip() else []
    return [*head, *tail]


def _is_term(term: str) -> bool:
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
        and lowered[-1] not in _DANGLING
        and _CLAUSE_WORDS.isdisjoint(lowered[1:])
        and _SECOND_PERSON.isdisjoint(lowered)
        and lowered[0].strip("\"'(") not in _PRONOUNS
        and not ("http" in term and _URL_IN_TERM.search(term))
        and not _DIGITS.fullmatch(term)
        and not (len(words) > 1 and _SENTENCE_OPENER.match(term))
        and not (_FIRST_PERSON_START.match(term) or _FIRST_PERSON_ANY.match(term))
    )


def _is_filler(text: str) -> bool:
    """Whether a bold span is only function words (nothing worth hiding)."""
    if text.isascii():  # lower-casing ASCII moves no word boundary
        return _FILLER.issuperset(_WORD.findall(text.lower()))
    for word in _WORD.findall(text):
        if word.lower() not in _FILLER:
            return False
    return True


def _ends_with_abbreviation(text: str) -> bool:
    """Whether a text ends with an abbreviation such as `e.g.` or `etc.` (not a sentence end)."""
    # A match is at most 8 characters long: search only the end (`\b` still sees the character before).
    return _ABBREVIATIONS.search(text, max(0, len(text) - 10)) is not None


def _sentence_bounds(text: str) -> list[tuple[int, int]]:
    """Start and end of each sentence of a plain text."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if _ends_with_abbreviation(text[start : match.start(1)]):
            continue
        bounds.append((start, match.start(1)))
        start = match.end()
    bounds.append((start, len(text)))
    return bounds


def deletion_groups(tokens: Sequence[Token]) -> dict[int, int]:
    """Number the bold and highlighted spans of a line that make good deletions (id(token) -> number).

    Spans joined only by "and"/"or"/punctuation share a number; filler spans, spans hiding more
    than 60% of the line, and long spans that leave too little of their sentence are left out."""
    texts: list[str] = []  # the plain text of each token
    groups: list[list[int]] = []
    previous = -10
    for index, token in enumerate(tokens):
        kind = token["type"]
        if kind == "text":
            texts.append(token["raw"])
            continue
        if kind != "strong" and kind != "mark":
            texts.append(inline_text((token,)))
            continue
        children = token["children"]
        text = _span_text(children)
        texts.append(text)
        if _is_filler(text) or _CLAUSE_SPAN.match(text) or any(len(p.split()) > 3 for p in text.split(", ")[1:]):
            continue  # filler, or a piece of a clause ("when creating"), not a term
        if (not children or children[0]["type"] == "link") and all(child["type"] == "link" for child in children):
            continue  # a link in bold is a pointer, not a fact
        if not groups or "".join(texts[previous + 1 : index]).strip().lower() not in _JOINERS:
            groups.append([index])
        else:
            groups[-1].append(index)
        previous = index
    if not groups:
        return {}
    plain = "".join(texts)
    visible = len(plain.strip()) or 1
    sentences: list[tuple[int, int]] = []
    numbers: dict[int, int] = {}
    number_count = 0
    for group in groups:
        size = words = 0
        for i in group:
            size += len(texts[i])
            words += len(texts[i].split())
        if size > MAX_DELETION_SHARE * visible or words > MAX_DELETION_WORDS:
            continue
        if words > MAX_SENTENCE_DELETION_WORDS:
            sentences = sentences or _sentence_bounds(plain)
            start = sum(len(text) for text in texts[: group[0]])
            sentence = next((b for b in sentences if b[0] <= start < b[1]), (0, len(plain)))
            if len(plain[sentence[0] : sentence[1]].split()) - words < MIN_SENTENCE_CUE_WORDS:
                continue
        if number_count == MAX_DELETIONS_PER_NOTE:
            break  # a line with dozens of bold spans is a wall of emphasis, not dozens of facts
        number_count += 1
        for i in group:
            numbers[id(tokens[i])] = number_count
    return numbers


def _drop_shown(tokens: Sequence[Token], numbers: dict[int, int], shown: Sequence[str]) -> dict[int, int]:
    """Deletions whose text is not also shown on the card's front (its headings); renumbered."""
    if not numbers:
        return numbers
    texts: dict[int, list[str]] = {}
    for token in tokens:
        number = numbers.get(id(token))
        if number is not None:
            texts.setdefault(number, []).append(inline_text((token,)))
    hidden = {n for n, parts in texts.items() if not shown_elsewhere(" ".join(parts), shown)}
    order = {n: i for i, n in enumerate(sorted(hidden), start=1)}
    return {key: order[n] for key, n in numbers.items() if n in order}


def _span_text(children: Sequence[Token]) -> str:
    """`inline_text(children)`, without the call for the usual bold span: one text token."""
    if len(children) == 1:
        child = children[0]
        if child["type"] == "text":
            return child["raw"]  # type: ignore[no-any-return]
    return inline_text(children)


def _unbold(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """Drop the outer bold of spans (a front that is all bold reads as shouting)."""
    out: list[Token] = []
    for token in tokens:
        if token["type"] == "strong":
            out.extend(token["children"])
        else:
            out.append(token)
    return tuple(out)


def _escape(text: str) -> str:
    """Escape text for HTML."""
    return html.escape(text, quote=False)


def _strip_colon(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """Drop a trailing ':' (and spaces) from a lead-in, inside a last bold span too."""
    out = list(tokens)
    while out:
        last = out[-1]
        if last["type"] == "text":
            raw = last["raw"].rstrip().rstrip(":").rstrip()
            if raw:
                out[-1] = {"type": "text", "raw": raw}
                break
            out.pop()
        elif last["type"] == "strong" and inline_text(last["children"]).rstrip().endswith(":"):
            out[-1] = {"type": "strong", "children": _strip_colon(last["children"])}
            break
        else:
            break
    return tuple(out)


def _strip_note_prefix(line: _Line) -> _Line:
    """Drop a leading `Note:` / `Tip:` / `Nota:` from a line."""
    tokens = line.tokens
    if not tokens:
        return line
    first = tokens[0]
    if first["type"] == "text":
        match = _NOTE_PREFIX.match(first["raw"])
        if match:
            rest = first["raw"][match.end() :]
            return _Line((*([{"type": "text", "raw": rest}] if rest else []), *tokens[1:]), line.line)
    elif first["type"] == "strong" and _NOTE_PREFIX.fullmatch(inline_text(first["children"]) + " "):
        return _Line(tuple(_lstrip(tokens[1:])), line.line)
    return line


def _visible_words(html_text: str) -> int:
    """Number of words in the visible text of some HTML."""
    return len(html.unescape(_TAG.sub(" ", html_text)).split())


def _visible_len(html_text: str) -> int:
    """Length of the visible text of some HTML (tags dropped, spaces collapsed)."""
    return len(" ".join(html.unescape(_TAG.sub(" ", html_text)).split()))


def _fits_answer(html_text: str) -> bool:
    """Whether the visible text of some HTML is at most MAX_ANSWER_CHARS long."""
    # The visible text is never longer than the HTML: measure it only for long HTML.
    return len(html_text) <= MAX_ANSWER_CHARS or _visible_len(html_text) <= MAX_ANSWER_CHARS


def _lines(children: Sequence[Token], line: int) -> Iterator[_Line]:
    """Split a paragraph's inline tokens into statements: at line breaks that end a sentence or
    start a `Q:`/`A:`/`Note:` line, then at sentence ends."""
    current: list[Token] = []
    current_line = line
    offset = 0
    children = repair_bold(children)
    for index, token in enumerate(children):
        if token["type"] in ("softbreak", "linebreak"):
            offset += 1
            before = inline_text(current).rstrip()
            after = children[index + 1] if index + 1 < len(children) else None
            starts_label = after is not None and after["type"] == "text" and bool(
                _QUESTION.match(after["raw"]) or _ANSWER.match(after["raw"]) or _NOTE_LABEL.match(after["raw"])
            )
            if before.endswith((".", "!", "?", ":")) or token["type"] == "linebreak" or not before or starts_label:
                if current:
                    yield from _sentences(current, current_line)
                current = []
                current_line = line + offset
            else:
                current.append({"type": "text", "raw": " "})
            continue
        current.append(token)
    if current:
        yield from _sentences(current, current_line)


def _sentences(tokens: Sequence[Token], line: int) -> Iterator[_Line]:
    """Split at sentence ends found in top-level text tokens (also before a span that opens a sentence)."""
    current: list[Token] = []
    for index, token in enumerate(tokens):
        if token["type"] != "text":
            current.append(token)
            continue
        raw = token["raw"]
        start = 0
        for match in _SENTENCE_END.finditer(raw):
            piece = raw[start : match.start(1)]
            if _ends_with_abbreviation(piece) or (not piece.strip() and not current):
                continue
            current.append({"type": "text", "raw": piece})
            yield _Line(tuple(current), line)
            current = []
            start = match.end()
        tail = raw[start:]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        ends = _SENTENCE_TAIL.search(tail)
        if ends and following is not None and following["type"] in ("strong", "codespan", "emphasis", "link", "mark"):
            first = inline_text([following])[:1]
            # Notes often start a sentence in lower case right with a bold span: `... hours. **this** is`.
            starts = first.isupper() or first.isdigit() or following["type"] in ("strong", "mark")
            if starts and not _ends_with_abbreviation(tail[: ends.start() + 1]):
                if tail[: ends.start() + 1].strip() or current:
                    current.append({"type": "text", "raw": tail[: ends.start() + 1]})
                    yield _Line(tuple(current), line)
                    current = []
                continue
        if tail:
            current.append({"type": "text", "raw": tail})
    # An image-only line has no text but is still a line: it attaches to the fact before it.
    if current and (inline_text(current).strip() or any(t["type"] in ("image", "embed") for t in current)):
        yield _Line(tuple(current), line)


def _trim(tokens: Sequence[Token], line: int) -> tuple[str, str]:
    """HTML of an answer and of its overflow: the first sentence stays (its first clause, when the
    sentence alone is too long), and the next ones while the answer keeps within MAX_ANSWER_WORDS;
    the rest goes to the card's extra."""
    full = inline_html(tokens)
    if _visible_words(full) <= MAX_ANSWER_WORDS and _fits_answer(full):
        return full, ""
    pieces = [s.tokens for s in _sentences(tokens, line)]
    if len(inline_text(pieces[0]).split()) > MAX_ANSWER_WORDS:
        pieces[:1] = clauses(pieces[0])
    kept: list[str] = []
    rest: list[str] = []
    size = 0
    for piece in pieces:
        rendered = inline_html(piece)
        size += _visible_words(rendered)
        (kept if not kept or (size <= MAX_ANSWER_WORDS and not rest) else rest).append(rendered)
    return " ".join(kept), (f"<p>… {' '.join(rest)}</p>" if rest else "")


def _item_head(item: Token) -> _Line:
    """The first paragraph of a list item (its own text, sub-items excluded)."""
    children = item.get("children", ())
    if children and children[0]["type"] in ("block_text", "paragraph"):
        return _Line(repair_bold(children[0].get("children", ())), item.get("line", 0))
    return _Line((), item.get("line", 0))


def _split_lazy_note(head: _Line) -> tuple[_Line, _Line | None]:
    """Split off a `Note:` line that Markdown folded into the bullet above it (lazy continuation)."""
    for index, token in enumerate(head.tokens):
        if token["type"] == "softbreak" and index + 1 < len(head.tokens):
            after = head.tokens[index + 1]
            if after["type"] == "text" and _NOTE_LABEL.match(after["raw"]):
                lines = 1 + sum(1 for t in head.tokens[:index] if t["type"] == "softbreak")
                return _Line(head.tokens[:index], head.line), _Line(head.tokens[index + 1 :], head.line + lines)
    return head, None


def _introduces(head: _Line, definition: tuple[list[Token], list[Token]] | None, sub_items: Sequence[Token]) -> bool:
    """Whether a bullet leads in to its sub-items (an enumeration) rather than being a fact they detail.

    It does when it ends with ':' (and is not `Term: definition`), when it is a short line in bold
    (a term whose sub-items define it), or when it is a short plain line, not a full sentence,
    over at least two short sub-items."""
    text = head.text
    if text.endswith(":"):
        return definition is None or not inline_text(definition[1]).strip()
    if _pseudo_heading(head.tokens) is not None:
        return True
    if definition is not None or _has_key_term(head.tokens) or len(text) > 80 or text.endswith((".", "!", "?")):
        return False
    if not _CLAUSE_WORDS.isdisjoint(text.lower().split()[1:]):
        return False  # "Aurora is an engine built by AWS": a statement, its sub-items are its detail
    words = [len(inline_text(_item_head(sub).tokens).split()) for sub in sub_items]
    return len(words) >= 2 and sum(words) / len(words) <= MAX_ITEM_WORDS


def _all_sub_items(item: Token) -> Iterator[Token]:
    """Every item nested in a list item, at any depth."""
    for sub in _sub_items(item):
        yield sub
        yield from _all_sub_items(sub)


def _sub_items(item: Token) -> list[Token]:
    """The items of a list item's nested lists."""
    return [i for child in item.get("children", ())[1:] if child["type"] == "list" for i in child["children"]]


def _pseudo_heading(tokens: Sequence[Token]) -> str | None:
    """The text of a short line entirely in bold (optionally ending with ':'), or None."""
    meaningful = [t for t in tokens if not (t["type"] == "text" and t["raw"].strip() in ("", ":"))]
    if len(meaningful) != 1 or meaningful[0]["type"] != "strong":
        return None
    text = inline_text(meaningful[0]["children"]).strip().rstrip(":").strip()
    words = text.split()
    if not words or len(words) > MAX_PSEUDO_HEADING_WORDS or text.endswith((".", "!", "?")):
        return None
    return text


# The builder -----------------------------------------------------------------------------------


@dataclass
class _Builder:
    """Collects the facts of one file, section by section."""

    source: str
    facts: list[Fact] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    headings: tuple[str, ...] = ()
    section_start: int = 0
    pending: list[tuple[str, int, str]] = field(default_factory=list)  # attachments waiting for a fact
    under_pseudo: bool = False  # whether the last heading is a bold line, not a real heading
    pseudo: tuple[int, str, int] | None = None  # that bold line: its line, text, and facts before it
    # Memos (each keeps its key object alive, so an id is never reused while it is in the memo).
    heads: dict[int, tuple[Token, _Line]] = field(default_factory=dict)
    splits: dict[int, tuple[Sequence[Token], tuple[list[Token], list[Token]] | None]] = field(default_factory=dict)

    def section(self, section: Section) -> None:
        """Extract every block of one section."""
        self.headings = section.headings
        self.section_start = len(self.facts)
        self.pending = []
        self.under_pseudo = False
        blocks = section.blocks
        if _META_HEADING.match(section.headings[-1]):
            # A table of contents, reading list or licence: about the notes, not AWS.
            for block in blocks:
                self.skip(block.line, "meta-section", section.headings[-1])
            return
        index = 0
        while index < len(blocks):
            block = blocks[index]
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            consumed = BLOCK_HANDLERS.get(block.type, _skip_block)(self, block, following)
            index += 1 + consumed
        if len(blocks) == 1 and blocks[0].type == "list":
            self.heading_enumeration(blocks[0])
        self.close_sub_heading()
        self.facts[self.section_start :] = _merge_same_terms(self.facts[self.section_start :])
        for html_text, line, what in self.pending:
            self.skip(line, f"{what}-without-fact", what)
        self.pending = []

    def sub_heading(self, text: str, line: int) -> None:
        """A bold line acting as a heading: later blocks of the section sit under it."""
        self.close_sub_heading()
        base = self.headings[:-1] if self.under_pseudo else self.headings
        self.headings = (*base, text)
        self.under_pseudo = True
        self.pseudo = (line, text, len(self.facts))

    def close_sub_heading(self) -> None:
        """Report a bold sub-heading that no fact came under (its words are on no card)."""
        if self.pseudo is not None and len(self.facts) == self.pseudo[2]:
            self.skip(self.pseudo[0], "heading-without-facts", self.pseudo[1])
        self.pseudo = None

    # -- recording ----------------------------------------------------------------------------

    def add(self, fact: Fact) -> None:
        """Record a fact, with any code or image that was waiting for one."""
        if self.pending:
            fact = replace(fact, extra=fact.extra + "".join(h for h, _, _ in self.pending))
            self.pending = []
        self.facts.append(fact)

    def head(self, item: Token) -> _Line:
        """The first paragraph of a list item (memoised: items are looked at more than once)."""
        found = self.heads.get(id(item))
        if found is None:
            found = self.heads[id(item)] = (item, _item_head(item))
        return found[1]

    def split(self, line: _Line) -> tuple[list[Token], list[Token]] | None:
        """`split_definition` of a line's tokens (memoised)."""
        tokens = line.tokens
        if not tokens:
            return None
        found = self.splits.get(id(tokens))
        if found is None:
            found = self.splits[id(tokens)] = (tokens, split_definition(tokens, line.text))
        return found[1]

    def fact(
        self, kind: str, front: str, back: str, extra: str, headings: tuple[str, ...], line: int, subject: str, pattern: str
    ) -> Fact:
        """A fact of this file."""
        return Fact(kind, front, back, extra, headings, self.source, line, subject, pattern)

    def skip(self, line: int, reason: str, text: str) -> None:
        """Record a line that made no card."""
        self.skipped.append(Skip(self.source, line, reason, text[:120]))

    def attach(self, html_text: str, line: int, what: str) -> None:
        """Put code or an image on the back of the latest fact of this section (else the next one)."""
        if len(self.facts) > self.section_start:
            last_fact = self.facts[-1]
            self.facts[-1] = replace(last_fact, extra=last_fact.extra + html_text)
        else:
            self.pending.append((html_text, line, what))

    # -- facts from lines -----------------------------------------------------------------------

    def line_fact(
        self,
        line: _Line,
        extra: str = "",
        headings: tuple[str, ...] | None = None,
        prose: bool = False,
        listed: bool = False,
    ) -> bool:
        """Make a fact of one statement; returns False when it made none (and records why).

        A plain bullet (no key term) joins the section's key points; a plain prose sentence makes
        no card at all (`prose=True`); an item already on an enumeration's card (`listed=True`)
        makes a card only for a definition or a cloze."""
        path = headings or self.headings
        line = self._drop_pointer_tail(_strip_note_prefix(line))
        tokens = line.tokens
        text = line.text
        reason = noise_reason(text, tokens)
        if reason:
            if reason == "image-only":
                self.attach(inline_html(tokens), line.line, "image")
            else:
                self.skip(line.line, reason, text)
            return False
        author_cloze = has_marks = False
        for token in tokens:
            kind = token["type"]
            if kind == "mark":
                has_marks = True
            elif kind == "text" and "{{c" in token["raw"] and _AUTHOR_OPEN.search(token["raw"]):
                author_cloze = True
        if author_cloze:
            fact = _author_cloze(line, extra, path, self.source)
            if fact is not None:
                self.add(fact)
                return True
        if has_marks:
            marks = [t for t in tokens if t["type"] == "mark"]
            numbers = {id(t): n for n, t in enumerate(marks, start=1)}
            self.add(self.fact("cloze", inline_html(tokens, deletions=numbers), "", extra, path, line.line, text, "highlight"))
            return True
        definition = self.split(line)
        if definition is not None and _restates(inline_text(definition[0]), inline_text(definition[1])):
            self.skip(line.line, "tautology", text)  # "Security: security recommendations"
            return False
        if definition is not None:
            pattern = "bold-term" if tokens[0]["type"] == "strong" else "plain-term"
            self.add(self._definition(definition[0], definition[1], line.line, extra, path, pattern))
            return True
        sentences = list(_sentences(tokens, line.line))
        if len(sentences) > 1:
            # One card per sentence: a cloze never shows its sibling sentences. Sub-items and code
            # go with the first card made.
            made = False
            for sentence in sentences:
                made = self.line_fact(sentence, "" if made else extra, path, prose, listed) or made
            return made
        spans = _strong_tokens(tokens)
        if not spans and any(t["type"] == "emphasis" for t in tokens):
            # Notes with no bold at all mark their key terms in italics: read those as bold.
            tokens = tuple({"type": "strong", "children": t["children"]} if t["type"] == "emphasis" else t for t in tokens)
            line = _Line(tokens, line.line)
            spans = _strong_tokens(tokens)
        if spans:
            bold_chars = sum(len(_span_text(s["children"])) for s in spans)
            numbers = deletion_groups(tokens) if bold_chars < WHOLE_BOLD_SHARE * len(text) else {}
            kept = _drop_shown(tokens, numbers, _shown(path))
            if not kept and numbers and tokens[0]["type"] == "strong" and len(tokens) > 1:
                # `**Versioning** keeps every version` under "Versioning": the subject is on the
                # front already, so the card asks what it does.
                body = _lstrip(tokens[1:])
                if inline_text(body).strip():
                    self.add(self._definition([tokens[0]], body, line.line, extra, path, "subject-first"))
                    return True
            numbers = kept
            if not numbers:
                return self._whole_bold(line, extra, path, listed)
            self.add(self.fact("cloze", inline_html(tokens, deletions=numbers), "", extra, path, line.line, text, "bold-cloze"))
            return True
        if listed:
            return False  # already on its list's card, and it has no key term of its own
        return self._plain(line, extra, path)

    def _plain(self, line: _Line, extra: str, path: tuple[str, ...]) -> bool:
        """A statement with no markup: a cloze on the key term of each of its clauses (a long
        sentence is cut at its clauses), or no card, with the reason."""
        pieces = clauses(line.tokens)
        made = False
        for piece in pieces:
            text = inline_text(piece).strip()
            found = plain_deletions(piece, text, _shown(path))
            if isinstance(found, str):
                self.skip(line.line, found, text)  # each clause that gave nothing says why
                continue
            tokens, numbers = found
            self.add(self.fact("cloze", inline_html(tokens, deletions=numbers), "", extra, path, line.line, text, "key-term"))
            made = True
        return made

    def _drop_pointer_tail(self, line: _Line) -> _Line:
        """Drop a last sentence that only points elsewhere (`Read more here.`, a bare link)."""
        for token in line.tokens:
            if token["type"] == "link":
                break
        else:
            return line
        sentences = list(_sentences(line.tokens, line.line))
        if len(sentences) < 2:
            return line
        last = sentences[-1]
        reason = noise_reason(inline_text(_unbold(last.tokens)).strip(), _unbold(last.tokens))
        if reason not in ("pointer", "link-only"):
            return line
        self.skip(line.line, reason, last.text)
        return _Line(tuple(t for s in sentences[:-1] for t in (*s.tokens, {"type": "text", "raw": " "})), line.line)

    def _definition(
        self, term: Sequence[Token], body: Sequence[Token], line: int, extra: str, path: tuple[str, ...], pattern: str
    ) -> Fact:
        """A definition fact; a long definition keeps its first sentences and moves the rest to extra.
        A generic label ("Use case", "Pros") is asked with the section it belongs to."""
        back, overflow = _trim(body, line)
        front = inline_html(_strip_colon(_unbold(term))).strip()
        label = inline_text(term).strip(" :").casefold()
        if label in GENERIC_LABELS and len(path) > 1:
            topic = next((h for h in reversed(path[1:]) if h.casefold() not in _GENERIC_HEADINGS), path[-1])
            front = f"{_escape(topic)}: {front[:1].lower()}{front[1:]}"
        return Fact(
            kind="definition",
            front=front,
            back=back,
            extra=overflow + extra,
            headings=path,
            source=self.source,
            line=line,
            subject=inline_text(term).strip(" :"),
            pattern=pattern,
        )

    def _whole_bold(self, line: _Line, extra: str, path: tuple[str, ...], listed: bool = False) -> bool:
        """A line in bold: a definition when it reads like one, else a plain statement."""
        plain = line.text
        parts = _WHOLE_BOLD_SPLIT.split(plain, maxsplit=1)
        if len(parts) == 2 and _is_term(parts[0].strip()) and parts[1].strip():
            term, body = _ARTICLE.sub("", parts[0].strip()), parts[1].strip()
            self.add(self.fact("definition", _escape(term), _escape(body), extra, path, line.line, term, "whole-bold-split"))
            return True
        if listed:
            return False
        return self._plain(_Line(_unbold(line.tokens), line.line), extra, path)

    # -- enumerations ---------------------------------------------------------------------------

    def enumeration(self, lead: _Line, items: Sequence[Token], headings: tuple[str, ...], ordered: bool = False) -> None:
        """A lead-in and its items: a list card when they are a small closed set, and the items' own cards."""
        lead_tokens = _strip_colon(_unbold(_strip_note_prefix(lead).tokens))
        lead_text = inline_text(lead_tokens).strip()
        heads = [self.head(item) for item in items]
        definitions = [self.split(head) for head in heads]
        all_terms = all(d is not None for d in definitions)
        # The back lists each item's term (when all are definitions) or its first sentence; the rest
        # of an item (more sentences, sub-items, code) goes to the extra field.
        labels: list[str] = []
        details: list[str] = []
        for item, head, d in zip(items, heads, definitions):
            nested = "".join(blocks_html([c]) for c in item["children"][1:] if c["type"] != "blank_line")
            if all_terms and d is not None:
                labels.append(inline_html(_strip_colon(_unbold(d[0]))))
                details.append(nested)
                continue
            sentences = list(_sentences(head.tokens, head.line)) if head.tokens else []
            labels.append(inline_html(sentences[0].tokens) if sentences else "")
            rest = " ".join(inline_html(sentence.tokens) for sentence in sentences[1:])
            details.append((f" {rest}" if rest else "") + nested)
        front = inline_html(lead_tokens).strip()
        back = "<ul>" + "".join(f"<li>{label}</li>" for label in labels) + "</ul>"
        extra_items = [(label, detail) for label, detail in zip(labels, details) if detail]
        extra = "".join(f"<li>{label}{detail}</li>" for label, detail in extra_items)
        extra = f"<ul>{extra}</ul>" if extra else ""
        sizes = [_visible_words(label) for label in labels]
        longest = max(sizes, default=0)
        # A set worth learning as a set: names, or what the lead-in calls a set ("three storage
        # classes", "the steps"), or a short procedure. Loose remarks are cards of their own.
        announced = lead.text.rstrip().endswith(":") and len(items) <= 5 and longest <= MAX_ANNOUNCED_ITEM_WORDS
        closed = announced or longest <= MAX_NAME_WORDS or (
            longest <= MAX_SET_ITEM_WORDS and (_SET_LEAD.search(lead_text) is not None or (ordered and len(items) <= 5))
        )
        small = closed and len(items) <= MAX_LIST_ITEMS and sum(sizes) <= MAX_SET_WORDS
        if all_terms and max(sizes, default=0) > MAX_LISTED_TERM_WORDS:
            small = False  # descriptions mapped to answers (`need -> service`): a card each, no list of questions
        if small and _placeholders(labels):
            small = False  # `column 1, column 2, column 3`: an example's names, not a set to learn
        if small and front:
            self.add(Fact("list", front, back, extra, headings, self.source, lead.line, lead_text, "enumeration"))
        child_path = (*headings, lead_text) if _title_like(lead_text) else headings
        made = len(self.facts)
        for item, head, definition, size in zip(items, heads, definitions, sizes):
            if definition is not None or _has_key_term(head.tokens):
                self.item(item, child_path, in_enumeration=small)
            elif not small and (size >= MIN_STATEMENT_WORDS or _sub_items(item)):
                # An item that says something, or leads in to items of its own: its own cards, in
                # the list's context.
                self.item(item, child_path)
            else:
                for sub in _sub_items(item):
                    title = head.text.rstrip(" :")
                    self.item(sub, (*child_path, title) if _title_like(title) else child_path, in_enumeration=True)
        if not small and len(self.facts) == made:
            # A long set of bare names: blanking one of them makes a card nobody can answer.
            self.skip(lead.line, "long-set", lead_text)

    def heading_enumeration(self, block: Block) -> None:
        """A section that is one list of 2 to 7 definitions: a list card of their terms, asked by the heading."""
        items = block.token["children"]
        if not 3 <= len(items) <= MAX_LIST_ITEMS or len(self.headings) < 3:
            return
        terms: list[str] = []
        for item in items:
            head = self.head(item)
            definition = self.split(head)
            if definition is None or len(inline_text(definition[0]).split()) > 4:
                return
            terms.append(inline_html(_strip_colon(_unbold(definition[0]))))
        if len(set(terms)) < len(terms):
            return
        back = "<ul>" + "".join(f"<li>{t}</li>" for t in terms) + "</ul>"
        topic = self.headings[-1]
        self.add(self.fact("list", _escape(topic), back, "", self.headings[:-1], block.line, topic, "heading-enumeration"))

    def item(self, item: Token, headings: tuple[str, ...], in_enumeration: bool = False) -> None:
        """One list item: a fact from its head, its sub-list as detail or enumeration."""
        head, lazy_note = _split_lazy_note(self.head(item))
        children = item.get("children", ())
        nested = [c for c in children[1:] if c["type"] == "list"]
        others = [c for c in children[1:] if c["type"] not in ("list", "blank_line")]
        sub_items = [i for lst in nested for i in lst["children"]]
        if not head.tokens:
            for sub in sub_items:
                self.item(sub, headings, in_enumeration)
            return
        definition = self.split(head)
        if in_enumeration and not (definition or _has_key_term(head.tokens)):
            # Already shown on its enumeration's card: only its own key sub-items make more cards.
            for sub in sub_items:
                self.item(sub, (*headings, head.text.rstrip(" :")), in_enumeration=True)
            return
        if sub_items and _introduces(head, definition, sub_items):
            sentences = list(_sentences(head.tokens, head.line))
            for sentence in sentences[:-1]:  # `X does Y. It has:` - only the last sentence leads in
                self.line_fact(sentence, headings=headings, listed=in_enumeration)
            self.enumeration(sentences[-1] if sentences else head, sub_items, headings, any(_ordered(n) for n in nested))
            self._attach_blocks(others, item.get("line", 0))
        else:
            extra = blocks_html(nested) if nested else ""
            made = self.line_fact(head, extra, headings, listed=in_enumeration)
            self._attach_blocks(others, item.get("line", 0))
            # Sub-items with a key term of their own also make facts, under the parent's term.
            parent = inline_text(_strip_colon(_unbold(definition[0]))).strip() if definition else ""
            sub_path = (*headings, parent) if parent and made else headings
            # They are on the parent's card (extra) only when the parent made one.
            for sub in sub_items:
                self._key_sub_item(sub, sub_path, listed=made)
        if lazy_note is not None:
            self.line_fact(lazy_note, headings=headings)

    def _key_sub_item(self, item: Token, headings: tuple[str, ...], listed: bool) -> None:
        """A sub-item under a fact makes a card of its own when it has a key term or a definition,
        or says something on its own (a statement); a short remark only goes on the fact's back."""
        head = self.head(item)
        if head.tokens and (_has_key_term(head.tokens) or self.split(head)):
            self.item(item, headings, in_enumeration=listed)
            return
        if len(head.text.split()) >= MIN_STATEMENT_WORDS or (_sub_items(item) and head.text.endswith(":")):
            self.item(item, headings)
            return
        for sub in _sub_items(item):
            self._key_sub_item(sub, headings, listed)

    def _attach_blocks(self, blocks: Sequence[Token], line: int) -> None:
        """Blocks inside a list item after its first paragraph: code and quotes attach, paragraphs are prose."""
        for block in blocks:
            if block["type"] in ("block_code", "block_quote", "table"):
                self.attach(blocks_html([block]), line, "code" if block["type"] == "block_code" else block["type"])
            elif block["type"] in ("paragraph", "block_text"):
                for sentence in _lines(block["children"], line):
                    self.line_fact(sentence, prose=True)


def _merge_same_terms(facts: Sequence[Fact]) -> list[Fact]:
    """Definitions of the same term in one section become one card listing every definition."""
    groups: dict[tuple[tuple[str, ...], str], list[int]] = {}
    for index, fact in enumerate(facts):
        if fact.kind == "definition":
            groups.setdefault((fact.headings, fact.front.casefold()), []).append(index)
    merged: list[Fact | None] = list(facts)
    for indexes in groups.values():
        if len(indexes) < 2:
            continue
        parts = list({facts[i].back.casefold(): facts[i] for i in reversed(indexes)}.values())[::-1]
        back = parts[0].back if len(parts) == 1 else "<ul>" + "".join(f"<li>{p.back}</li>" for p in parts) + "</ul>"
        extra = "".join(dict.fromkeys(facts[i].extra for i in indexes))
        merged[indexes[0]] = replace(facts[indexes[0]], back=back, extra=extra)
        for i in indexes[1:]:
            merged[i] = None
    return [f for f in merged if f is not None]


def _author_cloze(line: _Line, extra: str, path: tuple[str, ...], source: str) -> Fact | None:
    """Keep an author's `{{cN::text::hint}}` deletions; `::` and `}}` in code spans stay literal."""
    out: list[str] = []
    state = "text"  # text | deletion | hint
    found = False
    for token in line.tokens:
        if token["type"] != "text":
            out.append(inline_html([token]))
            continue
        raw = token["raw"]
        position = 0
        pieces: list[str] = []
        while position < len(raw):
            if state == "text":
                match = _AUTHOR_OPEN.search(raw, position)
                if match is None:
                    pieces.append(_escape(raw[position:]))
                    break
                pieces.append(_escape(raw[position : match.start()]) + cloze_open(int(match.group(1))))
                position, state, found = match.end(), "deletion", True
                continue
            close = raw.find("}}", position)
            hint = raw.find("::", position) if state == "deletion" else -1
            if hint >= 0 and (close < 0 or hint < close):
                pieces.append(_escape(raw[position:hint]) + CLOZE_HINT)
                position, state = hint + 2, "hint"
            elif close >= 0:
                pieces.append(_escape(raw[position:close]) + CLOZE_CLOSE)
                position, state = close + 2, "text"
            else:
                pieces.append(_escape(raw[position:]))
                break
        out.append("".join(pieces))
    if not found or state != "text":
        return None
    return Fact("cloze", "".join(out), "", extra, path, source, line.line, line.text, "author-cloze")


# Block handlers: (builder, block, following block) -> how many following blocks were consumed ----


def _handle_paragraph(builder: _Builder, block: Block, following: Block | None) -> int:
    """A paragraph: a bold sub-heading, a lead-in to the next list, Q/A pairs or sentences."""
    children = repair_bold(block.token["children"])
    # A short line in bold opening a paragraph (or alone) is a sub-heading for what follows.
    first_break = next((i for i, t in enumerate(children) if t["type"] in ("softbreak", "linebreak")), len(children))
    pseudo = _pseudo_heading(children[:first_break])
    if pseudo is not None and (first_break < len(children) or following is not None):
        ends_colon = inline_text(children[:first_break]).rstrip().endswith(":")
        if first_break == len(children) and ends_colon and following is not None and following.type == "list":
            builder.enumeration(_Line(children, block.line), following.token["children"], builder.headings, _ordered(following.token))
            return 1
        builder.sub_heading(pseudo, block.line)
        children = children[first_break + 1 :]
        if not children:
            return 0
        line = block.line + 1
    else:
        line = block.line
    lines = list(_lines(children, line))
    if not lines:
        return 0
    # A paragraph ending with ':' right before a list introduces it, and so does a short title-like
    # line ("Encrypting a volume") with no sentence end.
    if following is not None and following.type == "list" and _leads_in(lines):
        _qa_or_lines(builder, lines[:-1])
        builder.enumeration(lines[-1], following.token["children"], builder.headings, _ordered(following.token))
        return 1
    _qa_or_lines(builder, lines)
    return 0


_FRAGMENT_START = frozenset("then when if also and but so currently which that where while as or".split())
_FRAGMENT_END = frozenset("are is be by done can will used then to of for with from as in on at was were has have".split())


_PLACEHOLDER = re.compile(r"^(\w+) ?\d+$")


def _placeholders(labels: Sequence[str]) -> bool:
    """Whether list items are numbered stand-ins of one word (`item 1`, `item 2`)."""
    found = [_PLACEHOLDER.match(html.unescape(_TAG.sub("", label)).strip().lower()) for label in labels]
    return all(found) and len({m.group(1) for m in found if m}) == 1


def _title_like(text: str) -> bool:
    """Whether a lead-in reads as a title for the items under it (it goes into their context
    line), not as the first half of a sentence ("The translation can be done", "Then")."""
    words = text.lower().rstrip(" :").split()
    return (
        0 < len(words) <= MAX_PSEUDO_HEADING_WORDS
        and words[0] not in _FRAGMENT_START
        and words[-1] not in _FRAGMENT_END
        and words[-1] not in _DANGLING
    )


def _shown(path: tuple[str, ...]) -> tuple[str, ...]:
    """The headings a card's context line shows: the file's own title only when nothing else names it."""
    return path[1:] or path


def _restates(term: str, body: str) -> bool:
    """Whether a definition's body only says its term again ("Security: security recommendations")."""
    said = {w.removesuffix("s") for w in _WORD.findall(term.lower())}
    words = [w for w in _WORD.findall(body.lower()) if w not in _FILLER and len(w) > 2]
    restated = sum(w.removesuffix("s") in said for w in words)
    return 0 < len(words) <= 2 and restated >= max(1, len(words) - 1)


def _ordered(list_token: Token) -> bool:
    """Whether a list is numbered (a procedure, in order)."""
    return bool(list_token.get("attrs", {}).get("ordered"))


def _leads_in(lines: Sequence[_Line]) -> bool:
    """Whether a paragraph's last line introduces the list after it: it ends with ':', or the
    paragraph is one short title-like line ("Encrypting a volume")."""
    text = lines[-1].text
    if text.endswith(":"):
        return True
    return (
        len(lines) == 1
        and 0 < len(text.split()) <= MAX_PSEUDO_HEADING_WORDS
        and _ANY_WORD.search(text) is not None
        and noise_reason(text, lines[-1].tokens) is None
        and not text.endswith((".", "!", "?", ";", ","))
        and ":" not in text
        and not _ANSWER.match(text)
    )


def _qa_or_lines(builder: _Builder, lines: Sequence[_Line], prose: bool = True) -> None:
    """`Q:`/`A:` pairs become qa cards; other lines follow the line rules."""
    # Sentence splitting may cut a `Q:` or `A:` line in pieces: glue back those of the same source line.
    lines = _join_source_lines(lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        nxt = lines[index + 1] if index + 1 < len(lines) else None
        if _QUESTION.match(line.text) and nxt is not None and _ANSWER.match(nxt.text):
            question = _QUESTION.sub("", inline_html(line.tokens), count=1)
            answer, overflow = _trim(nxt.tokens, nxt.line)
            answer = _ANSWER.sub("", answer, count=1)
            subject = _QUESTION.sub("", line.text, count=1)
            builder.add(Fact("qa", question, answer, overflow, builder.headings, builder.source, line.line, subject, "qa"))
            index += 2
            continue
        builder.line_fact(line, prose=prose)
        index += 1


def _join_source_lines(lines: Sequence[_Line]) -> list[_Line]:
    """Rejoin the sentences of a `Q:`/`A:` source line (other lines stay split into sentences)."""
    out: list[_Line] = []
    for line in lines:
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.line == line.line
            and (_QUESTION.match(previous.text) or _ANSWER.match(previous.text))
            and not (_QUESTION.match(line.text) or _ANSWER.match(line.text))
        ):
            out[-1] = _Line((*previous.tokens, {"type": "text", "raw": " "}, *line.tokens), previous.line)
            continue
        out.append(line)
    return out


def _handle_list(builder: _Builder, block: Block, following: Block | None) -> int:
    """A list: a list of links (a table of contents, an index) gives nothing; `Q:`/`A:` item pairs
    a qa card each; any other item, its own facts."""
    items = block.token["children"]
    heads = [builder.head(item) for item in items]
    if _link_index(heads, items):
        builder.skip(block.line, "link-index", heads[0].text)
        return 0
    index = 0
    while index < len(items):
        head = heads[index]
        nxt = heads[index + 1] if index + 1 < len(items) else None
        if _QUESTION.match(head.text) and nxt is not None and _ANSWER.match(nxt.text):
            _qa_or_lines(builder, [head, nxt], prose=False)
            index += 2
            continue
        builder.item(items[index], builder.headings)
        index += 1
    return 0


def _link_index(heads: Sequence[_Line], items: Sequence[Token] = ()) -> bool:
    """Whether most items of a list, nested ones included, are only a link (a table of contents,
    an index of files)."""
    heads = [*heads, *(_item_head(sub) for item in items for sub in _all_sub_items(item))]
    links = 0
    for head in heads:
        words = [t for t in head.tokens if not (t["type"] == "text" and not t["raw"].strip(" -–:|,.()"))]
        if words and all(t["type"] == "link" for t in words):
            links += 1
    return links >= 2 and links * 2 > len(heads)


# A cell that states nothing to recall ("Varies", "n/a", "-"), or nothing at all.
_VAGUE_CELL = re.compile(r"^\W*(?:varies|depends|it depends|n/?a|none|tbd|unknown|various|see .*)?\W*$", re.I)
_STATUS_HEADER = re.compile(r"^\W*(?:status|progress|done|estado|progreso)\W*$", re.I)
_EXAMPLE = re.compile(r"\b(?:examples?|e\.g\.|sample|ejemplos?)\b", re.I)
_REPOSITORY = re.compile(r"^[\w.-]+/[\w./-]+$")


def _link_keys(rows: Sequence[Sequence[Sequence[Token]]]) -> bool:
    """Whether most rows of a table are keyed by a link or a repository/file path."""
    linked = 0
    for cells in rows:
        key = [t for t in cells[0] if not (t["type"] == "text" and not t["raw"].strip())] if cells else []
        if key and (all(t["type"] == "link" for t in key) or _REPOSITORY.match(inline_text(key).strip())):
            linked += 1
    return linked * 2 > len(rows) > 0


def _handle_table(builder: _Builder, block: Block, following: Block | None) -> int:
    """A table: keyed by its first column. With one value column, a card per row (the column's
    header asks for it); a comparison (two value columns or more), a card per cell, asked by its
    row and column, so that no card is a row of run-together cells."""
    head = next((s for s in block.token["children"] if s["type"] == "table_head"), None)
    body = next((s for s in block.token["children"] if s["type"] == "table_body"), None)
    if head is None or body is None:
        return 0
    headers = [inline_text(cell["children"]).strip() for cell in head["children"]]
    rows = [[repair_bold(cell["children"]) for cell in row["children"]] for row in body["children"]]
    for previous, cells in zip(rows, rows[1:]):
        if cells and previous and not inline_text(cells[0]).strip():
            cells[0] = previous[0]  # an empty first cell continues the row above
    keys = [inline_text(cells[0]).strip() if cells else "" for cells in rows]
    if any(_STATUS_HEADER.search(h) for h in headers[1:]):
        builder.skip(block.line, "meta-table", " | ".join(headers))  # the author's progress, not AWS
        return 0
    if _EXAMPLE.search(builder.headings[-1]) or _link_keys(rows):
        # An example's made-up values, or an index of files and repositories: nothing to learn.
        builder.skip(block.line, "example-table" if _EXAMPLE.search(builder.headings[-1]) else "link-index", " | ".join(headers))
        return 0
    if keys and sum(len(k.split()) for k in keys) / len(keys) > MAX_NAME_WORDS:
        # Not keyed by names: each column is a list of statements under its header.
        for row_number, cells in enumerate(rows):
            for index, cell in enumerate(cells):
                label = headers[index] if index < len(headers) else ""
                if inline_text(cell).strip():
                    path = (*builder.headings, label) if label else builder.headings
                    builder.line_fact(_Line(tuple(cell), block.line + 2 + row_number), headings=path)
        return 0
    comparison = len(headers) > 2
    for row_number, cells in enumerate(rows):
        if not cells:
            continue
        key_tokens = _unbold(cells[0])
        key = inline_text(key_tokens).strip()
        line = block.line + 2 + row_number
        values = [(headers[i] if i < len(headers) else "", cell) for i, cell in enumerate(cells[1:], start=1)]
        values = [(label, cell) for label, cell in values if not _VAGUE_CELL.match(inline_text(cell))]
        if not key or not values:
            builder.skip(line, "table-row-without-values", key)
            continue
        key_html = inline_html(key_tokens)
        if not comparison:
            label, cell = values[0]
            front = key_html + (f' <span class="ask">({_escape(label)})</span>' if label else "")
            back, overflow = _trim(cell, line)
            builder.add(builder.fact("row", front, back, overflow, builder.headings, line, f"{headers[0] if headers else ''}: {key}", "table-row"))
            continue
        for label, cell in values:
            front = key_html + (f' <span class="ask">› {_escape(label)}</span>' if label else "")
            back, overflow = _trim(cell, line)
            subject = f"{key} / {label}"
            builder.add(builder.fact("cell", front, back, overflow, builder.headings, line, subject, "table-cell"))
    return 0


def _handle_code(builder: _Builder, block: Block, following: Block | None) -> int:
    """A code block: on the back of the fact it belongs to."""
    builder.attach(blocks_html([block.token]), block.line, "code")
    return 0


def _handle_quote(builder: _Builder, block: Block, following: Block | None) -> int:
    """A block quote: its blocks, as if they were not quoted (an Obsidian callout's `[!note]` line
    is only its frame)."""
    children = [c for c in block.token.get("children", ()) if c["type"] != "blank_line"]
    if children and children[0]["type"] == "paragraph":
        children[0] = _without_callout(children[0], block.line)
    index = 0
    while index < len(children):
        child = children[index]
        nested = Block(child["type"], child, child.get("line", block.line))
        nxt = children[index + 1] if index + 1 < len(children) else None
        following_block = Block(nxt["type"], nxt, block.line) if nxt else None
        index += 1 + BLOCK_HANDLERS.get(child["type"], _skip_block)(builder, nested, following_block)
    return 0


_CALLOUT = re.compile(r"^\s*\[![\w-]+\][+-]?")


def _without_callout(paragraph: Token, line: int) -> Token:
    """A quote's first paragraph without the `[!note] Title` line that makes it a callout."""
    tokens = paragraph.get("children", ())
    if not tokens or tokens[0]["type"] != "text" or not _CALLOUT.match(tokens[0]["raw"]):
        return paragraph
    cut = next((i for i, t in enumerate(tokens) if t["type"] in ("softbreak", "linebreak")), len(tokens))
    return {**paragraph, "children": list(tokens[cut + 1 :]), "line": paragraph.get("line", line) + 1}


def _handle_html(builder: _Builder, block: Block, following: Block | None) -> int:
    """Raw HTML: an image attaches to a fact, anything else is skipped."""
    raw = str(block.token.get("raw", ""))
    if "<img" in raw.lower():
        builder.attach(raw, block.line, "image")
    elif _TAG.sub("", raw).strip():
        builder.skip(block.line, "raw-html-block", raw)
    return 0


def _skip_block(builder: _Builder, block: Block, following: Block | None) -> int:
    """A block that makes no card (thematic break, unknown)."""
    return 0


BLOCK_HANDLERS: dict[str, Callable[[_Builder, Block, Block | None], int]] = {
    "paragraph": _handle_paragraph,
    "block_text": _handle_paragraph,
    "list": _handle_list,
    "table": _handle_table,
    "block_code": _handle_code,
    "block_quote": _handle_quote,
    "block_html": _handle_html,
    "thematic_break": _skip_block,
}
