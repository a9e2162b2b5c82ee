"""YAML front matter: a leading `---` block split off a note into read-only metadata (keys lower-cased,
`tags` as a tuple of strings), its lines kept blank so that line numbers stay those of the file."""
from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from .errors import BuildWarning

EMPTY_METADATA: Mapping[str, Any] = MappingProxyType({})


_FRONT_MATTER_CLOSE = r"\n(?:---|\.\.\.)[ \t]*(?:\n|$)"


_TAG_SEPARATORS = r"[,\s]+"


_TAGS_KEY_LINE = r"(?im)^tags[ \t]*:"


_Warn = Callable[..., BuildWarning]


def split_front_matter(
    text: str, warn: _Warn
) -> tuple[str, Mapping[str, Any], list[BuildWarning], bool]:
    """Blank out a leading YAML block; return text, metadata, warnings and whether nothing follows."""
    first_end = text.find("\n")
    if first_end < 0 or text[:first_end].rstrip() != "---":
        return text, EMPTY_METADATA, [], False
    close = re.compile(_FRONT_MATTER_CLOSE).search(text, first_end)
    if close is None:  # no closing line: the '---' is a thematic break
        return text, EMPTY_METADATA, [], False
    block = text[first_end + 1 : close.start() + 1]
    after = close.end()
    closed_by_newline = text[after - 1 : after] == "\n"
    body = text[after:]
    block_lines = text.count("\n", 0, after) + (0 if closed_by_newline else 1)
    blanked = "\n" * block_lines + body if closed_by_newline else "\n" * (block_lines - 1)

    warnings: list[BuildWarning] = []
    metadata, problem = _parse_front_matter(block)
    if problem is not None:
        message, line = problem
        warnings.append(warn("front-matter", message, line))
    elif metadata:
        tags_problem = None
        if "tags" in metadata:
            tags, tags_problem = _parse_tags(metadata["tags"])
            metadata = {**metadata, "tags": tags}
        if tags_problem is not None:
            key = re.search(_TAGS_KEY_LINE, block)
            tags_line = 2 + block.count("\n", 0, key.start()) if key is not None else None
            warnings.append(warn("front-matter", tags_problem, tags_line))
    frozen: Mapping[str, Any] = MappingProxyType(metadata) if metadata else EMPTY_METADATA
    return blanked, frozen, warnings, not body or body.isspace()


def _parse_front_matter(block: str) -> tuple[dict[str, Any], tuple[str, int] | None]:
    """Parse a YAML block into a dict with lower-cased keys, or say what is wrong and where."""
    if not block.strip():
        return {}, None
    import yaml  # ~13 ms (measured): only files with front matter need it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(block, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = 2 + mark.line if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return {}, (
            f"front matter is not valid YAML ({problem}); ignored. Fix the YAML between the "
            "'---' lines, or add a blank first line if the '---' is meant as a horizontal rule.",
            line,
        )
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. a date like 2024-13-45
        return {}, (f"front matter has a value YAML cannot load ({exc}); ignored. Fix the YAML.", 1)
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, (
            f"front matter is a YAML {type(data).__name__}, not 'key: value' lines; ignored. "
            "Write it as 'key: value' lines.",
            2,
        )
    return {str(key).strip().lower(): value for key, value in data.items()}, None


def _parse_tags(value: Any) -> tuple[tuple[str, ...], str | None]:
    """Return tags as a tuple of str from a YAML list, a comma/space-separated string or '#tag's."""
    items: Iterable[Any]
    if value is None:
        items = ()
    elif isinstance(value, str):
        items = re.split(_TAG_SEPARATORS, value)
    elif isinstance(value, (list, tuple, set)):
        items = value
    elif isinstance(value, (int, float, bool)):
        items = (value,)
    else:
        return (), (
            f"front matter 'tags' is a {type(value).__name__}; ignored. "
            "Write tags as a list or a comma-separated string."
        )
    tags: dict[str, None] = {}
    for item in items:
        if item is None or isinstance(item, (dict, list)):
            continue
        tag = str(item).strip().lstrip("#").strip()
        if tag:
            tags.setdefault(tag, None)
    return tuple(tags), None
