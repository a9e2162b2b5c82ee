"""The card rules for one statement (a bullet's first paragraph, or one sentence of prose), in order.

Each rule is a name and a function of the builder and the statement: it returns None when it does
not apply, else whether it made a card (when it made none it has recorded why). The first rule
that decides wins. A new pattern is one function here, its place in `LINE_RULES`, and a fixture
pair in `tests/fixtures/extract/`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

from ..parse import inline_text
from ..render import inline_html
from .blanks import MAX_GLOSSED_SHARE, with_gloss
from .deletions import (
    AUTHOR_OPEN, WHOLE_BOLD_SHARE, author_cloze_fact, deletion_groups, deletion_spans, drop_guessable, drop_shown, merge_joined,
)
from .facts import Fact
from .noise import noise_reason
from .plain import clauses, plain_deletions, statement_problem, too_few_cues, wrap_spans
from .terms import ARTICLE, GENERIC_LABELS, IS_A, WHOLE_BOLD_SPLIT, is_term, restates
from .text import NOTE_LABEL, Line, lstrip_tokens, span_text, split_sentences, strong_tokens, unbold

Token = Mapping[str, Any]


class Builder(Protocol):
    """What the rules ask of the builder of a file's facts (`builder.Builder` is one)."""

    source: str

    def add(self, fact: Fact) -> None: ...

    def skip(self, line: int, reason: str, text: str) -> None: ...

    def attach(self, html_text: str, line: int, what: str) -> None: ...

    def split(self, line: Line) -> tuple[list[Token], list[Token]] | None: ...

    def fact(
        self, kind: str, front: str, back: str, extra: str, headings: tuple[str, ...], line: int, subject: str, pattern: str
    ) -> Fact: ...

    def add_definition(
        self, term: Sequence[Token], body: Sequence[Token], line: int, extra: str, path: tuple[str, ...], pattern: str
    ) -> None: ...

    def line_fact(
        self, line: Line, extra: str = "", headings: tuple[str, ...] | None = None, prose: bool = False, listed: bool = False
    ) -> bool: ...


@dataclass(frozen=True)
class Statement:
    """A statement as the rules see it: its line, what goes on its back, and where it stands."""

    line: Line
    extra: str  # sub-items, code, images: on the back of the first card it makes
    path: tuple[str, ...]  # the headings it sits under
    prose: bool  # a sentence of a paragraph, not a bullet
    listed: bool  # already shown on its enumeration's list card

    @property
    def shown(self) -> tuple[str, ...]:
        """The headings its card's context line shows: the file's title only when nothing else does."""
        return self.path[1:] or self.path


def noise(builder: Builder, statement: Statement) -> bool | None:
    """Musing, a link or image alone, a pointer, text about the notes: no card (an image attaches)."""
    line = statement.line
    reason = noise_reason(line.text, line.tokens)
    if reason is None:
        return None
    if reason == "image-only":
        builder.attach(inline_html(line.tokens), line.line, "image")
    else:
        builder.skip(line.line, reason, line.text)
    return False


def author_cloze(builder: Builder, statement: Statement) -> bool | None:
    """An author's own `{{c1::...}}`, kept as written."""
    tokens = statement.line.tokens
    if not any(t["type"] == "text" and "{{c" in t["raw"] and AUTHOR_OPEN.search(t["raw"]) for t in tokens):
        return None
    fact = author_cloze_fact(statement.line, statement.extra, statement.path, builder.source)
    if fact is None:
        return None
    builder.add(fact)
    return True


def highlight(builder: Builder, statement: Statement) -> bool | None:
    """`==highlight==` spans: a deletion each."""
    line = statement.line
    marks = [t for t in line.tokens if t["type"] == "mark"]
    if not marks:
        return None
    numbers = {id(t): n for n, t in enumerate(marks, start=1)}
    front = inline_html(line.tokens, deletions=numbers)
    builder.add(builder.fact("cloze", front, "", statement.extra, statement.path, line.line, line.text, "highlight"))
    return True


def definition(builder: Builder, statement: Statement) -> bool | None:
    """`Term: definition` and its variants: front the term, back the definition (none when the
    definition only says the term again)."""
    line = statement.line
    split = builder.split(line)
    if split is None:
        return None
    term, body = split
    if _only_links(body) or noise_reason(inline_text(term).strip(), term) == "pointer":
        builder.skip(line.line, "pointer", line.text)  # "Documentation: <a link>", "more about X: this video"
        return False
    label = inline_text(term).strip(" :")
    if _EXAMPLE_TERM.fullmatch(label):
        builder.skip(line.line, "example", line.text)  # "Pilot Light: example", "Scenario 2": a worked case, no fact
        return False
    if NOTE_LABEL.fullmatch(label + ":") or _OPTION_TERM.fullmatch(label):
        # "Exam tip: ...", "Option II: ...": the label asks nothing, the rest is the statement
        return builder.line_fact(Line(tuple(lstrip_tokens(body)), line.line), statement.extra, statement.path, statement.prose, statement.listed)
    if _ACTION_TERM.match(label):
        # "use Trust Policy -> who can assume the role": a statement, not a term and its definition
        return bold_cloze(builder, statement) or plain(builder, statement)
    if vague_term(label):
        builder.skip(line.line, "vague-term", line.text)  # "Lower: faster propagation": its front asks nothing
        return False
    if restates(inline_text(term), inline_text(body)):
        builder.skip(line.line, "tautology", line.text)  # "Security: security recommendations"
        return False
    answer = inline_text(body).strip()
    if _TRAILING_OFF.search(answer) or (not statement.extra and _LEADING_ON.search(answer)):
        builder.skip(line.line, "open-answer", line.text)  # "Management events: create subnet, create trail, ..."
        return False
    if _statement_term(inline_text(term).strip(" :")):
        builder.skip(line.line, "statement-term", line.text)  # "Memcached shouldn't go over 90% CPU: add nodes"
        return False
    body = _without_quote_mark(body)
    pattern = "bold-term" if line.tokens[0]["type"] == "strong" else "plain-term"
    builder.add_definition(term, body, line.line, statement.extra, statement.path, pattern)
    return True


_ARTICLE_ONLY = re.compile(r"\s*(?:an?|the)\s+", re.I)  # "A " before a bold subject


# Terms that name a worked example or scenario, not a subject.
_EXAMPLE_TERM = re.compile(r".*?\b(?:examples?|scenario(?:\s*\d+)?|case\s*(?:\d+|#\d+))", re.I)
# "Option 2", "Option II": a numbered choice, whose text is the statement.
_OPTION_TERM = re.compile(r"option\s*(?:\d+|[ivx]+|#\d+)", re.I)
# A "term" opening on a lowercase verb is an instruction or a clause ("use Trust Policy -> who can
# assume the role", "not associated with a user -> ..."): asked as a statement.
_ACTION_TERM = re.compile(
    r"(?:use|uses|using|process|reduce|create|enable|disable|run|send|store|set|add|keep|make|get|allow|avoid|"
    r"choose|configure|deploy|define|provide|publish|support|supports|handle|handles|"
    r"manage|monitor|protect|prevent|replicate|scale|connect|track|collect|analy[sz]e|convert|move|migrate|install|"
    r"stop|start|delete|update|attach|assign|apply|specify|select|register|integrate|automate|encrypt|block|"
    r"restrict|share|copy|not|can|cannot|based|must|should|will|setup|operate|operates|don't|dont)\s+\S"
)

_PLACEHOLDER_TERM = re.compile(r"(?i:column|col|row|field|attribute|item|key|value|user|server|account|bucket)(?:\s*\d{1,2}|\s+[A-Z])")
_REMARK_FRONT = re.compile(r"the \w+ \w|(?:crucial|important|useful|good|nice|worth|interesting) (?:to|for)\b")
# What a term does not start with (a circumstance, not a name: "Under the hood") ...
_NOT_A_NAME_START = frozenset("under for with in on by from".split())
# ... and comparatives that ask nothing alone ("Lower: faster propagation").
COMPARATIVES = frozenset("lower higher faster slower cheaper bigger smaller larger better worse more less".split())
# ... and adverbs that only frame what follows ("Mainly: setup, configure, deploy").
_SENTENCE_ADVERBS = frozenset(
    "mainly basically usually generally typically mostly essentially primarily additionally alternatively optionally "
    "finally firstly secondly lastly currently normally ideally obviously importantly also otherwise".split()
)


# An answer that trails off: a learner cannot check what is left out ("create trail, ...", "such as").
_TRAILING_OFF = re.compile(r"(?:…|\.\.\.|\betc\.?)\s*\)?$", re.I)
# ... or that announces what follows when nothing follows (its sub-items would be on the back).
_LEADING_ON = re.compile(r"\b(?:like|such as|including|includes?|e\.g\.?)\s*$", re.I)
_CLAUSE_MARK = re.compile(r"\b(?:is|are|was|were|can|cannot|can't|will|should|shouldn't|must|uses|has|have|does|doesn't|isn't|aren't)\b", re.I)


def _statement_term(term: str) -> bool:
    """Whether a definition's "term" is a statement of its own ("CF uses UserData and cfn-init"):
    the fact is on the front, and the back only comments on it."""
    return len(term.split()) >= 4 and _CLAUSE_MARK.search(term) is not None


def _without_quote_mark(tokens: Sequence[Token]) -> Sequence[Token]:
    """An answer without the `>` some notes put before it ("command: > what it does")."""
    if tokens and tokens[0]["type"] == "text" and tokens[0]["raw"].lstrip().startswith(">"):
        raw = tokens[0]["raw"].lstrip()[1:].lstrip()
        return [{"type": "text", "raw": raw}, *tokens[1:]] if raw else list(tokens[1:])
    return tokens


def _only_links(tokens: Sequence[Token]) -> bool:
    """Whether a definition's body is only links or a bare URL (a pointer, not an answer)."""
    text = inline_text(tokens).strip()
    if text.startswith(("http://", "https://")) and " " not in text:
        return True
    kinds = {t["type"] for t in tokens if not (t["type"] == "text" and not t["raw"].strip(" .,:;-–()"))}
    return bool(kinds) and kinds <= {"link", "image"}


def vague_term(term: str) -> bool:
    """Whether a definition's term names nothing a front could ask about: a circumstance ("Under the
    hood"), a comparative ("Lower") or framing adverb ("Mainly"), or one plain lowercase word ("traffic")."""
    words = term.split()
    if not words or term in ("Q", "A") or term.startswith(("=>", "->", "→", "=", ">", "<")):
        return True  # "Q: ..." is a question's label, "=> 48 hours" an arrow's tail: no term
    first = words[0].lower()
    if first in _NOT_A_NAME_START or (len(words) == 1 and (first in COMPARATIVES or first in _SENTENCE_ADVERBS)):
        return True  # "Lower: faster propagation", "Mainly: setup, configure, deploy"
    if _REMARK_FRONT.match(term):
        return True  # "the most expensive one", "crucial to understand": no name to ask about
    if _PLACEHOLDER_TERM.fullmatch(term):
        return True  # "column 1", "key A": a worked example's made-up names
    return len(words) == 1 and term.isalpha() and term.islower() and term.casefold() not in GENERIC_LABELS


def sentences(builder: Builder, statement: Statement) -> bool | None:
    """Several sentences: the rules again for each, so that a cloze never shows its siblings (sub-items
    and code go with the first card made)."""
    line = statement.line
    parts = list(split_sentences(line.tokens, line.line))
    if len(parts) < 2:
        return None
    made = False
    for part in parts:
        made = builder.line_fact(part, "" if made else statement.extra, statement.path, statement.prose, statement.listed) or made
    return made


def bold_cloze(builder: Builder, statement: Statement) -> bool | None:
    """Bold spans (italics in notes with no bold) as deletions, one number per span or joined group.
    A line almost all bold, or whose spans the front shows, goes to `whole_bold`; one whose spans
    would all be guessable blanks (`blanks.guessable`) is asked as a plain statement."""
    line = statement.line
    tokens = line.tokens
    spans = strong_tokens(tokens)
    if not spans and any(t["type"] == "emphasis" for t in tokens):
        # Notes with no bold at all mark their key terms in italics: read those as bold.
        tokens = tuple({"type": "strong", "children": t["children"]} if t["type"] == "emphasis" else t for t in tokens)
        line = Line(tokens, line.line)
        spans = strong_tokens(tokens)
    if not spans:
        return None
    bold_chars = sum(len(span_text(s["children"])) for s in spans)
    numbers = deletion_groups(tokens) if bold_chars < WHOLE_BOLD_SHARE * len(line.text) else {}
    kept = drop_shown(tokens, numbers, statement.shown)
    lead = 1 if len(tokens) > 2 and tokens[0]["type"] == "text" and _ARTICLE_ONLY.fullmatch(tokens[0]["raw"]) else 0
    if not kept and numbers and tokens[lead]["type"] == "strong" and len(tokens) > lead + 1:
        # `**Versioning** keeps every version` (or `A **route table** holds ...`) under a heading
        # that names it: the subject is on the front already, so the card asks what it does.
        body = lstrip_tokens(tokens[lead + 1 :])
        if inline_text(body).strip():
            builder.add_definition([tokens[lead]], body, line.line, statement.extra, statement.path, "subject-first")
            return True
    if not kept:
        return whole_bold(builder, Statement(line, statement.extra, statement.path, statement.prose, statement.listed))
    kept = drop_guessable(tokens, kept, statement.shown)
    if not kept:  # every span a guessable blank: the line is asked as if it had no bold
        if statement.listed:
            return False
        return plain(builder, Statement(Line(unbold(line.tokens), line.line), statement.extra, statement.path, statement.prose, False))
    tokens, kept = merge_joined(tokens, kept)
    text = inline_text(tokens)
    spans = deletion_spans(tokens, kept)
    problem = statement_problem(text.strip())
    if problem is None and too_few_cues(text, list(spans.values()), statement.shown):
        problem = "few-cues"
    if problem is not None and problem != "lead-in-without-list":  # bold marks what to ask, not a short line
        builder.skip(line.line, problem, line.text)  # the author's bold does not save a line that asks nothing
        return False
    tokens, kept = _with_glosses(tokens, kept, text, spans)
    builder.add(builder.fact("cloze", inline_html(tokens, deletions=kept), "", statement.extra, statement.path, line.line, line.text, "bold-cloze"))
    return True


def _with_glosses(
    tokens: Sequence[Token], numbers: dict[int, int], text: str, spans: Mapping[int, tuple[int, int]]
) -> tuple[Sequence[Token], dict[int, int]]:
    """Deletions that take along the gloss right after them (`**content delivery network** (CDN)`:
    left visible, the acronym spells the answer), unless the blank would then hide too much of
    `text` (the tokens' plain text; `spans` are the deletions' offsets in it, by number); the
    tokens as they were when none has one."""
    limit = MAX_GLOSSED_SHARE * len(text.strip())
    extended = {}
    for number, (start, end) in spans.items():
        glossed = with_gloss(text, start, end)
        extended[number] = (start, glossed if glossed - start <= limit else end)
    if extended == spans:
        return tokens, numbers
    wrapped = wrap_spans(tokens, [extended[n] for n in sorted(extended)])
    return wrapped if wrapped is not None else (tokens, numbers)


def whole_bold(builder: Builder, statement: Statement) -> bool:
    """A line in bold: a definition when it reads `X = Y`, `X: Y`, `X is a Y`; else a plain statement."""
    line = statement.line
    parts = WHOLE_BOLD_SPLIT.split(line.text, maxsplit=1)
    # two statements ("**VPC is the Hub** and **each site is the Spoke**") are no definition
    if len(parts) == 2 and is_term(parts[0].strip()) and parts[1].strip() and not IS_A.search(parts[1]):
        term, body = ARTICLE.sub("", parts[0].strip()), parts[1].strip()
        # as any definition: the first sentences answer, the others are statements of their own
        term_tokens, body_tokens = [{"type": "text", "raw": term}], [{"type": "text", "raw": body}]
        builder.add_definition(term_tokens, body_tokens, line.line, statement.extra, statement.path, "whole-bold-split")
        return True
    if statement.listed:
        return False
    unbolded = Statement(Line(unbold(line.tokens), line.line), statement.extra, statement.path, statement.prose, False)
    made = sentences(builder, unbolded)  # "**A does X. B does Y.**": each sentence on its own
    return made if made is not None else plain(builder, unbolded)


def listed(builder: Builder, statement: Statement) -> bool | None:
    """A plain item already on its list's card, with no key term of its own: nothing more."""
    return False if statement.listed else None


def plain(builder: Builder, statement: Statement) -> bool:
    """A statement with no markup: a cloze on the key term of each of its clauses (a long sentence is
    cut at its clauses), or no card, with the reason (see `plain`)."""
    line = statement.line
    made = False
    for piece in clauses(line.tokens):
        text = inline_text(piece).strip()
        found = plain_deletions(piece, text, statement.shown)
        if isinstance(found, str):
            builder.skip(line.line, found, text)  # each clause that gave nothing says why
            continue
        tokens, numbers = found
        builder.add(builder.fact("cloze", inline_html(tokens, deletions=numbers), "", statement.extra, statement.path, line.line, text, "key-term"))
        made = True
    return made


LineRule = Callable[[Builder, Statement], "bool | None"]
LINE_RULES: tuple[tuple[str, LineRule], ...] = (
    ("noise", noise),
    ("author-cloze", author_cloze),
    ("highlight", highlight),
    ("definition", definition),
    ("sentences", sentences),
    ("bold-cloze", bold_cloze),
    ("listed", listed),
    ("plain", plain),
)
