"""Extract stage: turn parsed sections into Facts, the units a learner memorises. No Anki here.

One fact, one card. The stage is a package of small modules: `rules` (the ordered rules for one
statement), `builder` (sections, list items, enumerations), `blocks` (one handler per kind of
Markdown block), `text` (statements, sentences, answers trimmed), `terms` (`Term: definition`),
`deletions` (marked spans as cloze deletions), `keyterms` and `plain` (the key term of a line with
no markup), `noise` (lines worth no card), `coverage` (what is measured), `facts` (what it gives).

How a line (a bullet's first paragraph, or one sentence of prose) becomes a card; the first rule
that matches wins (`rules.LINE_RULES`):
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
   sentence end. `A -> B -> C` is a flow, not a definition. A term that names nothing to ask about
   (a circumstance such as "Under the hood", a bare comparative, a framing adverb such as
   "Mainly", one plain lowercase word) makes no card (`vague-term`). Definitions of the same
   term in one section merge into one card; when two or more of them are sentences, each becomes
   a cloze that blanks the term (`[NLB]: works at layer 4`), or, where one cannot (the term is the
   section's subject, the line is too long or two sentences), the first answers and the others go
   to the extra. An answer keeps its first sentence, and the next ones while it stays within 20
   words; the rest goes to the card's extra;
5. a line of several sentences makes one card per sentence: a cloze never shows its siblings. A
   sentence may start in lower case (3 words or more on each side, no bracket left open);
6. bold spans inside a sentence become cloze deletions, one number per span; spans joined only by
   "and"/"or"/"y"/"o"/"&"/"/"/"+"/commas belong together and share a number. A span is not a
   deletion when it is filler ("whenever", "can use") or a link, hides more than 60% of the line,
   is longer than 9 words, is longer than 4 words and leaves fewer than 4 words of its sentence
   visible, or is already shown in the card's context (the answer would be on the front), and
   joined spans are not when the list goes on after them ("[A], [B], [C], and D"). A sentence
   over 25 words makes no cloze, bold or not (`long-sentence`);
7. a line (almost) entirely in bold, or whose every span was refused, splits into a definition
   card when it reads `Term = def`, `Term: def` or `Term is/are a|an|the ...`; otherwise it is a
   plain statement (rule 8), sentence by sentence. A cloze never hides a whole line;
8. a plain statement (no markup) becomes a cloze on its key term, found by `keyterms` (numbers
   with units, defaults, other AWS services, acronyms, code, quoted terms: see there for the
   ranking), or no card, with the reason: trivial advice, a pointer to text not on the card
   ("above"), over 25 words, or no key term (see `plain`).
A `Note:`/`Tip:`/`Important:` prefix is dropped and the rest follows the rules above; such a line
wrapped into the bullet above it is split off. Bold broken by hard wrapping (`**` at the end of a
line) is repaired.
Enumerations: a bullet or paragraph that ends with ":", a short line in bold, or a short plain
bullet (not a full sentence) over at least two short sub-items leads in to its items. A small,
closed set (at most 3 items of at most 8 words, 30 words in all: blind readers fixed every
longer set) makes one list card with the whole list (front: the lead-in; back: each item's
first sentence, or only the terms when every item is a definition, with the rest of the item
nested under it; when that detail passes 25 words, only the items, and the detail makes cards
of its own). Items that are definitions or have bold or highlights also make their own
cards, in the context of the lead-in. A longer set never has one item blanked: its items that
say something (5 words or more, a definition, a key term) make their own cards in the list's
context, and a set of bare names makes no card (`long-set`); the lead-in itself, when it is no
title for their context, is reported as `lead-in`. A paragraph that is a short line
in bold (optionally ending with ":") and introduces more text acts as a sub-heading for what
follows in its section.
A definition keeps its first sentences (up to 20 words); each later sentence is a statement of
its own under the term. Sub-items under a fact go to its extra field while they are short (25
words); longer, they stand alone. Sub-items with a key term of their own (at any depth) also
make facts. Tables are keyed by their first column: with one value column, one card
per row; a comparison (two value columns or more) gives one card per cell, asked by its row and
column. A row whose first cell is empty continues the row above: its cells join that row's answer
(a short list) or extra. Code blocks and images attach to the fact before them in the section
(to the next one when none came before).
"""
from __future__ import annotations

from ..parse import Document
from .blocks import walk_section
from .builder import Builder
from .coverage import bold_texts, definition_lines
from .facts import Extraction, Fact, Skip
from .terms import split_definition

__all__ = ["Extraction", "Fact", "Skip", "bold_texts", "definition_lines", "extract_facts", "split_definition"]


def extract_facts(document: Document) -> Extraction:
    """Extract the facts of one parsed document."""
    builder = Builder(document.source.rel_path)
    for section in document.sections:
        walk_section(builder, section)
    return Extraction(
        source=document.source.rel_path,
        metadata=document.source.metadata,
        facts=tuple(builder.facts),
        skipped=tuple(builder.skipped),
        bold_texts=tuple(bold_texts(document)),
        definition_texts=tuple(definition_lines(document.source.text)),
    )

