"""Whether a span of a statement makes a fair blank: one a learner can answer and cannot read off
the card. Plain key terms (`plain`) and an author's bold spans (`deletions`) both ask here.

A blank is refused when it is a generic acronym, one item of a pair, series or run of values, a
name that only qualifies the noun after it, an example, a count the sentence spells out, a number
the notes call approximate or give again in another unit beside it, part of a word or of a glossed
name, shown beside itself (in the line or, as a plural or phrase, in its context), or spelled out
by the words around it. A gloss right after a blank goes into it (`with_gloss`).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

from ..services import load_catalog
from .keyterms import KeyTerm

MAX_HIDDEN_SHARE = 0.5
MAX_GLOSSED_SHARE = 0.6  # a blank with the gloss it takes along ("[SSML (Speech ...)] controls ...")


# Acronyms every AWS note uses for ordinary things: blanking one asks nothing.
GENERIC_ACRONYMS = frozenset(
    "AWS DB OS API APIS ID IDS IT UI URL URLS HTTP HTTPS JSON YAML XML CLI SDK GB MB KB TB PB VM VMS CPU RAM "
    "IO FAQ ETC OK N/A NA PC USA EU IP IPS".split()
)
# A count that the sentence goes on to spell out ("2 elements: block size and IOPS").
_SPELLED_OUT = re.compile(r"^\s*[\w-]*\s*(?::|\(|such as|like|namely|which are|-)", re.I)
_SERIES_BEFORE = re.compile(r"(?:,|\band|\bor|/)\s*(?:(?:an?|the)\s+)?[\"'“(]?\s*$", re.I)
_SERIES_AFTER = re.compile(r"^\s*[\"'”)]?\s*(?:,|and\b|or\b|/|etc\b)", re.I)
# Nouns that only one service has: the name is guessable wherever the noun is on the card.
_OWN_NOUNS = {
    "s3": re.compile(r"\bbuckets?\b", re.I),
    "sqs": re.compile(r"\bqueues?\b", re.I),
    "sns": re.compile(r"\btopics?\b", re.I),
}
# ... and one a name only qualifies when the noun comes right after it ("attach on [EC2] instances").
_OWN_NOUN_AFTER = {"ec2": re.compile(r"^\s+instances?\b", re.I)}
# Nouns that a service or acronym merely qualifies ("an S3 bucket", "the VPC settings"): the
# name is then guessable from the noun, and not the fact.
_QUALIFIED_NOUN = re.compile(
    r"^\s*(?:buckets?|settings?|console|routing|level|side|api|apis|endpoints?)\b",
    re.I,
)
# A lowercase noun right after a name (not a verb of which the name is the subject) ...
_MODIFIED_NOUN = re.compile(
    r"^\s+(?!(?:is|are|was|were|can|cannot|will|has|have|does|do|supports?|provides?|allows?|lets|uses?|runs?|"
    r"stores?|sends?|keeps?|gives?|enables?|creates?|needs?|must|should|may|might|and|or|for|to|in|on|with|by|as|"
    r"at|from|if|when|so|but|which|that|only|also|not|apart|separately|independently|too|again|directly|"
    r"automatically|first|instead|together|alone|itself)\b)[a-z][a-z-]{2,}\b"
)
# An author's bold name is taken as the fact unless the noun after it is one it names for sure.
_MARKED_MODIFIED_NOUN = re.compile(
    r"^\s+(?:instances?|roles?|users?|functions?|buckets?|queues?|topics?|tables?|addresses|clusters?)\b", re.I
)
# ... unless the sentence asks for that name: "stored in a [DynamoDB] table", "use [Kinesis] streams".
_CHOICE_BEFORE = re.compile(
    r"\b(?:in|into|to|from|with|via|using|use|uses|by|on|onto|through|behind|choose|pick|prefer|called|named)\s+"
    r"(?:an?|the|your|its|their)?\s*$",
    re.I,
)
# An example opened earlier in the same clause: what follows is its made-up values.
_EXAMPLE_BEFORE = re.compile(r"\b(?:for (?:example|instance)|e\.g\.?|eg)[^.;)]*$", re.I)
_EXAMPLE_OPEN = re.compile(r"\((?:for (?:example|instance)|e\.g\.?|eg)\b[^()]*$", re.I)  # "(for example: can't use [EMR])"
_EXAMPLE_JUST_BEFORE = re.compile(r"\b(?:e\.?g\.?|for example|for instance|such as)[,:]?\s*(?:(?:an?|the)\s+)?$", re.I)
# Units by what they measure: a number beside the same quantity in another unit of its kind is a
# conversion ("4.5 pounds, 2.1 kg"), not a second fact ("3GB RAM, 15min timeout").
_UNIT_KINDS = {
    "weight": re.compile(r"(?:kg|kgs|lbs?|pounds?|ounces?|oz|tons?|tonnes?)$", re.I),
    "length": re.compile(r"(?:km|kilomet(?:er|re)s?|mi|miles?|ft|feet|meters?|metres?|inch(?:es)?|cm|mm)$", re.I),
    "time": re.compile(r"(?:ms|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?|weeks?|months?|years?)$", re.I),
    "data": re.compile(r"(?:[kmgtpe]i?b|bytes?|bits?)$", re.I),
}
_QUANTITY = re.compile(r"~?\d[\d.,]*\s*([A-Za-z]+)")


def _quantity(text: str) -> tuple[str | None, str]:
    """The first quantity of `text`: what its unit measures ("2.1 kg" -> weight, None when not a
    known kind) and the unit word, lower-cased and singular ("" when there is none)."""
    found = _QUANTITY.search(text)
    if found is None:
        return None, ""
    unit = found.group(1)
    kind = next((kind for kind, pattern in _UNIT_KINDS.items() if pattern.match(unit)), None)
    return kind, unit.lower().rstrip("s")


def _converted_beside(term: str, before: str, after: str) -> bool:
    """Whether the quantity next to a number's blank, past a comma or slash, is the same quantity
    in another unit of its kind."""
    kind, unit = _quantity(term + after[:12])  # the number and the unit written after it
    if kind is None:
        return False
    beside = (
        re.match(r"^\s*(?:[A-Za-z]+\s*)?[,/]\s*(~?\d[\d.,]*\s*[A-Za-z]+)", after),
        re.search(r"(~?\d[\d.,]*\s*[A-Za-z]+)\s*[,/]\s*~?$", before),
    )
    for match in beside:
        if match is not None:
            other_kind, other_unit = _quantity(match.group(1))
            if other_kind == kind and other_unit != unit:
                return True
    return False


# What follows an example rather than a fact ("to access S3 for instance").
_EXAMPLE_AFTER = re.compile(r"^\W{0,3}(?:for (?:instance|example)|e\.g\.|eg\b|etc\b|or (?:so|similar))", re.I)
# A number the notes themselves call approximate or current: it drifts, it is no fact to learn.
_VOLATILE_BEFORE = re.compile(r"\b(?:currently|around|about|approximately|roughly|nearly|almost|~)\s*\(?$", re.I)
_GENERIC_WORD = re.compile(
    r"(?:instance|service|policy|policie|bucket|setting|gateway|endpoint|table|function|cluster|resource|event|log|"
    r"metric|unit|type|mode|data|record|key|account|user|group|stream|feature|option|class|tier|level|layer|rule|"
    r"role|queue|topic|volume|node|task|job)s?|amazon|aws"
)
# A count of one ("#" stands for it) beside another number, not written as a limit or a pair of values.
_ONE_BESIDE_ANOTHER = re.compile(
    r"^(?=.*(?<![\w.])\d.*#|.*#.*(?<![\w.])\d)(?!.*#\s*(?:or|and|to|-|/|&)\s)(?!.*#\s*(?:[kmgt]i?b|megabytes?|gigabytes?|million|mill?ion)\b)",
    re.I,
)
_LIMIT_BEFORE = re.compile(r"\b(?:only|max|maximum|limited to|at most|exactly|just|single|from)\s*$", re.I)
# Words that only say what kind of thing a name is: "[fan-out pattern]" under "Fan-out" is given away.
_KIND_WORDS = frozenset("pattern patterns approach technique".split())
_MONTHS = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_MONTH_AFTER = re.compile(rf"^\s+{_MONTHS}\b", re.I)
_MONTH_BEFORE = re.compile(rf"\b{_MONTHS}\s+$", re.I)
_PLACEHOLDER_NUMBER = re.compile(r"(\d)\1{4,}|1111(?:2222)?3333|123456789012")
_TRIVIAL_NUMBER = re.compile(r"(?:one|a single)(?: \w+)?", re.I)  # "at least [one] certificate"
# What announces a list before its items ("include", "such as", a colon).
_LIST_LEAD = re.compile(r":|\b(?:includes?|including|such as|like|supports?|either)\b", re.I)
_ACRONYM_AFTER = re.compile(r"^\s*\([A-Z][A-Za-z0-9]{1,7}\)")
# Two values before it (a unit word each at most), then a comma or "and"/"or": "1, 5, [10]",
# "ISO 27001, 27017 and [27018]", "300 Mbps, 400 Mbps, and [500 Mbps]".
_VALUE = r"\d[\w.%]*(?:\s[A-Za-z/]{1,6})?"
_RUN_BEFORE = re.compile(rf"{_VALUE}\s*,\s+{_VALUE}(?:\s*,(?:\s*(?:and|or))?|\s+(?:and|or))\s*$")  # "64,000" is one value
# A comma, then another short item and a list separator: "[CloudWatch Logs], S3 or both".
_LIST_AFTER = re.compile(r"^\s*,\s*(?:[\w./-]+\s+){0,3}[\w./-]+\s*(?:,|\band\b|\bor\b|$|\.)")
# The last comma of a list, the item before "and"/"or" (group 1; none after an Oxford comma), then the blank.
_LAST_ITEM_BEFORE = re.compile(r",\s*([^,\s][^,]*\s)?(?:and|or)\s+(?:(?:an?|the)\s+)?$")
_PAIR_BEFORE = re.compile(r"\b(?:[A-Z][A-Z0-9]+|[A-Z][a-z]+[A-Z]\w*)\s+(?:or|and|vs\.?|/)\s*$")
# Bold words that stress without naming anything a learner could recall.
_EMPTY_MARKS = frozenset(
    "limit|limits|flag|special flag|option|options|feature|features|way|ways|setting|settings|thing|things|optional|"
    "mandatory|required|important|only|always|never|not|no|all|any|what|which|how|when|where|why|who|yes|also|"
    "can|cannot|can't|must|should|will|same|different|both|"
    "qué|quién|quiénes|cuál|cuáles|cómo|cuándo|dónde|siempre|nunca|solo|sólo|no|sí|también".split("|")
)
# Words that make a bold span a phrase of a sentence rather than a name: prepositions, pronouns and
# auxiliaries ("of" is not one: "indicators of compromise", "bill of materials" are names). Such
# bold blanks were kept 24% of the time (52 rated, rounds 18-46), other bold blanks 58%.
_PHRASE_WORD = re.compile(
    r"\b(?:the|on|with|by|it|its|like|to|for|in|at|from|than|about|over|into|we|you|our|your|is|are|be|"
    r"can|cannot|will|does|do|not)\b",
    re.I,
)
# ... unless it is one of the terms written with one ("encryption at rest", "point-in-time recovery").
_TERM_PHRASE = re.compile(
    r"\b(?:at rest|in transit|in[- ]place|at[- ](?:least|most)[- ]once|point[- ]in[- ]time|as code|as a service|as you go|time to live|"
    r"sign[- ]on|of service|in[- ]memory|on[- ]premises?|on[- ]demand|on[- ]prem)\b",
    re.I,
)
_COMPOUND = re.compile(r"\w+(?:-\w+)+")  # "one-to-one NAT", "edge-to-edge routing": one word each
# Names of the whole platform and its console: every card is about it, so a blank on one asks nothing.
_PLATFORM_NAMES = frozenset(
    {"amazonwebservices", "awscloud", "theawscloud", "intheawscloud", "thecloud", "aws", "awsconsole", "theawsconsole",
     "awsmanagementconsole", "theawsmanagementconsole", "managementconsole", "console"}
)
# A capitalised word right after a name that goes on with it: "[ElastiCache] Redis", "[SageMaker] Linear Learner".
_NAME_GOES_ON = re.compile(r"^ (?:[A-Z][a-z]+|[A-Z]{2,})\b")
_GENERIC_AFTER = re.compile(r"^ (?:Regions?|APIs?|CPUs?|IDs?|ARNs?|URLs?|It|The|This|That|But|And|Or)\b")
_WORDS = re.compile(r"\w+")
_STOPWORDS = frozenset("a an the of to in on for with by at from and or is are be as its it this that".split())


def worth_blanking(text: str, term: KeyTerm, shown: Sequence[str], marked: bool = False) -> bool:
    """Whether a candidate makes a blank a learner can answer and cannot guess from the card: not a
    generic acronym, most of the sentence, one of a pair or series, a count spelled out right after
    it, a name that only qualifies a noun, an example, a gloss, or something the front shows.
    A `marked` span (the author's bold) has its own size limits, and is one of a series only
    between commas (a bold phrase before "and adds ..." is no list item)."""
    if term.kind == "acronym" and (term.text.upper() in GENERIC_ACRONYMS or term.text.upper().removesuffix("S") in GENERIC_ACRONYMS):
        return False
    before, after = text[: term.start], text[term.end :]
    if fold(term.text) in _PLATFORM_NAMES:
        return False  # "provided as part of [Amazon Web Services]"
    if not marked and term.kind in ("service", "acronym") and _NAME_GOES_ON.match(after) and not _GENERIC_AFTER.match(after):
        return False  # half of a longer name; the half still shown gives it away
    if not marked and len(term.text) > MAX_HIDDEN_SHARE * len(text.strip()):
        return False  # the blank would be most of the card
    glossed = with_gloss(text, term.start, term.end)
    if not marked and glossed - term.start > MAX_GLOSSED_SHARE * len(text.strip()):
        return False  # with the gloss it takes along, nearly the whole card
    if not marked and glossed == term.end and _ACRONYM_AFTER.match(text[term.end :]) and term.kind != "acronym":
        return False  # "Load Balancer [Capacity Units] (LCUs)": part of a name its acronym gives away
    if before.count("{{") > before.count("}}"):
        return False  # inside template syntax the author wrote (`{{resolve:...}}`)
    if marked:
        if _weak_mark(term, before, after):
            return False
    elif term.kind != "number" and (_SERIES_BEFORE.search(before) or _SERIES_AFTER.match(after)):
        return False  # one of a pair or a series: the other items give it away, or any of them fits
    if before[-1:].isalnum() or after[:1].isalnum():
        return False  # part of a word ("Elastic [F]ile System")
    name = term.text.lower().removeprefix("amazon ").strip()
    own, own_after = _OWN_NOUNS.get(name), _OWN_NOUN_AFTER.get(name)
    if (own is not None and own.search(before + after)) or (own_after is not None and own_after.match(after)):
        return False  # "[S3] ... your bucket"
    if not marked and (_EXAMPLE_JUST_BEFORE.search(before) or _EXAMPLE_OPEN.search(before)):
        return False  # "(eg. [ELB])": any other example fits the blank as well
    if term.kind in ("acronym", "service") and _PAIR_BEFORE.search(before):
        return False  # "CPU or [GPU]": the other half of a pair is a giveaway
    if before.endswith(("/", "-", ".")) or after.startswith(("/", "-", ".")) and after[1:2].isalnum():
        return False  # half of a pair written `RCU/WCU`, of a compound (`SSE-KMS`) or of a host name
    if term.text.count("(") != term.text.count(")") or (before.rstrip().endswith("(") and after.lstrip().startswith(")")):
        return False  # a gloss in brackets, or a blank that cuts through them
    qualifying = ("service", "acronym") if marked else ("service", "acronym", "term")
    if term.kind in qualifying and _QUALIFIED_NOUN.match(after):
        return False
    modified = _MARKED_MODIFIED_NOUN if marked else _MODIFIED_NOUN
    if term.kind in ("service", "acronym") and modified.match(after) and not _CHOICE_BEFORE.search(before):
        return False  # "Scaling [EC2] instances", "an [IAM] role": a name that only qualifies the noun after it
    if not marked and term.kind in ("service", "acronym", "term", "code", "quoted") and _EXAMPLE_AFTER.match(after):
        return False  # "to access [S3] for instance" (an author does not bold an example)
    if term.kind in ("code", "quoted") and any(c in term.text for c in "*?"):
        return False  # a pattern given as an example
    if term.kind in ("code", "quoted") and term.text.startswith(("../", "./")):
        return False  # a path to another file of the notes: a pointer, not a fact
    if term.kind == "number" and _unfit_number(term.text, before, after, marked):
        return False
    return not (_shown_in_line(text, term, before, after, glossed) or _shown_in_context(term, shown, marked))


def _weak_mark(term: KeyTerm, before: str, after: str) -> bool:
    """Whether an author's bold span is no term to blank: a word that names nothing, a phrase of a
    sentence, or an item of a list written out around it."""
    if term.text.casefold() in _EMPTY_MARKS:
        return True  # a word the author stressed that names nothing ("there is a [limit]", "an [optional] file")
    if " " in term.text.strip() and _PHRASE_WORD.search(_TERM_PHRASE.sub("", _COMPOUND.sub("", term.text))) and not re.search(r"\d", term.text):
        return True  # a stressed phrase, not a term: "[manages the overhead]", "[encrypted at rest]"
    if term.kind == "number":
        return False
    listing = _LIST_LEAD.search(before) is not None or before.count(",") >= 2
    if listing and (re.search(r",\s*$", before) or _LIST_AFTER.match(after)):
        return True  # an item of a list written out around it
    # the last item of one: "A, B and [C]", "A, B and the [C]", or "A, B, and [C]" when B is short
    # (a list, not a clause)
    last = _LAST_ITEM_BEFORE.search(before)
    if last is None:
        return False
    return last.group(1) is not None or (before.count(",") >= 2 and len(before.rsplit(",", 2)[1].split()) <= 4)


def _unfit_number(number: str, before: str, after: str, marked: bool) -> bool:
    """Whether a number is no fact to blank: one value of a run, a count the sentence spells out, a
    trivial, approximate or example value, or a quantity given again in another unit beside it."""
    if _RUN_BEFORE.search(before) or (re.search(r",\s*$", before) and (re.match(r"^\s*,", after) or re.search(r"\d\s*,\s*$", before))):
        return True  # one value of a run of values ("50, 100, [200], 300 Mbps", "RAID 5, [6]", "27001, 27017 and [27018]")
    # The author's bold says a number is the fact, even an approximate one or one glossed after it.
    if not marked and _SPELLED_OUT.match(after[:40]) and re.match(r"^\s*\d{1,2}\b", number):
        return True
    if number.strip() == "1" and _ONE_BESIDE_ANOTHER.search(before + "#" + after) and not _LIMIT_BEFORE.search(before):
        return True  # "[1] master and up to 15 replicas": the other number is the fact, not the count of one
    if _MONTH_AFTER.match(after) or _MONTH_BEFORE.search(before):
        return True  # "[27] January 2026": the day of a date, not the fact (the whole date would be)
    if _PLACEHOLDER_NUMBER.fullmatch(number.strip()):
        return True  # "account 111122223333", "account 11111": an example's made-up ID
    if _TRIVIAL_NUMBER.fullmatch(number) or (not marked and _VOLATILE_BEFORE.search(before)):
        return True
    if re.search(r"\bbetween\s+$", before, re.I) and number.strip().lower() in ("two", "2"):
        return True  # "between [two] VPCs": "between" says there are two
    if not marked and _EXAMPLE_BEFORE.search(before):
        return True  # a value of a worked example ("for example, 40-60 step1, [60-80] step2")
    if before.count("(") > before.count(")") and _converted_beside(number, before, after):
        return True  # the same quantity in another unit beside it ("Light ([4.5] pounds, 2.1 kg)")
    if _SERIES_BEFORE.search(before) is None and re.match(r"^\s*,\s*\d", after):
        return True  # the first of a run of example values ("(0, 1, ...)")
    return False


def _shown_in_line(text: str, term: KeyTerm, before: str, after: str, glossed: int) -> bool:
    """Whether the rest of the line gives a blank away: the term again or in another form, its
    stem, its words, its acronym or the words its acronym stands for."""
    if _occurrences(text.casefold(), term.text.casefold()) > 1 or (_inflected(term) and f" {_stems(term.text)} " in f" {_stems(before)} {_stems(after)} "):
        return True  # shown beside its own blank, or another form of it ("[LOB modes] ...: full LOB mode")
    if term.text.isalpha() and term.text.islower() and _extends_shown_word(term.text, before + " " + after):
        return True  # "SMS is [agentless], there is no agent to download"
    if term.kind not in ("code", "quoted", "number") and term.text.islower() and _words_beside(term.text, before + " " + after):
        return True  # "scaled vertically and horizontally, but when you [scale horizontally]"
    if term.kind != "acronym" and _acronym_beside(term.text, before + " " + text[glossed:]):
        return True  # "Multi AZ keeps a copy in a separate [Availability Zone]"
    if term.kind == "acronym" and term.text[0].isupper() and _spelled_out(before + " " + text[glossed:], term.text):
        return True  # "Infrastructure as a service ([IaaS])": the words beside it spell it
    return False


def _shown_in_context(term: KeyTerm, shown: Sequence[str], marked: bool) -> bool:
    """Whether the card's context spells a blank out: an acronym's words, or every distinctive word."""
    if term.kind == "acronym" and term.text.rstrip("s").upper() in _initials(shown):
        return True  # "SCP" under "Service control policies"
    # Every distinctive word of the term already in the context ("spot instances" under "Spot
    # training"): the context gives the answer away.
    words = {w for w in re.findall(r"\w{3,}", term.text.casefold()) if w not in _STOPWORDS and not _GENERIC_WORD.fullmatch(w)}
    if words:
        context = _WORDS.findall(" ".join(shown).casefold())
        if marked:  # every word, whole: "Tag policies" under "Bulk tagging" still asks something
            singular = {_singular(c) for c in context}
            marked_words = {w for w in re.findall(r"\w{2,}", term.text.casefold()) if w not in _STOPWORDS and w not in _KIND_WORDS}
            if marked_words and all(_singular(w) in singular for w in marked_words):
                return True
        elif all(any(c.startswith(w) for c in context) for w in words):
            return True
    return False


_ACRONYM = re.compile(r"[A-Z][A-Z0-9]{1,5}s?")


def guessable(text: str, start: int, end: int, shown: Sequence[str]) -> bool:
    """Whether an author's marked span (bold) makes a blank the card gives away or that asks for
    nothing: the checks a plain key term passes (`worth_blanking`), on the span as it stands."""
    part = text[start:end]
    if re.match(r"[~<>≈]?\d", part):
        kind = "number"
    elif _ACRONYM.fullmatch(part):
        kind = "acronym"
    elif _names_service(part, text[:start], text[end:]):
        kind = "service"
    else:
        kind = "term"
    return not worth_blanking(text, KeyTerm(start, end, kind, part), shown, marked=True)


def _names_service(part: str, before: str, after: str) -> bool:
    """Whether a marked span is an AWS service's name, asked only where that changes the verdict
    (before a noun it would qualify, or after the other half of a pair): the catalog lookup is
    the dearest check of a bold line."""
    if not (_QUALIFIED_NOUN.match(after) or _MARKED_MODIFIED_NOUN.match(after) or _PAIR_BEFORE.search(before)):
        return False
    return any(a == 0 and b == len(part) for a, b, _ in load_catalog().mentions(part))


def _words_beside(term: str, text: str) -> bool:
    """Whether every word of a blank of two words or more stands in `text` too, in some form
    (its first five letters): the card spells the answer out around the blank."""
    words = [w for w in re.findall(r"[a-z]{3,}", term.casefold()) if w not in _STOPWORDS]
    if len(words) < 2:
        return False
    shown = {w[:5] for w in re.findall(r"[a-z]{3,}", _CAMEL.sub(" ", text).casefold())}
    return all(w[:5] in shown for w in words)


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")  # "MessageGroupId" is the words "Message Group Id"


def _acronym_beside(term: str, text: str) -> bool:
    """Whether the initials of a blank's words (all capitalised or all lower case) are an acronym
    written in `text` ("Availability Zone" beside "AZ", "AWS WAF is a [web application firewall]")."""
    words = re.findall(r"[A-Za-z][\w-]*", term)
    cased = {w[0].isupper() for w in words if w.lower() not in _STOPWORDS}
    if len(words) < 2 or len(cased) != 1:
        return False  # "Availability Zone" or "web application firewall", not "Amazon route tables"
    words = [w for w in words if w.lower() not in _STOPWORDS]
    # ... also the name at the end of a longer blank ("layer 7 [web application firewall]" beside "WAF")
    endings = {"".join(w[0] for w in words[start:]).upper() for start in range(len(words) - 1)}
    written = set(_WORDS.findall(text))
    return any(initials in written or f"{initials}s" in written for initials in endings)


def _extends_shown_word(word: str, text: str) -> bool:
    """Whether a one-word blank is a word of `text` (five letters or more) with an ending added
    ("agentless" beside "agent"): the card shows its stem. Asked of plain lowercase words only
    (an identifier such as `UpdateStack` beside "update" is still the fact)."""
    folded = word.casefold()
    return any(len(w) >= 5 and folded != w and folded.startswith(w) for w in _WORDS.findall(text.casefold()))


def _spelled_out(text: str, acronym: str) -> bool:
    """Whether consecutive words of `text` (small words aside) spell `acronym` by their initials."""
    letters = acronym.rstrip("s").upper()
    return len(letters) >= 2 and letters in _initial_letters(text).upper()


def _initial_letters(text: str) -> str:
    """The first letter of each word of `text` but small words, in order (one letter a word, so a
    run of them is a run of words)."""
    return "".join(w[0] for w in re.findall(r"[A-Za-z][\w-]*", text) if w.lower() not in _STOPWORDS)


# What glosses a term in brackets right after it: its acronym ("Service Control Policy (SCP)"), or
# the words an acronym stands for ("WAF (Web Application Firewall)").
_GLOSS_AFTER = re.compile(r"^\s*\(([A-Z][A-Za-z0-9]{1,7}|[A-Za-z][\w-]*(?: [\w-]+){1,6}|~?\d[\d.,]*\s*[A-Za-z]+)\)")


def with_gloss(text: str, start: int, end: int) -> int:
    """The end of a blank that takes the gloss after it along ("[Service Control Policy (SCP)]",
    "[WAF (Web Application Firewall)]"): left outside, the gloss spells the answer."""
    gloss = _GLOSS_AFTER.match(text[end:])
    if gloss is None:
        return end
    inside, term = gloss.group(1), text[start:end].strip()
    if inside.lstrip("~")[:1].isdigit():  # "[6 hours] (21,600 seconds)": the same quantity again
        return end + gloss.end() if any(c.isdigit() for c in term) else end
    if " " not in inside and _abbreviates(inside, term):
        return end + gloss.end()
    if _SHORT_NAME.fullmatch(term) and _expands(term, inside):
        return end + gloss.end()  # "[IDP] (Identity Provider)"
    initials = _initial_letters(inside)
    # the acronym the term holds: "DPU" of "DPU-hour", "MWAA" of "Amazon MWAA"
    acronyms = re.findall(r"\b[A-Z][A-Z0-9]+", term)
    if any(initials.upper() == acronym.rstrip("S").upper() for acronym in acronyms):
        return end + gloss.end()
    return end


_SHORT_NAME = re.compile(r"(?=(?:[^A-Z]*[A-Z]){2})[A-Za-z0-9]{2,8}")  # "IDP", "IdP", "CMKs"


def _expands(acronym: str, words: str) -> bool:
    """Whether `words` read as what `acronym` stands for: two or more words, the first and the last
    starting with its first and last letters ("Identity Provider" for "IDP")."""
    parts = [w for w in re.findall(r"[A-Za-z][\w-]*", words) if w.lower() not in _STOPWORDS]
    letters = acronym.rstrip("s").upper()
    return len(parts) >= 2 and len(letters) >= 2 and parts[0][0].upper() == letters[0] and parts[-1][0].upper() == letters[-1]


def _inflected(term: KeyTerm) -> bool:
    """Whether a term's words can stand elsewhere in another form (a plural, a phrase): not a code
    span, a quote or a number, which are matched as written."""
    if term.kind in ("code", "quoted", "number"):
        return False
    folded = term.text.casefold()
    return " " in folded or _singular(folded) != folded


def _abbreviates(acronym: str, words: str) -> bool:
    """Whether `acronym` is made of the initials of `words`, in order, starting with the first
    ("LCU" of "Load Balancer Capacity Units", "CRR" of "Cross-Region Replication")."""
    letters = [c for c in acronym.rstrip("s") if c.isupper() or c.isdigit()]
    initials = [w[0].upper() for w in re.findall(r"[A-Za-z0-9]+", words) if w.lower() not in _STOPWORDS]
    if not letters or not initials or letters[0] != initials[0]:
        return False
    found = iter(initials)
    return all(any(letter == initial for initial in found) for letter in letters)


def _occurrences(text: str, part: str) -> int:
    """How often `part` stands in `text` as whole words (no letter or digit glued on either side)."""
    count, start = 0, text.find(part)
    while start >= 0 and part:
        end = start + len(part)
        if (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            count += 1
        start = text.find(part, start + 1)
    return count


def _initials(shown: Sequence[str]) -> set[str]:
    """The acronyms the card's context spells out: initials of each heading, and of its parts."""
    found: set[str] = set()
    for text in shown:
        for part in re.split(r"[()›:,/&-]", text):
            words = [w for w in re.findall(r"[A-Za-z]\w*", part) if w.lower() not in _STOPWORDS]
            if len(words) >= 2:
                found.add("".join(w[0] for w in words).upper())
    return found


_FOLD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Text compared as a reader sees it: case, hyphens, spaces and punctuation ignored."""
    return _FOLD.sub("", text.casefold())


def _singular(word: str) -> str:
    """An English plural's singular, roughly: enough to see "Task Definition" in "tasks definitions"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


@lru_cache(maxsize=4096)  # the headings of a section are compared with each of its blanks
def _stems(text: str) -> str:
    """Text as `fold` sees it, each word made singular, words separated by one space."""
    return " ".join(_singular(w) for w in _FOLD.sub(" ", text.casefold()).split())


def shown_elsewhere(term: str, shown: Sequence[str]) -> bool:
    """Whether a deletion's text is already on the front (in a heading of its context): as whole
    words (singular or plural), or ignoring spaces and hyphens when it is long enough not to match
    by chance."""
    folded = fold(term)
    if not folded:
        return False
    words = f" {_stems(term)} "
    for text in shown:
        other = fold(text)
        if other == folded or other == folded.removesuffix("s"):
            return True
        if len(folded) >= 5 and folded in other:
            return True
        if words in f" {_stems(text)} ":
            return True
    return False
