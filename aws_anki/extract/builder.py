"""The facts of one file, collected section by section: the rules for a line, a list item and an enumeration."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from ..cloze import CLOZE_CLOSE, cloze_open
from ..parse import Section, inline_text
from ..render import blocks_html, inline_html, list_html
from .blanks import guessable
from .facts import Fact, Skip
from .noise import noise_reason
from .plain import MAX_CLOZE_WORDS
from .rules import COMPARATIVES, LINE_RULES, Statement
from .terms import CLAUSE_WORDS, GENERIC_HEADINGS, GENERIC_LABELS, TERM_END_WORDS, split_definition
from .text import (
    Line, MAX_PSEUDO_HEADING_WORDS, TAG, answer_parts, escape_html, has_key_term, item_head, nested_items, pseudo_heading,
    split_lazy_note, split_lines, split_sentences, strip_colon, strip_note_prefix, unbold, visible_words,
)

Token = Mapping[str, Any]

_EXAMPLE_LEAD = re.compile(r"(?:an? |some )?(?:examples?|e\.g\.?|for example)\W*$", re.I)
MAX_LIST_ITEMS = 3  # blind readers fixed every list card of 4+ items (0 of 18 kept, rounds 9-25)
MAX_SET_ITEM_WORDS = 12  # a list card's items are short names, phrases or steps ...
MAX_SET_WORDS = 36  # ... and all of them together fit in a glance
MAX_NAME_WORDS = 4  # an item this short is a name
MAX_ANNOUNCED_ITEM_WORDS = 8  # "X needs:" over a few short items is a set the author announced
MAX_LISTED_TERM_WORDS = 3  # a list card of definitions' terms only when the terms are names
MIN_STATEMENT_WORDS = 5  # an item of a long list this long says something of its own
MAX_ITEM_WORDS = 15  # sub-items this short (on average) are an enumeration's items
MAX_EXTRA_WORDS = 25  # a parent's sub-items go on its back up to this size; past it, each stands alone
MAX_ATTACHED_CODE_LINES = 20  # a longer listing goes on no card: the answer would drown in it

# A lead-in that says its items are some of many ("Use cases include", "such as"): a list card of
# them reads as the whole set, and blind readers fixed every one (rounds 18-42).
_OPEN_LEAD = re.compile(
    r"\b(?:includes?|including|such as|like|e\.g\.?|for example|some|examples?|among others|incluyen?)\W*$", re.I
)
# A lead-in that announces a closed set.
_SET_LEAD = re.compile(
    r"^(?:to|how to|para|cómo)\s|^\w+ing\b|\b(?:types?|kinds?|steps?|modes?|options?|classes|tiers?|levels?|strategies|components?|parts?|consists?|"
    r"engines?|categories|models?|families|pillars?|phases?|stages?|states?|methods?|ways?|formats?|"
    r"protocols?|flavou?rs?|editions?|plans?|layers?|elements?|benefits|advantages|tipos?|pasos?|modos?|clases)\b",
    re.I,
)


def _introduces(head: Line, definition: tuple[list[Token], list[Token]] | None, sub_items: Sequence[Token]) -> bool:
    """Whether a bullet leads in to its sub-items (an enumeration) rather than being a fact they detail.

    It does when it ends with ':' (and is not `Term: definition`), when it is a short line in bold
    (a term whose sub-items define it), or when it is a short plain line, not a full sentence,
    over at least two short sub-items."""
    text = head.text
    if text.endswith(":"):
        return definition is None or not inline_text(definition[1]).strip()
    if pseudo_heading(head.tokens) is not None:
        return True
    if definition is not None or has_key_term(head.tokens) or len(text) > 80 or text.endswith((".", "!", "?")):
        return False
    if not CLAUSE_WORDS.isdisjoint(text.lower().split()[1:]):
        return False  # "Aurora is an engine built by AWS": a statement, its sub-items are its detail
    words = [len(inline_text(item_head(sub).tokens).split()) for sub in sub_items]
    return len(words) >= 2 and sum(words) / len(words) <= MAX_ITEM_WORDS


@dataclass
class Builder:
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
    heads: dict[int, tuple[Token, Line]] = field(default_factory=dict)
    splits: dict[int, tuple[Sequence[Token], tuple[list[Token], list[Token]] | None]] = field(default_factory=dict)

    def begin_section(self, section: Section) -> None:
        """Start collecting the facts of one section."""
        self.headings = section.headings
        self.section_start = len(self.facts)
        self.pending = []
        self.under_pseudo = False

    def end_section(self) -> None:
        """Finish a section: merged definitions, what found no fact."""
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

    def leave_sub_heading(self) -> None:
        """Back to the section's own heading: a bold-led line like the bold sub-heading is its sibling,
        not something under it (`**cmd-a**` alone, then `**cmd-b** => does X`)."""
        if self.under_pseudo:
            self.close_sub_heading()
            self.headings = self.headings[:-1]
            self.under_pseudo = False

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

    def head(self, item: Token) -> Line:
        """The first paragraph of a list item (memoised: items are looked at more than once)."""
        found = self.heads.get(id(item))
        if found is None:
            found = self.heads[id(item)] = (item, item_head(item))
        return found[1]

    def split(self, line: Line) -> tuple[list[Token], list[Token]] | None:
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
        """Put code or an image on the back of the latest fact of this section (else the next one);
        code over MAX_ATTACHED_CODE_LINES lines is left out (a listing buries the card's answer)."""
        lines = html_text.count("\n") if what == "code" else 0
        if lines > MAX_ATTACHED_CODE_LINES:
            self.skip(line, "long-code", f"{lines} lines of code")
            return
        if len(self.facts) > self.section_start:
            last_fact = self.facts[-1]
            self.facts[-1] = replace(last_fact, extra=last_fact.extra + html_text)
        else:
            self.pending.append((html_text, line, what))

    # -- facts from lines -----------------------------------------------------------------------

    def line_fact(
        self,
        line: Line,
        extra: str = "",
        headings: tuple[str, ...] | None = None,
        prose: bool = False,
        listed: bool = False,
    ) -> bool:
        """Make the facts of one statement by the first rule of `rules.LINE_RULES` that decides it;
        returns False when it made none (and the rule recorded why). An item already on an
        enumeration's card (`listed=True`) makes a card only for a definition or a cloze."""
        statement = Statement(self._drop_pointer_tail(strip_note_prefix(line)), extra, headings or self.headings, prose, listed)
        for _name, rule in LINE_RULES:
            made = rule(self, statement)
            if made is not None:
                return made
        return False

    def _drop_pointer_tail(self, line: Line) -> Line:
        """Drop a last sentence that only points elsewhere (`Read more here.`, a bare link)."""
        for token in line.tokens:
            if token["type"] == "link":
                break
        else:
            return line
        sentences = list(split_sentences(line.tokens, line.line))
        if len(sentences) < 2:
            return line
        last = sentences[-1]
        reason = noise_reason(inline_text(unbold(last.tokens)).strip(), unbold(last.tokens))
        if reason not in ("pointer", "link-only"):
            return line
        self.skip(line.line, reason, last.text)
        return Line(tuple(t for s in sentences[:-1] for t in (*s.tokens, {"type": "text", "raw": " "})), line.line)

    def add_definition(
        self, term: Sequence[Token], body: Sequence[Token], line: int, extra: str, path: tuple[str, ...], pattern: str
    ) -> None:
        """A definition card: its back is the answer's first sentences (`answer_parts`); each sentence
        past them is a statement of its own under the term, so no back runs on.
        A generic label ("Use case", "Pros") is asked with the section it belongs to."""
        kept, rest = answer_parts(body, line)
        front = inline_html(strip_colon(unbold(term))).strip()
        subject = inline_text(term).strip(" :")
        label = subject.casefold()
        if label in GENERIC_LABELS and len(path) > 1:
            topic = next((h for h in reversed(path[1:]) if h.casefold() not in GENERIC_HEADINGS), path[-1])
            front = f"{escape_html(topic)}: {front[:1].lower()}{front[1:]}"
        self.add(Fact("definition", front, kept, extra, path, self.source, line, subject, pattern))
        under = (*path, subject) if _title_like(subject) else path
        for sentence in rest:
            self.line_fact(sentence, headings=under)

    # -- enumerations ---------------------------------------------------------------------------

    def enumeration(self, lead: Line, items: Sequence[Token], headings: tuple[str, ...], ordered: bool = False) -> None:
        """A lead-in and its items: a list card when they are a small closed set, and the items' own cards."""
        lead_tokens = strip_colon(unbold(strip_note_prefix(lead).tokens))
        lead_text = inline_text(lead_tokens).strip()
        heads = [self.head(item) for item in items]
        definitions = [self.split(head) for head in heads]
        all_terms = all(d is not None for d in definitions)
        # The back lists each item's term (when all are definitions) or its first sentence, with the
        # rest of the item (more sentences, sub-items, code) under it: each line once.
        labels: list[str] = []
        details: list[str] = []
        for item, head, d in zip(items, heads, definitions):
            nested = "".join(blocks_html([c]) for c in item["children"][1:] if c["type"] != "blank_line")
            if all_terms and d is not None:
                labels.append(inline_html(strip_colon(unbold(d[0]))))
                details.append(nested)
                continue
            sentences = list(split_sentences(head.tokens, head.line)) if head.tokens else []
            labels.append(inline_html(sentences[0].tokens) if sentences else "")
            rest = " ".join(inline_html(sentence.tokens) for sentence in sentences[1:])
            details.append((f" {rest}" if rest else "") + nested)
        front = inline_html(lead_tokens).strip()
        # Details past MAX_EXTRA_WORDS would bury the set: the card lists the items, and what
        # is under them makes cards of its own.
        heavy = visible_words("".join(details)) > MAX_EXTRA_WORDS
        back = list_html(labels if heavy else [f"{label}{detail}" for label, detail in zip(labels, details)])
        sizes = [visible_words(label) for label in labels]
        example = _EXAMPLE_LEAD.match(lead_text) is not None
        small = not example and _list_card(lead.text, lead_text, labels, sizes, all_terms, ordered)
        # One item alone, or labels such as "SWF and SQS: similarities, differences": with their
        # details gone, the labels teach nothing.
        small = small and not (heavy and (len(labels) < 2 or _labels_restate(lead_text, labels)))
        if small and front:
            self.add(Fact("list", front, back, "", headings, self.source, lead.line, lead_text, "enumeration"))
        child_path = (*headings, lead_text) if _title_like(lead_text) else headings
        made = len(self.facts)
        for item, head, definition, size in zip(items, heads, definitions, sizes):
            if definition is not None or has_key_term(head.tokens):
                self.item(item, child_path, in_enumeration=small)
            elif (not small or heavy) and (size >= MIN_STATEMENT_WORDS or nested_items(item)):
                # An item that says something, or leads in to items of its own: its own cards, in
                # the list's context.
                self.item(item, child_path)
            else:
                for sub in nested_items(item):
                    title = head.text.rstrip(" :")
                    self.item(sub, (*child_path, title) if _title_like(title) else child_path, in_enumeration=True)
        if not small and len(self.facts) == made:
            # A long set of bare names: blanking one of them makes a card nobody can answer.
            self.skip(lead.line, "example" if example else "long-set", lead_text)
        elif not small and child_path == headings:
            self.skip(lead.line, "lead-in", lead_text)  # its items make their own cards; it names no context

    def item(self, item: Token, headings: tuple[str, ...], in_enumeration: bool = False) -> None:
        """One list item: a fact from its head, its sub-list as detail or enumeration."""
        head, lazy_note = split_lazy_note(self.head(item))
        children = item.get("children", ())
        nested = [c for c in children[1:] if c["type"] == "list"]
        others = [c for c in children[1:] if c["type"] not in ("list", "blank_line")]
        sub_items = [i for lst in nested for i in lst["children"]]
        if not head.tokens:
            for sub in sub_items:
                self.item(sub, headings, in_enumeration)
            return
        definition = self.split(head)
        if in_enumeration and not (definition or has_key_term(head.tokens)):
            # Already shown on its enumeration's card: only its own key sub-items make more cards.
            for sub in sub_items:
                title = head.text.rstrip(" :")
                self.item(sub, (*headings, title) if _title_like(title) else headings, in_enumeration=True)
            return
        if sub_items and _introduces(head, definition, sub_items):
            sentences = list(split_sentences(head.tokens, head.line))
            for sentence in sentences[:-1]:  # `X does Y. It has:` - only the last sentence leads in
                self.line_fact(sentence, headings=headings, listed=in_enumeration)
            self.enumeration(sentences[-1] if sentences else head, sub_items, headings, any(is_ordered(n) for n in nested))
            self._attach_blocks(others, item.get("line", 0))
        else:
            extra = blocks_html(nested) if nested else ""
            if visible_words(extra) > MAX_EXTRA_WORDS:
                extra = ""  # more detail than a back can hold: the sub-items stand on their own
            made = self.line_fact(head, extra, headings, listed=in_enumeration)
            self._attach_blocks(others, item.get("line", 0))
            # Sub-items with a key term of their own also make facts, under the parent's term.
            parent = inline_text(strip_colon(unbold(definition[0]))).strip() if definition else ""
            sub_path = (*headings, parent) if parent and made else headings
            # They are on the parent's card (extra) only when the parent made one.
            for sub in sub_items:
                self._key_sub_item(sub, sub_path, listed=made and bool(extra))
        if lazy_note is not None:
            self.line_fact(lazy_note, headings=headings)

    def _key_sub_item(self, item: Token, headings: tuple[str, ...], listed: bool) -> None:
        """A sub-item under a fact makes a card of its own when it has a key term or a definition,
        or says something on its own (a statement); a short remark only goes on the fact's back."""
        head = self.head(item)
        if head.tokens and (has_key_term(head.tokens) or self.split(head)):
            self.item(item, headings, in_enumeration=listed)
            return
        if len(head.text.split()) >= MIN_STATEMENT_WORDS or (nested_items(item) and head.text.endswith(":")):
            self.item(item, headings)
            return
        for sub in nested_items(item):
            self._key_sub_item(sub, headings, listed)

    def _attach_blocks(self, blocks: Sequence[Token], line: int) -> None:
        """Blocks inside a list item after its first paragraph: code and quotes attach, paragraphs are prose."""
        for block in blocks:
            if block["type"] in ("block_code", "block_quote", "table"):
                self.attach(blocks_html([block]), line, "code" if block["type"] == "block_code" else block["type"])
            elif block["type"] in ("paragraph", "block_text"):
                for sentence in split_lines(block["children"], line):
                    self.line_fact(sentence, prose=True)


def _merge_same_terms(facts: Sequence[Fact]) -> list[Fact]:
    """Definitions of the same term in one section become one card listing every definition. When
    two or more of them are sentences, each is a card that asks for the term, or, where one of
    them cannot, the first answers and the others go to the card's extra."""
    groups: dict[tuple[tuple[str, ...], str], list[int]] = {}
    for index, fact in enumerate(facts):
        if fact.kind == "definition":
            groups.setdefault((fact.headings, fact.front.casefold()), []).append(index)
    merged: list[Fact | None] = list(facts)
    for indexes in groups.values():
        if len(indexes) < 2:
            continue
        parts = list({facts[i].back.casefold(): facts[i] for i in reversed(indexes)}.values())[::-1]
        # (a label's front, `Deployment: pros`, asks for the whole list: it stays one)
        sentences = sum(_sentence(p.back) for p in parts) >= 2 and ":" not in _plain(parts[0].front)
        clozes = [_term_cloze(p) for p in parts] if sentences else []
        if clozes and all(clozes):
            # `NLB: layer 4 ...`, `NLB: routes to IPs only`: one card of both would be a grab-bag
            for i in indexes:
                merged[i] = clozes[parts.index(facts[i])] if facts[i] in parts else None
            continue
        extra = "".join(dict.fromkeys(facts[i].extra for i in indexes))
        if sentences:  # the first definition answers; the others are notes on the back
            back, extra = parts[0].back, list_html([p.back for p in parts[1:]]) + extra
        else:
            back = parts[0].back if len(parts) == 1 else list_html([p.back for p in parts])
        merged[indexes[0]] = replace(facts[indexes[0]], back=back, extra=extra)
        for i in indexes[1:]:
            merged[i] = None
    return [f for f in merged if f is not None]


def _plain(html_text: str) -> str:
    """The text of some HTML as written, tags dropped and entities decoded."""
    return html.unescape(TAG.sub("", html_text))


def _term_cloze(fact: Fact) -> Fact | None:
    """One of several definitions of a term as `[term]: definition`, or None when the blank would
    give itself away (the term is the section's subject) or the line is too long to hold as one fact."""
    term, definition = _plain(fact.front), _plain(fact.back)
    text = f"{term}: {definition}"
    if len(text.split()) > MAX_CLOZE_WORDS or _TWO_SENTENCES.search(definition):
        return None
    if guessable(text, 0, len(term), fact.headings):
        return None
    front = f"{cloze_open(1)}{fact.front}{CLOZE_CLOSE}: {fact.back}"
    return replace(fact, kind="cloze", front=front, back="", pattern="term-cloze")


_FRAGMENT_START = frozenset("then when if also and but so currently which that where while as or".split())
_FRAGMENT_END = frozenset("are is be by done can will used then to of for with from as in on at was were has have".split())
_PRONOUN_START = frozenset("we you i it they there here he she".split())
_DEGREE_WORDS = frozenset("much far way slightly even".split())
_VALUE_LEAD = re.compile(r"\b(?:defaults?|values|quotas|thresholds|timeouts)\b", re.I)
_TWO_SENTENCES = re.compile(r"[.!?]\s+[A-Z]")
_PLACEHOLDER = re.compile(r"^(\w+) ?\d+$")


def _list_card(lead: str, lead_text: str, labels: Sequence[str], sizes: Sequence[int], all_terms: bool, ordered: bool) -> bool:
    """Whether a lead-in and its items make one list card: a small closed set (`lead` is the
    lead-in line as written, `lead_text` without its colon; `labels` the items as shown)."""
    longest = max(sizes, default=0)
    # A set worth learning as a set: names, or what the lead-in calls a set ("three storage
    # classes", "the steps"), or a short procedure. Loose remarks are cards of their own.
    announced = lead.rstrip().endswith(":") and len(labels) <= 5 and longest <= MAX_ANNOUNCED_ITEM_WORDS
    closed = announced or longest <= MAX_NAME_WORDS or (
        longest <= MAX_SET_ITEM_WORDS and (_SET_LEAD.search(lead_text) is not None or (ordered and len(labels) <= 5))
    )
    if not closed or len(labels) > MAX_LIST_ITEMS or sum(sizes) > MAX_SET_WORDS:
        return False
    if all_terms and longest > MAX_LISTED_TERM_WORDS:
        return False  # descriptions mapped to answers (`need -> service`): a card each, no list of questions
    if _placeholders(labels):
        return False  # `column 1, column 2, column 3`: an example's names, not a set to learn
    if all_terms and _VALUE_LEAD.search(lead_text):
        # `Health check defaults: Interval: 30 s, ...`: the lead-in asks for the values, which
        # are each term's own card; a list of the bare names would answer nothing it asks.
        return False
    # some of a set, or a front that names no set ("preprocessing", "training")
    return not (_OPEN_LEAD.search(lead_text) or _bare_word(lead_text))


def _sentence(answer: str) -> bool:
    """Whether an answer (as HTML) is a sentence: one with a verb such as "can" or "is", one ending
    with `.` or `!`, or a long one (a name, a value or a short phrase is not)."""
    text = _plain(answer).strip()
    words = text.lower().split()
    if len(words) >= MAX_SET_ITEM_WORDS:
        return True
    return len(words) >= MIN_STATEMENT_WORDS and (text.endswith((".", "!")) or not CLAUSE_WORDS.isdisjoint(words))


_EMPTY_LABELS = frozenset("similarities similarity differences difference pros cons advantages disadvantages".split())


def _labels_restate(lead: str, labels: Sequence[str]) -> bool:
    """Whether every list label (as HTML) is a word such as "differences" or says what the lead-in
    says ("HTTP/HTTPS and TCP/SSL differences": "HTTP/HTTPS", "TCP/SSL"), compared by word stems."""
    stems = {word[:3] for word in re.findall(r"\w+", lead.casefold())}
    for label in labels:
        words = re.findall(r"\w+", _plain(label).casefold())
        if " ".join(words) not in _EMPTY_LABELS and not all(word[:3] in stems for word in words):
            return False
    return True


def _bare_word(lead: str) -> bool:
    """Whether a lead-in is one word that names no set ("specifics", "IOPS"), unlike "states"."""
    return len(lead.split()) == 1 and _SET_LEAD.search(lead) is None


def _placeholders(labels: Sequence[str]) -> bool:
    """Whether list items are numbered stand-ins of one word (`item 1`, `item 2`)."""
    found = [_PLACEHOLDER.match(_plain(label).strip().lower()) for label in labels]
    return all(found) and len({m.group(1) for m in found if m}) == 1


def _title_like(text: str) -> bool:
    """Whether a lead-in reads as a title for the items under it (it goes into their context
    line), not as the first half of a sentence ("The translation can be done", "Then")."""
    words = text.lower().rstrip(" :").split()
    return (
        0 < len(words) <= MAX_PSEUDO_HEADING_WORDS
        and words[0] not in _FRAGMENT_START
        and words[0] not in _PRONOUN_START
        # a judgement ("much better alternative to cron"), not a topic
        and (words[1] if words[0] in _DEGREE_WORDS and len(words) > 1 else words[0]) not in COMPARATIVES
        and words[-1] not in _FRAGMENT_END
        and words[-1] not in TERM_END_WORDS
        # a statement ("one subnet = one AZ", "we also have the file x") is a fact, not a title
        and CLAUSE_WORDS.isdisjoint(words)
        and not any(mark in words for mark in ("=", "=>", "->"))
    )


def is_ordered(list_token: Token) -> bool:
    """Whether a list is numbered (a procedure, in order)."""
    return bool(list_token.get("attrs", {}).get("ordered"))
