"""Plain statements: a sentence or bullet with no markup becomes a cloze on its key term, or no card.

A plain statement carries no mark of what matters in it, so the key term is found by
`keyterms.key_terms` (numbers with units, defaults, other AWS services, acronyms, code, quoted
terms). The statement makes no card, with the reason recorded, when it is:
- `trivial`: advice with no fact in it ("make sure permissions are right"), see `TRIVIAL`;
- `dangling`: it points at text that will not be on the card ("the above", "as shown below");
- `question`: it asks rather than states ("What if traffic doubles?");
- `flow`: a chain of steps (`Code => Build => Test => Deploy`): one blanked step is one item of a sequence;
- `code-fragment`: a line of JSON or a template, braces and keys, not a sentence;
- `long-sentence`: over `MAX_CLOZE_WORDS` words: a learner cannot hold it as one fact;
- `fragment`, `lead-in-without-list`: too short to ask anything, or an introduction to what is not here;
- `few-cues`: the words beside the blank do not say what is asked ("you can configure [...]");
- `no-key-term`: nothing in it worth blanking (`blanks.worth_blanking` says which terms are).
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from ..parse import inline_text
from ..services import load_catalog
from .blanks import with_gloss, worth_blanking
from .keyterms import KeyTerm, key_terms

Token = Mapping[str, Any]

MAX_CLOZE_WORDS = 25  # blind readers kept 35% of clozes over 25 words, bold or not (rounds 18-46)
MIN_STATEMENT_WORDS = 4
MAX_SAME_KIND_DELETIONS = 3  # "every 5 minutes ... every 1 minute": both numbers, each its own card
DELETION = "cloze_span"  # a token type of this module's own: the span a cloze deletion hides

# Advice and filler that hold no fact a learner can recall. Kept small on purpose: each pattern
# removes only lines that read as instructions to oneself or as vague praise.
TRIVIAL = re.compile(
    r"^(?:(?:always |just )?(?:make sure|ensure|remember|don'?t forget|be careful|keep in mind|note that|"
    r"check|review|understand|know|learn|study|practice|read)\b(?! replicas?\b)(?!.*\b\d)|"
    r"(?:it|this|that)(?: is|'s) (?:easy|simple|important|useful|great|nice|cool|fast|cheap|powerful|ready in minutes)\b|"
    r"(?:go to|click|navigate to)\b|"  # a step of a console walkthrough
    r"(?:very|really|super) (?:easy|simple|important|useful)\b|"
    r"(?:asegúrate|recuerda|revisa|importante)\b)",
    re.I,
)
# Words that point at text outside the card, or a sentence that opens on what the one before said.
DANGLING = re.compile(
    r"\b(?:see|shown|described|mentioned|listed|explained|noted|given|as) (?:above|below)\b|\bthe above\b|"
    r"\b(?:above|below)\s*[:.]?\s*$|\b(?:(?:mentioned |seen )previously|previously (?:mentioned|seen)|"
    r"previous (?:section|chapter|page|example|slide|lecture|lesson|video|point)s?|the following|aforementioned|the former|the latter|this diagram|"
    r"this image|this picture|see figure|as shown|anterior|siguiente)\b|"
    r"\b(?:this|that|these|those) (?:example|case|scenario|row|device|command|setup|screenshot)s?\b|"
    r"\bthe (?:example|screenshot)s?\b|\beach row\b|^all done\b|^(?:\S+ ){0,2}(?:this|these|those) [a-z]+|\bthan (?:this|that)\b|"
    r"\bthat (?:option|one|case|way)\b|^that means\b|\bthe default behaviou?r\b|^(?:\S+ ){0,2}(?:this|that)\s*[,:]|"
    r"^(?:on the other hand|in reality|in that case|otherwise|instead|similarly|likewise|again)\b|"
    r"\b(?:mistake|confuse|compare|unlike) (?:this|that|these|those|it)\b|\bhere\W*$|"
    r"^(?:again,? )?(?:this|these|that|those|esto|estos|esta|estas|eso)\b(?! (?:is|are) called)|"
    r"^(?:(?:when|once|if|then|so)\s+(?:it|they)(?! comes?\b)|they)\b|"  # "When they are selected ...": who?
    r"\b(?:beyond|within|after|before|during|for|in|past) this (?:period|time|window|limit|range|point|value)\b|"
    r"\b(?:should|will|can|must) then\b|"  # a step whose step before is not on the card
    r"^(?:another|one more|yet another) (?:solution|alternative|option|way|approach)\b|\bsuch (?:functionality|a setup|a case)\b|"
    r"^(?:for example|for instance|e\.g\.|imagine)\b|^==?\s|"  # an alternative, an example, a result of what is not on the card
    r"^(?:then|later|next|finally|afterwards|after that|(?:we|you) then)\b|(?<!until )(?<!since )\bthen\W*$|\band so on\b|"  # a step of a sequence, or of a worked series, not on the card
    r"^(?:it|this|that) means\b|^both (?:are|is|have|has|support|supported|offer|use|of them|services|offerings|options)\b|"  # what the line before said
    r"^(?:let'?s|let us) (?:say|assume|imagine|suppose)\b|^(?:say|suppose|assume) (?:that )?(?:we|you)\b|"
    r"\b(?:real[- ]world|worked) example\b|"  # a worked example: its numbers are the example's, not AWS's
    r"\b(?:this|that|these|those) use cases?\b|\ball (?:of )?this\b|^(?:you|we) could also\b|^(?:once|one) again\b|^what is because\b",
    re.I,
)


# A bullet that opens on a verb or on "it", in lower case ("is cheaper than CLB", "might be useful
# when", "it covers other services"): its subject is a line the card does not show. Case matters:
# "It is a managed service" opening a file is about the file's heading.
_NO_SUBJECT = re.compile(
    r"(?:it(?!(?: is|'s) (?:not )?(?:possible|recommended|important|required|advised|best|better)\b)|is|are|was|were|"
    r"work|works|does|do|did|might|could|would)\b"
)
# "this", "these", "those": what they point at is a line the card does not show, unless the noun
# after them is named earlier in the same text ("when VPCs are peered, ... those VPCs"). Blind
# readers kept 6 of 33 clozes with one (rounds 18-50).
_DEMONSTRATIVE = re.compile(r"\b(?:this|these|those)\b(?:\s+([A-Za-z][\w-]*))?", re.I)


def _points_back(text: str) -> bool:
    """Whether a demonstrative in `text` refers to something outside it."""
    for match in _DEMONSTRATIVE.finditer(text):
        noun, before = match.group(1), text[: match.start()]
        if noun is None:
            if len(before.split()) < 5:
                return True  # "This means that ...", "One might experience this ..."
            continue  # "...; this requires VPC configuration": the clause before it
        if _WITHIN.fullmatch(noun.casefold()) or noun.casefold().rstrip("s")[:5] in before.casefold():
            continue
        return True
    return False


# After a demonstrative, words that keep the reference inside the sentence: "those of other
# participants", "those run by conformance packs", "this month", "within this service" (the card's subject).
_WITHIN = re.compile(
    r"of|in|on|with|that|which|who|whose|from|for|at|by|\w+ed|run|made|written|built|sent|kept|held|set|done|seen|"
    r"shown|given|taken|month|year|week|day|service"
)


FLOW = re.compile(r"(?:->|=>|→).*(?:->|=>|→)")  # `A -> B -> C` is a flow: no cloze, and no definition (terms)
_JSON_OPEN = re.compile(r'\{\s*"')  # `{ "Type": ...`
_JSON_KEY = re.compile(r'"\s*:\s*[\[{"\d]')  # `"Type": "AWS::S3::Bucket"`


def statement_problem(text: str) -> str | None:
    """Why a statement makes no cloze whatever it blanks (see the module docstring), or None."""
    if DANGLING.search(text) or _NO_SUBJECT.match(text) or _points_back(text):
        return "dangling"  # first: an author's bold does not save a long line that points away
    words = len(text.split())
    if words > MAX_CLOZE_WORDS:
        return "long-sentence"
    if words < MIN_STATEMENT_WORDS:
        return "fragment"  # "Supported by ASG": too little to know what is asked
    if TRIVIAL.match(text):
        return "trivial"
    if text.endswith(":"):
        return "lead-in-without-list"  # it introduces what is not on the card
    if text.endswith("?"):
        return "question"  # "What if you need 1000 videos?": a question the notes ask, no fact
    if FLOW.search(text):
        return "flow"  # blind readers kept 6 of 17 such clozes (rounds 18-52)
    if "{" in text and _JSON_OPEN.search(text) or len(_JSON_KEY.findall(text)) >= 2:
        return "code-fragment"  # `"Type": "AWS::S3::Bucket" } }`: a line of a listing, not a statement
    return None


# Words that say nothing about what a blank is: with fewer than MIN_CUE_WORDS others beside the
# blank ("you can configure [...]", "there is a concept of [...]") the card cannot be answered.
_WEAK_WORDS = frozenset(
    "a an the of to in on for with by at from and or nor is are be been being as its it this that these those there "
    "here you your we our they their i he she can could will would should must may might have has had do does did "
    "not no use used uses using need needs needed configure configured specify set get gets make makes create "
    "creates also only just all any some more most very so then than into over under up out about via per etc setup "
    "lot lots thing things way ways something done called one concept notion".split()
)
MIN_CUE_WORDS = 2  # counting the nearest heading as one when it names something
_WORDS = re.compile(r"\w+")


def too_few_cues(text: str, spans: Sequence[tuple[int, int]], shown: Sequence[str]) -> bool:
    """Whether the words of `text` outside the blanked `spans`, with the nearest heading shown,
    hold too little to say what is asked."""
    visible, position = [], 0
    for start, end in sorted(spans):
        visible.append(text[position:start])
        position = end
    visible.append(text[position:])
    words = [w for w in _WORDS.findall(" ".join(visible).casefold()) if not w.isdigit()]
    cues = sum(1 for w in words if w not in _WEAK_WORDS)
    heading = shown[-1].casefold() if shown else ""
    if any(w not in _WEAK_WORDS and not w.isdigit() for w in _WORDS.findall(heading)):
        cues += 1
    return cues < MIN_CUE_WORDS


def plain_deletions(tokens: Sequence[Token], text: str, avoid: Sequence[str]) -> tuple[tuple[Token, ...], dict[int, int]] | str:
    """Tokens with the key term(s) wrapped as deletions, and their numbers; or why there is no card."""
    problem = statement_problem(text)
    if problem is not None:
        return problem
    full = inline_text(tokens)
    lead = len(full) - len(full.lstrip())
    code_spans = _code_spans(tokens)
    stripped = full.strip()
    terms = key_terms(stripped, code_spans=[(a - lead, b - lead) for a, b in code_spans], avoid=avoid, catalog=load_catalog())
    terms = [t for t in terms if worth_blanking(stripped, t, avoid)]
    chosen = _chosen(terms)
    for attempt in (chosen, terms[:1]):
        if not attempt:
            continue
        bounds = [(term.start, with_gloss(stripped, term.start, term.end)) for term in attempt]
        if too_few_cues(stripped, bounds, avoid):
            return "few-cues"
        spans = sorted((start + lead, end + lead) for start, end in bounds)
        wrapped = wrap_spans(tokens, spans)
        if wrapped is not None:
            return wrapped
    return "no-key-term"


def _chosen(terms: Sequence[KeyTerm]) -> list[KeyTerm]:
    """The best term, and the others of its kind when it is a number (a statement of two limits)."""
    if not terms:
        return []
    best = terms[0]
    if best.kind != "number":
        return [best]
    return [t for t in terms if t.kind == "number"][:MAX_SAME_KIND_DELETIONS]


def _code_spans(tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """Offsets of top-level code spans in the plain text of `tokens`."""
    spans: list[tuple[int, int]] = []
    position = 0
    for token in tokens:
        size = len(inline_text((token,)))
        if token["type"] == "codespan":
            spans.append((position, position + size))
        position += size
    return spans


def wrap_spans(tokens: Sequence[Token], spans: Sequence[tuple[int, int]]) -> tuple[tuple[Token, ...], dict[int, int]] | None:
    """Split text tokens so that each (start, end) of the plain text is one deletion token; None when
    a span cuts through a link, emphasis or other container (it cannot be blanked cleanly)."""
    out: list[Token] = []
    numbers: dict[int, int] = {}
    position = 0
    pending = list(spans)
    current: list[Token] | None = None  # tokens of the deletion being filled
    for token in tokens:
        size = len(inline_text((token,)))
        end = position + size
        if token["type"] != "text":
            if current is not None:
                if end > pending[0][1]:
                    return None
                current.append(token)
                if end == pending[0][1]:
                    _close(out, current, numbers, pending)
                    current = None
            elif pending and position <= pending[0][0] < end:
                if pending[0][0] != position or pending[0][1] < end:
                    return None
                current = [token]
                if end == pending[0][1]:
                    _close(out, current, numbers, pending)
                    current = None
            else:
                out.append(token)
            position = end
            continue
        raw = token["raw"]
        cut = 0  # how much of raw is already placed
        while True:
            if current is not None:
                stop = pending[0][1] - position
                if stop > len(raw):
                    current.append({"type": "text", "raw": raw[cut:]})
                    cut = len(raw)
                    break
                current.append({"type": "text", "raw": raw[cut:stop]})
                cut = stop
                _close(out, current, numbers, pending)
                current = None
                continue
            if pending and pending[0][0] - position < len(raw):
                start = pending[0][0] - position
                if raw[cut:start]:
                    out.append({"type": "text", "raw": raw[cut:start]})
                cut = start
                current = []
                continue
            break
        if raw[cut:]:
            out.append({"type": "text", "raw": raw[cut:]})
        position = end
    if current is not None or pending:
        return None
    return tuple(out), numbers


def _close(out: list[Token], current: list[Token], numbers: dict[int, int], pending: list[tuple[int, int]]) -> None:
    """Add the filled deletion to `out` with the next number, and move to the next span."""
    token = {"type": DELETION, "children": current}
    out.append(token)
    numbers[id(token)] = len(numbers) + 1
    pending.pop(0)


MAX_STATEMENT_WORDS = 25  # a longer plain sentence is cut into its clauses, each a card of its own
MIN_CLAUSE_WORDS = 4
# Where a long sentence can be cut without losing what its parts say: `;`, a dash between spaces,
# or a comma before a conjunction that starts a new clause.
_CLAUSE_BREAK = re.compile(
    r";\s+|\s+[—–]\s+|,\s+(?=(?:but|so|while|whereas|although|though|because|since|which means|so that|and then|"
    r"pero|aunque|mientras|porque)\b)",
    re.I,
)
_LEADING_CONJUNCTION = re.compile(r"^(?:but|and|so|while|whereas|pero|y)\s+", re.I)


def clauses(tokens: Sequence[Token]) -> list[tuple[Token, ...]]:
    """A long statement's clauses (each at least MIN_CLAUSE_WORDS words), or the statement whole."""
    full = inline_text(tokens)
    if len(full.split()) <= MAX_STATEMENT_WORDS:
        return [tuple(tokens)]
    cuts = [(m.start(), m.end()) for m in _CLAUSE_BREAK.finditer(full)]
    wrapped = wrap_spans(tokens, cuts) if cuts else None
    if wrapped is None:
        return [tuple(tokens)]
    pieces: list[list[Token]] = [[]]
    for token in wrapped[0]:
        if id(token) in wrapped[1]:
            pieces.append([])
        else:
            pieces[-1].append(token)
    out: list[list[Token]] = []
    for piece in pieces:
        if out and len(inline_text(piece).split()) < MIN_CLAUSE_WORDS:
            out[-1].extend([{"type": "text", "raw": ", "}, *piece])
        else:
            out.append(_drop_conjunction(piece))
    if len(out) > 1 and len(inline_text(out[0]).split()) < MIN_CLAUSE_WORDS:
        out[1:2] = [[*out[0], {"type": "text", "raw": ", "}, *out[1]]]
        del out[0]
    return [tuple(piece) for piece in out]


def _drop_conjunction(tokens: list[Token]) -> list[Token]:
    """A clause without the `but`/`and`/`so` that tied it to the one before."""
    if tokens and tokens[0]["type"] == "text":
        raw = _LEADING_CONJUNCTION.sub("", tokens[0]["raw"].lstrip(), count=1)
        return [{"type": "text", "raw": raw}, *tokens[1:]] if raw else tokens[1:]
    return tokens
