"""Key terms of one plain statement: what a cloze card on it could blank, best first.

A learner sees the statement with the chosen term replaced by ``[...]``, so a term must be the fact
worth recalling, guessable from the rest of the statement plus its heading, and not visible
elsewhere on the card. ``key_terms`` finds the candidates and ranks them (best first):

1. numbers with a unit or a limit: ``5 minutes``, ``15 min``, ``256 KB``, ``99.999999999%``,
   ``1 MB/s``, ``3 AZs``, ``128-bit``, ``$0.01 per GB``, ranges (``3-63 characters``), counts of
   countable AWS things (``10 messages``, only the number is blanked) and any number after ``up to``,
   ``at most``, ``at least``, ``maximum of``, ``hasta``... (the limit word stays visible: only the
   number and its unit are blanked). A numeric default (``default is 4 days``, ``30 seconds by
   default``) comes first of all, with kind ``default``;
2. other defaults: the value before "by default"/"por defecto" ("Versioning is off by default")
   or after "default is/defaults to/default:" ("the default class is Standard");
3. AWS services and features named in the text (from the catalog), other than the card's subject;
4. plain counts without a unit ("2 types": only the number), weaker than services;
5. acronyms and expansions: in "Key Management Service (KMS)" the expansion, then the acronym
   (each card shows the other); then standalone capital acronyms (``TTL``, ``FIFO``, ``ACLs``) that
   are not shouted ordinary words;
6. code spans (offsets given by the caller), then quoted terms ("...", “...”, '...', «...»);
7. (weakest) capitalised proper terms not opening a sentence: ``Reserved Instances``,
   ``Multi-AZ``.
Ties keep the order of the text. The result never overlaps: a candidate overlapping a better one
is dropped.

Never a term: one equal to or inside a text of ``avoid`` (what the card's front already shows;
compared ignoring case, hyphens, spaces and a plural "s"), one naming an avoided service, one that
occurs twice in the statement (the same service under two names counts twice, except for an
acronym and its expansion), and one hiding more than about half the statement's words. Not number
facts: years, versions inside names (``Python 3.12``, ``Route 53``, ``SHA-256``, ``S3``, ``T2``),
list markers, IP addresses and times of day. English and Spanish units and phrases are known.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..services import Catalog, load_catalog

KINDS = ("number", "default", "service", "acronym", "expansion", "code", "quoted", "term")

# Ranks (lower is better); see the module docstring.
_RANK_DEFAULT_NUMBER = 0
_RANK_NUMBER = 1
_RANK_DEFAULT = 2
_RANK_SERVICE = 3
_RANK_COUNT = 4
_RANK_EXPANSION = 5
_RANK_ACRONYM_PAIR = 6
_RANK_ACRONYM = 7
_RANK_CODE = 8
_RANK_QUOTED = 9
_RANK_TERM = 10

_PAIRED_RANKS = frozenset((_RANK_EXPANSION, _RANK_ACRONYM_PAIR))
_NEVER_SERVICES = frozenset(("number", "quoted"))

MAX_TERM_SHARE = 0.5  # a term may hide at most about half of the statement's words
MAX_MATCHER_CACHE = 8
MAX_AVOID_CACHE = 4096


@dataclass(frozen=True)
class KeyTerm:
    """One candidate deletion: character offsets into the statement, its kind and its text."""

    start: int
    end: int
    kind: str
    text: str


class _Candidate(NamedTuple):
    """A candidate before filtering: rank, span, kind and the service it names (or -1)."""

    rank: int
    start: int
    end: int
    kind: str
    service: int = -1


# Numbers ------------------------------------------------------------------------------------

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_WORD_NUMBERS = (
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty hundred "
    "uno una dos tres cuatro cinco seis siete ocho nueve diez doce quince veinte treinta cuarenta cincuenta cien"
)
_WORD_NUM = r"\b(?i:" + "|".join(_WORD_NUMBERS.split()) + r")\b"
# Units written after a space, a hyphen or nothing ("5 minutes", "128-bit", "256KB").
_LONG_UNITS = (
    r"milliseconds?|millisecs?|msecs?|ms|microseconds?|µs|nanoseconds?|seconds?|secs?|minutes?|mins?|hours?|hrs?|"
    r"days?|weeks?|months?|years?|yrs?|"
    r"milisegundos?|segundos?|minutos?|horas?|d[ií]as?|semanas?|mes(?:es)?|años?|"
    r"bits?|bytes?|[kmgtpe]i?b|[kmgtp]bps|bps|[kmgt]bits?|[kmg]hz|"
    r"percent|por\s?ciento|nines|9'?s|times|veces|"
    r"azs?|availability\s+zones?|zonas?\s+de\s+disponibilidad|regions?|regiones|vcpus?|cpus?|cores?|iops|tps|rps|"
    r"rcus?|wcus?|characters?|chars|caracteres|digits?|d[ií]gitos|usd|dollars?|cents?|euros?"
)
_UNIT = rf"(?:\s?[%$€£]|[\s-]?(?i:{_LONG_UNITS})(?![\w'’])|(?:ms|s|m|h|d|w|y|x)(?![\w'’]))"
_RATE_WORDS = (
    r"s|sec|second|min|minute|h|hr|hour|day|week|month|mo|year|yr|[kmgtp]b|gb-month|"
    r"segundo|minuto|hora|d[ií]a|semana|mes|año"
)
_RATE = rf"(?:\s?/\s?(?i:{_RATE_WORDS})\b|\s(?i:per|por|a|an|each|cada)\s(?i:{_RATE_WORDS})\b)"
_NUMBER = re.compile(
    rf"(?<![\w.,/:#^-])"
    rf"(?:(?P<money>[$€£]\s?{_NUM}(?:[kKM](?!\w)|\s(?i:thousand|million|billion))?)"
    rf"|(?P<num>{_NUM}(?P<range>\s?(?:-|–|—|\sto\s|\sa\s)\s?{_NUM})?|{_WORD_NUM})"
    rf"(?P<mult>[kKM](?![\w'’])|\s(?i:thousand|million|billion|trillion|mil|millones)(?!\w))?)"
    rf"(?P<unit>{_UNIT})?(?P<rate>{_RATE})?"
    rf"(?![\w'’^])(?![.,:/]\d)"
)
_LIMIT_BEFORE = re.compile(
    r"(?:\b(?:up\s+to|at\s+most|at\s+least|no\s+more\s+than|not\s+more\s+than|more\s+than|less\s+than|fewer\s+than|"
    r"over|under|above|below|between|within|max(?:imum)?|min(?:imum)?|limit(?:ed)?|hasta|como\s+m[áa]ximo|"
    r"como\s+m[íi]nimo|al\s+menos|m[áa]ximo|m[íi]nimo|m[áa]s\s+de|menos\s+de|entre|l[íi]mite)"
    r"(?:\s+(?:of|to|is|are|=|de|es))?\s*[:=]?\s*|\b(?:max|min)\.\s*|(?<![=-])[<>≤≥]=?\s*)$",
    re.I,
)
_YEAR = re.compile(r"(?:19|20)\d\d")
# A word right before a bare number that makes it a label or a version ("step 3", "version 2").
_LABEL_WORDS = frozenset(
    "version v step option phase part chapter section figure fig lab page line question module lesson tier level "
    "gen generation type class no number nr layer python node java ruby go php ubuntu windows ipv paso opción "
    "opcion fase parte capítulo capitulo sección seccion versión pregunta página pagina nivel tipo".split()
)
# Countable things whose count is a fact even without a unit ("10 messages per batch").
_COUNT_NOUNS = frozenset(
    "request requests message messages transaction transactions call calls connection connections record records "
    "item items event events invocation invocations execution executions operation operations write writes read "
    "reads retry retries attempt attempts instance instances node nodes shard shards partition partitions target "
    "targets rule rules user users account accounts bucket buckets queue queues topic topics subscription "
    "subscriptions tag tags key keys snapshot snapshots volume volumes subnet subnets vpcs ip ips address addresses "
    "port ports function functions layer layers replica replicas copies copy consumer consumers producer "
    "producers group groups member members policy policies role roles table tables index indexes indices "
    "attribute attributes dimension dimensions metric metrics alarm alarms stage stages state states endpoint "
    "endpoints interface interfaces certificate certificates domain domains record-sets parameter parameters "
    "secret secrets environment environments concurrent simultaneous "
    "peticiones solicitudes mensajes instancias transacciones llamadas conexiones registros elementos eventos "
    "ejecuciones operaciones escrituras lecturas reintentos intentos nodos particiones reglas usuarios cuentas "
    "colas réplicas replicas copias funciones capas".split()
)
_RATE_AHEAD = re.compile(r"^\s*(?:[\w-]+\s+){0,2}?(?:per|each|every|a|an|por|cada|/)\s*(?:\w|$)", re.I)
_NEXT_WORDS = re.compile(r"\s*([\w-]+)(?:\s+([\w-]+))?")
_LIST_MARKER = re.compile(r"[.)](?:\s|$)")

# Defaults -----------------------------------------------------------------------------------

_DEFAULT_WORD = re.compile(r"default|defecto|predetermin", re.I)
_DEFAULT_LEAD = re.compile(
    r"(?:\bdefaults?\s*[:=(]?\s*"
    r"|\bdefaults?(?:\s+[\w-]+){0,3}\s+(?:is|are|was|of|=|to|es|son|será)\s+(?:of\s+|de\s+)?"
    r"|\bdefaults?(?:\s+[\w-]+){0,3}\s*[:=]\s*"
    r"|\b(?:por\s+defecto|predeterminad[oa]s?)(?:\s+(?:es|son|de|:|=))?\s*(?:de\s+)?"
    r"|\b(?:valor|value)\s+(?:por\s+defecto|predeterminado|default)\s*(?:es|is|:|=)?\s*)$",
    re.I,
)
_DEFAULT_TAIL = re.compile(
    r"\s*,?\s*(?:by\s+default|por\s+defecto|de\s+forma\s+predeterminada|\(\s*(?:by\s+|the\s+)?default\s*\)"
    r"|\(\s*(?:por\s+defecto|predeterminad[oa])\s*\))",
    re.I,
)
# "X is VALUE by default", "X es VALUE por defecto".
_DEFAULT_BEFORE = re.compile(
    r"\b(?:is|are|es|son|est[áa]n?|be)\s+(?:de\s+)?(?P<value>[^\s,.;:()!?][^,.;:()!?]{0,40}?)\s*,?\s*\(?"
    r"(?:by\s+default|por\s+defecto|de\s+forma\s+predeterminada)\b",
    re.I,
)
# "VALUE (default)".
_DEFAULT_PAREN = re.compile(
    r"(?<![\w-])(?P<value>[^\W\d_][\w-]*)\s*\((?:the\s+|by\s+)?(?:default|por\s+defecto)\)", re.I
)
# "default is VALUE", "defaults to VALUE", "the default class: VALUE", "por defecto es VALUE".
_DEFAULT_AFTER = re.compile(
    r"\b(?:defaults?(?:\s+(?!(?:you|we|they|it|i|get|gets|have|has|use|uses|is|are)\b)[\w-]+){0,3}?"
    r"\s*(?:\sis|\sare|\sto|\ses|\sson|=|:)"
    r"|(?:por\s+defecto|predeterminad[oa])\s*(?:es|son|=|:))\s+(?:de\s+)?",
    re.I,
)
# "By default, X is VALUE" (opening a sentence or a clause).
_DEFAULT_CLAUSE = re.compile(
    r"(?:^|(?<=[,;:(.!?])\s*)(?:by\s+default|por\s+defecto),?\s+(?!and\b|or\b|but\b|y\b|o\b)[^,.;:!?()]{1,40}?"
    r"\s(?:is|are|es|son|est[áa]n?)\s+(?:de\s+)?",
    re.I,
)
_VALUE_WORD = re.compile(r"[\w@'’\"“”-]+")
_VALUE_STOP = frozenset(
    "and or but so which that if when unless for in on with to by at from than because while as within without "
    "into onto over under across between after before during about like via inside outside through "
    "y o pero que si cuando para en con por desde porque mientras".split()
)
_VALUE_BAD_START = frozenset(
    "be been being it this that these those there here also only just then used set created applied a an the "
    "called named so its their your our".split()
)
# Participles that are settings ("the default is encrypted").
_DEFAULT_STATES = frozenset(
    "enabled disabled encrypted unencrypted denied allowed blocked activated deactivated locked unlocked "
    "versioned unversioned signed unsigned compressed uncompressed hidden open".split()
)
_ARTICLE = frozenset("the a an el la los las un una".split())

# Acronyms and expansions --------------------------------------------------------------------

_CAPITALS = re.compile(r"[A-Z][^A-Z\s]{0,8}[A-Z0-9]")  # what any acronym needs
_ACRONYM_DASH = re.compile(r"(?<![\w@&/.-])([A-Z][A-Za-z0-9]{1,9}?)(s?)\s*(?::|=|\s[-–—]|\s?->)\s*(?=\w)")
_PAREN_ACRONYM = re.compile(r"\(\s*([A-Z][A-Za-z0-9]{1,9}?)(s?)\s*\)")
_ACRONYM_PAREN = re.compile(r"(?<![\w@&/-])([A-Z][A-Za-z0-9]{1,9}?)(s?)\s*\(([^()]{3,80})\)")
_ACRONYM = re.compile(r"(?<![\w@&/.'’-])([A-Z][A-Z0-9]{1,7})(s?)(?![\w@&'’-])")
_EXPANSION_WORD = re.compile(r"[^\W_][\w'’]*(?:-[^\W_][\w'’]*)*")
_EXPANSION_STOP = frozenset("of and for the a an as in on to & de del la el y para en por".split())
# All-capitals words that are ordinary words, units or the vendor, not acronyms worth a card.
_NOT_ACRONYMS = frozenset(
    "AWS AMAZON OK NOT NO NOR YES AND OR BUT THE IS ARE WAS BE IT IF ON IN AT TO OF BY FOR AS DO DONT DOES ALL ANY "
    "ONLY MUST NEVER ALWAYS NOTE TIP TODO FYI ASAP IMO IMHO TLDR BTW ETC VS YOU YOUR WE US OUR CAN CANT WILL "
    "ONE TWO NEW OLD BIG HIGH LOW FAST SLOW FREE BEST GOOD BAD VERY MORE MOST LESS SAME WHY HOW WHAT WHEN "
    "WHERE WHO THIS THAT THESE WITH FROM INTO OUT UP OFF NOW THEN ELSE HAS HAVE HAD USE NEED NEEDS KEY KEYS "
    "MAX MIN TRUE FALSE NULL NONE NA TBD WARNING ERROR DONE PRO CON PROS CONS AM PM II III IV VI VII VIII IX "
    "PER EACH EVERY ONCE ITEM BASIS ALSO JUST "
    "KB MB GB TB PB EB KIB MIB GIB TIB PIB KBPS MBPS GBPS BPS MS GHZ MHZ USD EUR "
    "SI Y O EL LA LOS LAS UN UNA DE DEL EN ES SON QUE CON POR PARA MUY".split()
)
# Acronyms that stay acronyms in a shouted (mostly capitals) statement.
_KNOWN_ACRONYMS = frozenset(
    "ACL ACLS AMI API ARN ASG AZ AZS CDN CIDR CLI CORS CPU CRR DDOS DNS EBS ENI EIP FIFO HA HPC HTTP HTTPS IAM "
    "IOPS IP IPS IPV JSON JWT KMS LB MFA NAT NACL OAI OAC OIDC OU RAID REST RPO RTO SAML SCP SDK SLA SSE SSH SSL "
    "SSO TCP TLS TTL UDP URI URL UUID VPC VPN WAF XML YAML OLAP OLTP AVRO OAUTH UEFI IOT AES RSA ECDSA ODBC JDBC "
    "ETL ELT AMQP MQTT SMTP IMAP POP LDAP RDP ICMP ARP BGP VLAN SAAS PAAS IAAS FAAS CAAS ACID BASE CRUD".split()
)
_SHOUTED_WORD = re.compile(r"\b[A-Z]{2,}\b")
_ALPHA_WORD = re.compile(r"\b[^\W\d_]{2,}\b")

# Code, quotes and proper terms --------------------------------------------------------------

_QUOTED = re.compile(
    r"\"(?P<a>[^\"\s][^\"]{0,58}?)\"|“(?P<b>[^”\s][^”]{0,58}?)”|«(?P<c>[^»\s][^»]{0,58}?)»"
    r"|(?<![\w'’])'(?P<d>[^'\s][^']{0,58}?)'(?![\w'’])|(?<![\w'’])‘(?P<e>[^’\s][^’]{0,58}?)’(?![\w'’])"
)
MAX_QUOTED_WORDS = 6
_PROPER_HINT = re.compile(r"[A-Z][\w'’-]* [A-Z]|[A-Z][a-z]+-[A-Z0-9]")  # what any proper term needs
_PROPER_WORD = re.compile(r"(?<![\w@&/.'’-])[A-Z][\w'’]*(?:-[\w'’]+)*(?![\w@&/'’-])")
_HYPHEN_PROPER = re.compile(r"^[A-Z][a-z]+(?:-[A-Z0-9][\w]*)+$")
_PROPER_STOP = frozenset(
    "I A An The This That These Those It Its If When Then And Or But So For In On At To Of By With From As Is Are "
    "Note Tip Yes No Not Also Only All Each Every Some Any You Your We Our They There Here What Why How "
    "El La Los Las Un Una Es Son Si Por Para Con En Y O".split()
)
_IMPERATIVES = frozenset(
    "Use Enable Disable Create Buy Choose Pick Set Configure Deploy Add Attach Run Select Launch Apply Store Send "
    "Move Prefer Consider Avoid Turn Put Keep Call Grant Assign Allow Deny Block Install Register Request Purchase "
    "Usa Usar Activa Crea Elige Configura Compra".split()
)
MAX_PROPER_WORDS = 4
_SENTENCE_END_CHARS = frozenset(".!?:;•")
_START_STRIP = " \t\"'“‘«(¿¡*>"

# Words and repeats --------------------------------------------------------------------------

_WORDS = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")
_SQUASH = re.compile(r"[\W_]+")
_ASCII_PUNCTUATION = str.maketrans("", "", "".join(chr(c) for c in range(128) if not chr(c).isalnum()))


def key_terms(
    text: str,
    *,
    code_spans: Sequence[tuple[int, int]] = (),
    avoid: Sequence[str] = (),
    catalog: Catalog | None = None,
) -> list[KeyTerm]:
    """Candidate deletions of one plain statement, best first, never overlapping."""
    total_words = len(_WORDS.findall(text))
    if total_words < 2:
        return []
    matcher = _matcher(catalog or load_catalog())
    lowered = text.lower()
    services = matcher.scan(text)
    numbers = [n for n in _numbers(text, lowered) if not any(s.start < n.end and n.start < s.end for s in services)]
    candidates = numbers + services
    if _DEFAULT_WORD.search(text):
        candidates += _defaults(text, numbers)
    if _CAPITALS.search(text):
        candidates += _acronyms(text)
    codes = [_Candidate(_RANK_CODE, s, e, "code") for s, e in code_spans if 0 <= s < e <= len(text)]
    if codes:  # a code span is blanked whole or not at all: nothing else inside it
        candidates = [c for c in candidates if not any(k.start < c.end and c.start < k.end for k in codes)]
        candidates += codes
    candidates += _quoted(text)
    if _PROPER_HINT.search(text):
        candidates += _proper_terms(text, services)
    if not candidates:
        return []
    avoided_texts, avoided_services = matcher.avoid_info(tuple(avoid))
    limit = max(1, int(total_words * MAX_TERM_SHARE + 0.5))
    mentions: dict[int, int] = {}
    for service in services:
        mentions[service.service] = mentions.get(service.service, 0) + 1
    chosen: list[_Candidate] = []
    for candidate in sorted(candidates, key=lambda c: (c.rank, c.start, -c.end)):
        start, end = _trim(text, candidate.start, candidate.end)
        if start >= end or any(start < other.end and other.start < end for other in chosen):
            continue
        term = text[start:end]
        if (not term.isalnum() and len(_WORDS.findall(term)) > limit) or _avoided(term, avoided_texts):
            continue
        if _occurrences(lowered, term.lower()) > 1:
            continue
        named = candidate.service
        if named < 0 and candidate.kind not in _NEVER_SERVICES and (avoided_services or mentions):
            named = matcher.service_index(term)
        if named >= 0 and named in avoided_services:
            continue  # the card's own subject
        if named >= 0 and mentions.get(named, 0) > 1 and candidate.rank not in _PAIRED_RANKS:
            continue  # the same service under another name stays visible (but for an acronym and its expansion)
        chosen.append(candidate._replace(start=start, end=end))
    return [KeyTerm(c.start, c.end, c.kind, text[c.start : c.end]) for c in chosen]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span to exclude surrounding spaces and trailing sentence punctuation."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:!?"):
        end -= 1
    return start, end


# Numbers ------------------------------------------------------------------------------------


def _numbers(text: str, lowered: str) -> list[_Candidate]:
    """Number facts: with a unit, a limit, a countable noun; plain counts are weaker."""
    found: list[_Candidate] = []
    for match in _NUMBER.finditer(text):
        money, num, unit, rate = match.group("money"), match.group("num"), match.group("unit"), match.group("rate")
        start = match.start()
        if money is not None:
            end = match.end()
            found.append(_Candidate(_RANK_NUMBER, start, end, "number"))
            continue
        measured = unit is not None or rate is not None
        end = match.end() if measured else match.end("mult") if match.group("mult") else match.end("num")
        word_number = num[0].isalpha()
        if unit is not None and unit.strip(" -").lower() in ("s", "x") and lowered.startswith(" of", match.end()):
            continue  # "100s of instances"
        before = text[max(0, start - 40) : start]
        limited = _LIMIT_BEFORE.search(before) is not None
        if measured or match.group("mult"):
            found.append(_Candidate(_RANK_NUMBER, start, end, "number"))
            continue
        if word_number and not limited:
            continue
        if match.group("range"):
            found.append(_Candidate(_RANK_NUMBER, start, end, "number"))
            continue
        after = text[end : end + 40]
        words = _NEXT_WORDS.match(after)
        counted = words is not None and any(w and w.lower() in _COUNT_NOUNS for w in words.groups())
        if not limited and _not_a_fact(text, start, end, counted=counted):
            continue
        if limited or counted or (words is not None and _RATE_AHEAD.match(after)):
            found.append(_Candidate(_RANK_NUMBER, start, end, "number"))
        else:
            found.append(_Candidate(_RANK_COUNT, start, end, "number"))
    return found


def _not_a_fact(text: str, start: int, end: int, *, counted: bool) -> bool:
    """Tell whether a bare number (no unit) is a year, a version, a label or a list marker.

    A number counting things ("Aurora 15 replicas") is no version even after a capitalised name.
    """
    value = text[start:end]
    if len(value) == 4 and _YEAR.fullmatch(value):
        return True
    if (_LIST_MARKER.match(text, end) and _at_sentence_start(text, start)) or text.startswith(":", end):
        return True  # "1) ...", "Scenario 2: ..."
    gap = text[:start]
    if not gap.endswith(" ") or gap.endswith("  "):
        return False
    previous = gap[:-1].rsplit(None, 1)[-1] if gap[:-1].strip() else ""
    if not previous:
        return False
    bare = previous.strip("\"'“”()[],")
    if bare.lower().rstrip(".") in _LABEL_WORDS:
        return True
    if counted or not bare or not bare[0].isalpha() or not any(ch.isupper() for ch in bare):
        return False
    # "Python 3.12", "TLS 1.2", "Windows Server 2019": a capitalised name word, not opening the sentence.
    before_word = gap[: len(gap) - 1 - len(previous)].rstrip(_START_STRIP)
    at_start = not before_word or before_word[-1] in _SENTENCE_END_CHARS
    return not at_start or sum(ch.isupper() for ch in bare) > 1


# Defaults -----------------------------------------------------------------------------------


def _defaults(text: str, numbers: Sequence[_Candidate]) -> list[_Candidate]:
    """Default values: numbers said to be defaults (ranked first), then the words of other defaults."""
    found: list[_Candidate] = []
    for number in numbers:
        lead = text[max(0, number.start - 50) : number.start]
        if _DEFAULT_LEAD.search(lead) or _DEFAULT_TAIL.match(text, number.end):
            found.append(number._replace(rank=_RANK_DEFAULT_NUMBER, kind="default"))
    words: list[_Candidate] = []
    for match in (*_DEFAULT_BEFORE.finditer(text), *_DEFAULT_PAREN.finditer(text)):
        span = _value_span(text, match.start("value"), match.end("value"), whole=True)
        if span is not None:
            words.append(_Candidate(_RANK_DEFAULT, span[0], span[1], "default"))
    for match in (*_DEFAULT_AFTER.finditer(text), *_DEFAULT_CLAUSE.finditer(text)):
        span = _value_span(text, match.end(), len(text), whole=False)
        if span is not None:
            words.append(_Candidate(_RANK_DEFAULT, span[0], span[1], "default"))
    # A value holding a number is that number's default (found above), not a default of words.
    found += [w for w in words if not any(n.start < w.end and w.start < n.end for n in numbers)]
    return found


def _value_span(text: str, start: int, end: int, *, whole: bool) -> tuple[int, int] | None:
    """The words of a default value (at most 3, no leading article); None when unclear."""
    words = [(m.start(), m.end()) for m in _VALUE_WORD.finditer(text, start, min(end, start + 80))]
    picked: list[tuple[int, int]] = []
    for word_start, word_end in words:
        gap = text[picked[-1][1] if picked else start : word_start]
        if any(ch in ",.;:()!?" for ch in gap):
            break
        word = text[word_start:word_end].lower()
        if word in _VALUE_STOP:
            break
        if not picked and word in _ARTICLE:
            continue
        picked.append((word_start, word_end))
        if len(picked) > 3:
            return None
    if not picked:
        return None
    first = text[picked[0][0] : picked[0][1]].lower()
    if first in _VALUE_BAD_START or first.endswith("ing") or (first.endswith("ly") and len(picked) > 1):
        return None  # "is monitoring ...", "automatically created": a clause, not a value
    if not whole and first.endswith(("ed", "en", "wn")) and first not in _DEFAULT_STATES:
        return None  # "the default trail is generated by ...": a participle, not a setting
    if whole and len(words) > 6:
        return None  # "is X ... by default": too long to tell the value
    return picked[0][0], picked[-1][1]


# Acronyms and expansions --------------------------------------------------------------------


def _letters(acronym: str) -> str:
    """The initials an acronym stands for: its capitals, a digit repeating the letter before ("EC2")."""
    letters: list[str] = []
    for char in acronym:
        if char.isupper():
            letters.append(char.lower())
        elif char.isdigit() and letters and char in "23":
            letters.extend(letters[-1] * (int(char) - 1))
        elif char.isdigit():
            return ""
    return "".join(letters)


def _initials(word: str) -> str:
    """The initials a word gives: one per hyphenated part."""
    return "".join(part[0].lower() for part in word.split("-") if part)


def _match_backwards(words: Sequence[tuple[int, int, str]], letters: str) -> int | None:
    """Index of the first word of an expansion ending with ``words[-1]`` that spells ``letters``.

    A word gives its initials ("Multi-Factor": mf) or the first letters of the acronym it starts with
    ("Identity" for the "ID" of IDP); small words ("of", "and") may be skipped but for the last one.
    """
    def match(index: int, left: int) -> int | None:
        if left == 0:
            return index + 1
        if index < 0:
            return None
        word = words[index][2].lower()
        wanted = letters[:left]
        initials = _initials(word)
        if wanted.endswith(initials):
            found = match(index - 1, left - len(initials))
            if found is not None:
                return found
        for size in range(min(left, 3), 0, -1):
            if size != len(initials) and word.startswith(wanted[left - size :]):
                found = match(index - 1, left - size)
                if found is not None:
                    return found
        if word in _EXPANSION_STOP and index != len(words) - 1:
            return match(index - 1, left)
        return None

    return match(len(words) - 1, len(letters))


def _acronyms(text: str) -> list[_Candidate]:
    """Acronym/expansion pairs ("Key Management Service (KMS)", "KMS (Key ...)") and lone acronyms."""
    found: list[_Candidate] = []
    paired: set[int] = set()
    parenthesis = "(" in text
    for match in _PAREN_ACRONYM.finditer(text) if parenthesis else ():
        letters = _letters(match.group(1))
        if len(letters) < 2:
            continue
        window = text[max(0, match.start() - 120) : match.start()]
        offset = max(0, match.start() - 120)
        words = [(offset + m.start(), offset + m.end(), m.group()) for m in _EXPANSION_WORD.finditer(window)]
        words = words[-(len(letters) + 4) :]
        first = _match_backwards(words, letters)
        if first is None or len(words) - first < 2:
            continue
        found.append(_Candidate(_RANK_EXPANSION, words[first][0], words[-1][1], "expansion"))
        found.append(_Candidate(_RANK_ACRONYM_PAIR, match.start(1), match.end(2), "acronym"))
        paired.add(match.start(1))
    for match in _ACRONYM_PAREN.finditer(text) if parenthesis else ():
        letters = _letters(match.group(1))
        if len(letters) < 2:
            continue
        inner_start = match.start(3)
        words = [(m.start(), m.end(), m.group()) for m in _EXPANSION_WORD.finditer(text, inner_start, match.end(3))]
        if len(words) < 2 or _match_backwards(words, letters) != 0:
            continue
        found.append(_Candidate(_RANK_EXPANSION, words[0][0], words[-1][1], "expansion"))
        found.append(_Candidate(_RANK_ACRONYM_PAIR, match.start(1), match.end(2), "acronym"))
        paired.add(match.start(1))
    for match in _ACRONYM_DASH.finditer(text):
        letters = _letters(match.group(1))
        if len(letters) < 2 or match.start(1) in paired:
            continue
        after = _EXPANSION_WORD.finditer(text, match.end(), match.end() + 120)
        words = [(m.start(), m.end(), m.group()) for m in after]
        for size in range(2, min(len(words), len(letters) + 3) + 1):
            if _match_backwards(words[:size], letters) == 0:
                found.append(_Candidate(_RANK_EXPANSION, words[0][0], words[size - 1][1], "expansion"))
                found.append(_Candidate(_RANK_ACRONYM_PAIR, match.start(1), match.end(2), "acronym"))
                paired.add(match.start(1))
                break
    shouted: bool | None = None  # computed when first needed
    for match in _ACRONYM.finditer(text):
        if match.start(1) in paired:
            continue
        word = match.group(1)
        if sum(ch.isupper() for ch in word) < 2 or len(word) > 6 or word in _NOT_ACRONYMS:
            continue
        if word not in _KNOWN_ACRONYMS and not any(ch.isdigit() for ch in word):
            vowels = sum(ch in "AEIOU" for ch in word)
            if vowels and shouted is None:
                shouted = _is_shouted(text)
            if (vowels and shouted) or (vowels > 1 and len(word) > 3):
                continue  # a shouted word ("ROLES", "NEVER"), not an acronym
        found.append(_Candidate(_RANK_ACRONYM, match.start(1), match.end(2), "acronym"))
    return found


def _is_shouted(text: str) -> bool:
    """Tell whether a statement is written mostly in capitals (its capital words are not acronyms)."""
    capitals = len(_SHOUTED_WORD.findall(text))
    if capitals < 3:
        return False
    return capitals * 2 > len(_ALPHA_WORD.findall(text))


# Quotes and proper terms --------------------------------------------------------------------


def _quoted(text: str) -> list[_Candidate]:
    """Quoted terms of a few words (the quotes stay visible)."""
    if not any(ch in text for ch in "\"“«'‘"):
        return []
    found: list[_Candidate] = []
    for match in _QUOTED.finditer(text):
        group = match.lastgroup
        if group is None:
            continue
        start, end = match.span(group)
        if len(_WORDS.findall(text, start, end)) <= MAX_QUOTED_WORDS:
            found.append(_Candidate(_RANK_QUOTED, start, end, "quoted"))
    return found


def _proper_terms(text: str, services: Sequence[_Candidate]) -> list[_Candidate]:
    """Capitalised multi-word terms ("Reserved Instances") and capitalised compounds ("Multi-AZ")."""
    runs: list[list[tuple[int, int]]] = []
    run: list[tuple[int, int]] = []
    for match in _PROPER_WORD.finditer(text):
        word = match.group()
        start, end = match.span()
        usable = (
            word not in _PROPER_STOP
            and (not word.isupper() or bool(run))  # "Message Group ID", but not "PCI Security"
            and not word.rpartition("-")[2][:1].islower()  # "System-based"
            and not any(s.start < end and start < s.end for s in services)
        )
        if run and (not usable or text[run[-1][1] : start] != " "):
            runs.append(run)
            run = []
        if usable:
            run.append((start, end))
    runs.append(run)
    found: list[_Candidate] = []
    for words in runs:
        if len(words) > 1 and _at_sentence_start(text, words[0][0]):
            # Capitalised because it opens a sentence, or a term: no telling, unless it is an imperative
            # verb ("Buy Reserved Instances") or a compound follows it ("Enable Multi-AZ").
            first = text[words[0][0] : words[0][1]]
            second = text[words[1][0] : words[1][1]]
            if first not in _IMPERATIVES and not (len(words) == 2 and _HYPHEN_PROPER.match(second)):
                continue
            words = words[1:]
        if 2 <= len(words) <= MAX_PROPER_WORDS:  # longer: a title-case phrase, not a term
            found.append(_Candidate(_RANK_TERM, words[0][0], words[-1][1], "term"))
        elif len(words) == 1 and _HYPHEN_PROPER.match(text[words[0][0] : words[0][1]]):
            found.append(_Candidate(_RANK_TERM, words[0][0], words[0][1], "term"))
    return found


def _at_sentence_start(text: str, position: int) -> bool:
    """Tell whether a position opens the statement or a sentence of it."""
    head = text[:position].rstrip(_START_STRIP)
    return not head or head[-1] in _SENTENCE_END_CHARS or head.endswith((" -", " –", " —", "->", "=>"))


# Avoid and repeats --------------------------------------------------------------------------


def _squash(text: str) -> str:
    """Matching form of a term: case-folded letters and digits only."""
    if text.isascii():
        return text.lower().translate(_ASCII_PUNCTUATION)
    return _SQUASH.sub("", unicodedata.normalize("NFKC", text).casefold())


def _word_forms(text: str) -> tuple[str, ...]:
    """Case-folded words without a plural "s", for comparing short terms word by word."""
    return tuple(_singular(w) for w in _SQUASH.split(unicodedata.normalize("NFKC", text).casefold()) if w)


def _singular(word: str) -> str:
    """Drop a plural "s" ("queues" -> "queue")."""
    return word[:-1] if len(word) > 2 and word.endswith("s") else word


def _avoided(term: str, avoided: Sequence[tuple[str, tuple[str, ...]]]) -> bool:
    """Tell whether a term equals or sits inside a text the card already shows."""
    if not avoided:
        return False
    squashed = _singular(_squash(term))
    if not squashed:
        return True
    if len(squashed) < 4:
        words = _word_forms(term)
        size = len(words)
        return any(
            any(forms[i : i + size] == words for i in range(len(forms) - size + 1)) for _, forms in avoided
        )
    return any(squashed in whole for whole, _ in avoided)


def _occurrences(lowered: str, term: str) -> int:
    """Count a term's occurrences as whole words (a plural "s" allowed), stopping at two."""
    if not term:
        return 0
    stem = term[:-1] if len(term) > 3 and term.endswith("s") and term[-2].isalpha() else term
    count = 0
    position = lowered.find(stem)
    while position >= 0:
        end = position + len(stem)
        before = lowered[position - 1] if position else " "
        if end < len(lowered) and lowered[end] == "s" and (end + 1 == len(lowered) or not lowered[end + 1].isalnum()):
            end += 1
        after = lowered[end] if end < len(lowered) else " "
        numeric_glue = after in ".," and end + 1 < len(lowered) and lowered[end + 1].isdigit()
        if not before.isalnum() and not after.isalnum() and not numeric_glue and before not in ".,":
            count += 1
            if count > 1:
                return count
        position = lowered.find(stem, position + 1)
    return count


# Service mentions ---------------------------------------------------------------------------


class _Matcher:
    """What key-term ranking asks of a catalog about services, with the catalog's own answers cached:
    the mentions in a statement (`Catalog.mentions`), the service a term names, and the services
    and texts a card's front already shows."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._keys = {service.key: index for index, service in enumerate(catalog.services)}
        self._avoid_cache: dict[tuple[str, ...], tuple[tuple[tuple[str, tuple[str, ...]], ...], frozenset[int]]] = {}

    def service_index(self, name: str) -> int:
        """Index of the service a term names on its own ("KMS", "Key Management Service"), or -1."""
        found = self.catalog.lookup(name)
        return -1 if found is None else self._keys[found.key]

    def avoid_info(self, avoid: tuple[str, ...]) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], frozenset[int]]:
        """The matching forms of the avoided texts and the services they name (cached)."""
        info = self._avoid_cache.get(avoid)
        if info is None:
            texts = tuple((_squash(a), _word_forms(a)) for a in avoid if _squash(a))
            services: set[int] = set()
            for written in avoid:
                for service in self.catalog.in_heading(written):
                    services.add(self._keys[service.key])
                found = self.catalog.lookup(written)
                if found is not None:
                    services.add(self._keys[found.key])
            info = (texts, frozenset(services))
            if len(self._avoid_cache) >= MAX_AVOID_CACHE:
                self._avoid_cache.clear()
            self._avoid_cache[avoid] = info
        return info

    def scan(self, text: str) -> list[_Candidate]:
        """Service mentions of the text, in order, each with its span and service index."""
        keys = self._keys
        return [_Candidate(_RANK_SERVICE, start, end, "service", keys[service.key]) for start, end, service in self.catalog.mentions(text)]


_MATCHERS: dict[int, tuple[Catalog, _Matcher]] = {}


def _matcher(catalog: Catalog) -> _Matcher:
    """The span matcher of a catalog, built on first use (kept for a few catalogs)."""
    entry = _MATCHERS.get(id(catalog))
    if entry is not None and entry[0] is catalog:
        return entry[1]
    if len(_MATCHERS) >= MAX_MATCHER_CACHE:
        _MATCHERS.clear()
    matcher = _Matcher(catalog)
    _MATCHERS[id(catalog)] = (catalog, matcher)
    return matcher
