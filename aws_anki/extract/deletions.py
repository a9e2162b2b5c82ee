"""Which marked spans of a line become cloze deletions (bold, highlights, an author's own clozes)."""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Mapping, Sequence

from ..cloze import CLOZE_CLOSE, CLOZE_HINT, cloze_open
from ..cloze import OPEN as AUTHOR_OPEN
from ..parse import inline_text
from ..render import inline_html
from .blanks import guessable, shown_elsewhere
from .facts import Fact
from .text import Line, WORD, escape_html, sentence_bounds, span_text

Token = Mapping[str, Any]

MAX_DELETION_SHARE = 0.6
MAX_SENTENCE_DELETION_WORDS = 4
MIN_SENTENCE_CUE_WORDS = 4  # a long deletion needs at least this many visible words in its sentence
MAX_DELETION_WORDS = 5  # a longer bold span is a phrase the author stressed, not a term to recall
MAX_DELETIONS_PER_NOTE = 20
MAX_JOINED_SPANS = 3  # as for list cards: blind readers fixed sets of 4+ asked together
# After a run of joined spans, more items of the same list (a gloss in brackets aside).
_ITEM = r"(?:[\w./-]+\s+){0,2}[\w./-]+"
_RUN_GOES_ON = re.compile(
    rf"\s*(?:\([^()]*\)\s*)?,\s*(?:(?:and|or|y|o)\s+{_ITEM}\s*(?:[.;)]|$)|{_ITEM}\s*,)", re.I
)
WHOLE_BOLD_SHARE = 0.8
# A deletion (as sentinels, see render) whose text is only blanks or empty tags, with any hint.
_EMPTY_DELETION = re.compile("\ue000\\d+\ue001(?:\\s|<[^<>]*>)*(?:\ue003[^\ue000-\ue003]*)?\ue002")

# What may stand between two bold spans that make one deletion ("**S3** and **EBS**").
_JOINERS = frozenset(("", "and", "or", "&", "/", ",", "y", "o", "+", ", and", ", or"))
_PAIR_JOINERS = frozenset(("and", "or", "&", "/", "y", "o"))  # "A or B" reads as one answer; "A, B" stays a list

# Words that carry no fact on their own: a bold span made only of these is not a deletion.
FILLER = frozenset(
    "a an the and or of to in on for with by at from as is are be been was were it this that these those there "
    "here whenever when if then also very really just can could should would will use used using you your we "
    "example examples e.g note important remember keep mind always never only not do does some any such stuff "
    "thing things actually basically quite pretty rather kind sort lot default has have had usually often sometimes "
    "generally mostly typically simply easily neat cool nice interesting "
    "associate associated separate separately bigger smaller larger faster slower cheaper more less different same "
    "multiple single both each every better best worse worst higher lower cannot can't possible easy hard key main "
    "basic simple whole entire own other another new old really burned careful either neither "
    "el la los las un una y o de del en con por para es son se que muy también".split()
)

# A bold span that opens like a clause, or a comma inside one that is no list of names.
_CLAUSE_SPAN = re.compile(
    r"^\s*(?:when|while|if|for|with|by|to|from|as|because|since|after|before|during|without|so|and|or|but|that|which|"
    r"not|no|can|will|must|should|is|are|be|used|using|create|creates|update|you|we|it|"
    r"cuando|si|para|con|por|porque)\b",
    re.I,
)


def _is_filler(text: str) -> bool:
    """Whether a bold span is only function words (nothing worth hiding)."""
    if text.isascii():  # lower-casing ASCII moves no word boundary
        return FILLER.issuperset(WORD.findall(text.lower()))
    for word in WORD.findall(text):
        if word.lower() not in FILLER:
            return False
    return True


def merge_joined(tokens: Sequence[Token], numbers: dict[int, int]) -> tuple[list[Token], dict[int, int]]:
    """Spans of one deletion joined by "and"/"or"/"&"/"/" as one span: the card shows one blank for
    "A or B", not "[...] or [...]" (blind readers marked two blanks for one answer awkward)."""
    out: list[Token] = []
    merged_numbers: dict[int, int] = {}
    per_number = Counter(numbers.get(id(t)) for t in tokens)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        number = numbers.get(id(token))
        if number is None:
            out.append(token)
            index += 1
            continue
        children, last = list(token["children"]), index
        while (
            last + 2 < len(tokens)
            and tokens[last + 1]["type"] == "text"
            and tokens[last + 1]["raw"].strip().lower() in _PAIR_JOINERS
            and numbers.get(id(tokens[last + 2])) == number
            and tokens[last + 2]["type"] == token["type"]
        ):
            children += [tokens[last + 1], *tokens[last + 2]["children"]]
            last += 2
        if (last - index) // 2 + 1 < per_number[number]:
            last = index  # "A, B and C": a list stays a list, one number over its blanks
        elif last > index and not _fits_one_blank(span_text(children), inline_text(tokens)):
            last = index  # as one blank it would hide most of the line
        span = token if last == index else {"type": token["type"], "children": children}
        out.append(span)
        merged_numbers[id(span)] = number
        index = last + 1
    return out, merged_numbers


def _fits_one_blank(hidden: str, line: str) -> bool:
    """Whether a blank of `hidden` keeps within the size limits of a deletion in `line`."""
    return len(hidden) <= MAX_DELETION_SHARE * (len(line.strip()) or 1) and len(hidden.split()) <= MAX_DELETION_WORDS


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
        text = span_text(children)
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
        if len(group) > MAX_JOINED_SPANS:
            continue  # "[A], [B], [C] and [D]" asked at once is an enumeration, not a fact
        if len(group) > 1 and _RUN_GOES_ON.match("".join(texts[group[-1] + 1 :])):
            continue  # "[A], [B], [C], and D": some items of a list, not the set
        size = words = 0
        for i in group:
            size += len(texts[i])
            words += len(texts[i].split())
        if size > MAX_DELETION_SHARE * visible or words > MAX_DELETION_WORDS:
            continue
        if words > MAX_SENTENCE_DELETION_WORDS:
            sentences = sentences or sentence_bounds(plain)
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


def drop_shown(tokens: Sequence[Token], numbers: dict[int, int], shown: Sequence[str]) -> dict[int, int]:
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


def deletion_spans(tokens: Sequence[Token], numbers: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Each deletion's (start, end) in the plain text of `tokens`, by its number."""
    spans: dict[int, tuple[int, int]] = {}
    position = 0
    for token in tokens:
        size = len(inline_text((token,)))
        number = numbers.get(id(token))
        if number is not None:
            start, _ = spans.get(number, (position, 0))
            spans[number] = (start, position + size)
        position += size
    return spans


def drop_guessable(tokens: Sequence[Token], numbers: dict[int, int], shown: Sequence[str]) -> dict[int, int]:
    """Deletions that make a fair blank (`blanks.guessable` says which do not); renumbered."""
    if not numbers:
        return numbers
    text = inline_text(tokens)
    kept = {n for n, (start, end) in deletion_spans(tokens, numbers).items() if not guessable(text, start, end, shown)}
    order = {n: i for i, n in enumerate(sorted(kept), start=1)}
    return {key: order[n] for key, n in numbers.items() if n in order}


def author_cloze_fact(line: Line, extra: str, path: tuple[str, ...], source: str) -> Fact | None:
    """Keep an author's `{{cN::text::hint}}` deletions; `::` and `}}` in code spans stay literal.

    A deletion written inside another is kept as text of the outer one, and a deletion with no text
    (`{{c1::}}`, which makes no card in Anki) is left out: the parse stage warns about both."""
    out: list[str] = []
    state = "text"  # text | deletion | hint
    depth = 0  # deletions opened inside the open one
    for token in line.tokens:
        if token["type"] != "text":
            out.append(inline_html([token]))
            continue
        raw = token["raw"]
        position = 0
        pieces: list[str] = []
        while position < len(raw):
            if state == "text":
                match = AUTHOR_OPEN.search(raw, position)
                if match is None:
                    pieces.append(escape_html(raw[position:]))
                    break
                pieces.append(escape_html(raw[position : match.start()]) + cloze_open(int(match.group(1))))
                position, state = match.end(), "deletion"
                continue
            close = raw.find("}}", position)
            hint = raw.find("::", position) if state == "deletion" and not depth else -1
            inner = AUTHOR_OPEN.search(raw, position)
            if inner is not None and all(at < 0 or inner.start() < at for at in (close, hint)):
                pieces.append(escape_html(raw[position : inner.start()]))
                position, depth = inner.end(), depth + 1
            elif hint >= 0 and (close < 0 or hint < close):
                pieces.append(escape_html(raw[position:hint]) + CLOZE_HINT)
                position, state = hint + 2, "hint"
            elif close >= 0:
                pieces.append(escape_html(raw[position:close]) + ("" if depth else CLOZE_CLOSE))
                position, depth, state = close + 2, max(depth - 1, 0), state if depth else "text"
            else:
                pieces.append(escape_html(raw[position:]))
                break
        out.append("".join(pieces))
    if state != "text":
        return None
    text = _EMPTY_DELETION.sub("", "".join(out))
    if CLOZE_CLOSE not in text:
        return None
    return Fact("cloze", text, "", extra, path, source, line.line, line.text, "author-cloze")
