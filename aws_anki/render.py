"""Token-to-HTML rendering for card fields: escaped text, sanitised HTML, highlighted code, cloze markup."""
from __future__ import annotations

import html
import re
from functools import cache
from typing import Any, Callable, Mapping, Sequence

import nh3

Token = Mapping[str, Any]

# Cloze deletions travel through rendering and sanitising as private-use sentinels, because the
# sanitiser re-serialises entities (it would undo the escaping of `::` inside a deletion).
CLOZE_OPEN = "\ue000"
CLOZE_NUMBER_END = "\ue001"
CLOZE_CLOSE = "\ue002"
_SENTINELS = re.compile("\ue000(\\d+)\ue001|\ue002")
_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_IMAGE_WIDTH = re.compile(r"^\d{1,4}(?:x\d{1,4})?$")

# Inline styles come only from Pygments and tables; keep the harmless properties.
_STYLE_PROPERTIES = {"color", "background", "background-color", "font-weight", "font-style", "text-decoration",
                     "line-height", "text-align", "border", "padding", "margin"}
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre",
    "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr",
    "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "span": {"style", "class"},
    "div": {"class", "style"},
    "pre": {"style", "class"},
    "code": {"class"},
    "td": {"style", "colspan", "rowspan"},
    "th": {"style", "colspan", "rowspan"},
    "ol": {"start"},
}


def cloze_open(number: int) -> str:
    """Sentinel that opens deletion `number` (turned into `{{cN::` by `finish_cloze`)."""
    return f"{CLOZE_OPEN}{number}{CLOZE_NUMBER_END}"


def escape_cloze_syntax(text: str) -> str:
    """Break `{{`, `}}` and `::` with entities so Anki's cloze parser leaves them alone."""
    return text.replace("{{", "{&#123;").replace("}}", "&#125;}").replace("::", ":&#58;")


def finish_cloze(field_html: str) -> str:
    """Escape cloze syntax in the text, then turn deletion sentinels into `{{cN::…}}`."""
    escaped = escape_cloze_syntax(field_html)
    return _SENTINELS.sub(lambda m: "}}" if m.group(1) is None else "{{c" + m.group(1) + "::", escaped)


def sanitize(field_html: str) -> str:
    """Keep only allowlisted tags and attributes: no scripts, handlers, frames or unsafe URLs."""
    return nh3.clean(
        field_html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
        filter_style_properties=_STYLE_PROPERTIES,
    )


def safe_url(url: str) -> str | None:
    """The URL if it is a web or mail link, else None (no `javascript:`, `data:` ...)."""
    lowered = url.strip().lower()
    return url.strip() if lowered.startswith(_SAFE_SCHEMES) else None


def is_remote(url: str) -> bool:
    """Whether an image URL points to the web rather than a local file."""
    return url.strip().lower().startswith(("http://", "https://", "//", "data:"))


# Inline tokens ---------------------------------------------------------------------------------

InlineRenderer = Callable[[Token, "InlineOptions"], str]


class InlineOptions:
    """What an inline render call needs besides the tokens: which spans become deletions."""

    __slots__ = ("deletions",)

    def __init__(self, deletions: Mapping[int, int] | None = None) -> None:
        self.deletions = deletions or {}


def inline_html(children: Sequence[Token], *, deletions: Mapping[int, int] | None = None) -> str:
    """Render inline tokens; `deletions` maps id(token) to the cloze number that hides it."""
    options = InlineOptions(deletions)
    return _inline(children, options)


def _inline(children: Sequence[Token], options: InlineOptions) -> str:
    out: list[str] = []
    for child in children:
        rendered = INLINE_RENDERERS.get(child["type"], _render_unknown)(child, options)
        number = options.deletions.get(id(child))
        if number is not None:
            rendered = f"{cloze_open(number)}{rendered}{CLOZE_CLOSE}"
        out.append(rendered)
    return "".join(out)


def _render_unknown(token: Token, options: InlineOptions) -> str:
    if "children" in token:
        return _inline(token["children"], options)
    return html.escape(str(token.get("raw", "")), quote=False)


def _render_text(token: Token, options: InlineOptions) -> str:
    return html.escape(token["raw"], quote=False)


def _wrap(tag: str) -> InlineRenderer:
    def render(token: Token, options: InlineOptions) -> str:
        return f"<{tag}>{_inline(token['children'], options)}</{tag}>"

    return render


def _render_codespan(token: Token, options: InlineOptions) -> str:
    return f"<code>{html.escape(token['raw'], quote=False)}</code>"


def _render_link(token: Token, options: InlineOptions) -> str:
    label = _inline(token["children"], options)
    url = safe_url(token["attrs"].get("url", ""))
    return f'<a href="{html.escape(url)}">{label}</a>' if url else label


def _render_image(token: Token, options: InlineOptions) -> str:
    url = token["attrs"].get("url", "")
    alt = html.escape(_plain(token.get("children", ())))
    if is_remote(url):
        safe = safe_url(url)
        return f'<a href="{html.escape(safe)}">{alt or html.escape(safe)}</a>' if safe else alt
    return f'<img src="{html.escape(url)}" alt="{alt}">'


def _render_embed(token: Token, options: InlineOptions) -> str:
    target = token["attrs"]["target"]
    width = token["attrs"].get("options", "")
    size = f' width="{width.split("x")[0]}"' if _IMAGE_WIDTH.match(width) else ""
    return f'<img src="{html.escape(target)}" alt="{html.escape(target)}"{size}>'


def _render_html(token: Token, options: InlineOptions) -> str:
    # Sanitised as a whole field later; fragments alone would be mangled (open and close tags).
    return str(token["raw"])


def _plain(children: Sequence[Token]) -> str:
    return "".join(c.get("raw", "") if "raw" in c else _plain(c.get("children", ())) for c in children)


INLINE_RENDERERS: dict[str, InlineRenderer] = {
    "text": _render_text,
    "strong": _wrap("b"),
    "emphasis": _wrap("i"),
    "mark": _wrap("mark"),
    "strikethrough": _wrap("s"),
    "codespan": _render_codespan,
    "link": _render_link,
    "image": _render_image,
    "embed": _render_embed,
    "inline_html": _render_html,
    "softbreak": lambda token, options: " ",
    "linebreak": lambda token, options: "<br>",
}


# Block tokens ----------------------------------------------------------------------------------


def blocks_html(tokens: Sequence[Token]) -> str:
    """Render block tokens (lists, tables, code, paragraphs, quotes) to HTML."""
    return "".join(BLOCK_RENDERERS.get(t["type"], _render_block_unknown)(t) for t in tokens)


def _render_block_unknown(token: Token) -> str:
    if "children" in token:
        return blocks_html(token["children"])
    return ""


def _render_paragraph(token: Token) -> str:
    return f"<p>{inline_html(token['children'])}</p>"


def _render_block_text(token: Token) -> str:
    return inline_html(token["children"])


def _render_list(token: Token) -> str:
    tag = "ol" if token["attrs"].get("ordered") else "ul"
    items = "".join(f"<li>{blocks_html(item['children'])}</li>" for item in token["children"])
    return f"<{tag}>{items}</{tag}>"


def _render_quote(token: Token) -> str:
    return f"<blockquote>{blocks_html(token['children'])}</blockquote>"


def _render_code(token: Token) -> str:
    info = (token.get("attrs") or {}).get("info") or ""
    return code_html(token.get("raw", ""), info.split()[0] if info.strip() else "")


def _render_table(token: Token) -> str:
    parts: list[str] = []
    for section in token["children"]:
        if section["type"] == "table_head":
            cells = "".join(f"<th>{inline_html(c['children'])}</th>" for c in section["children"])
            parts.append(f"<thead><tr>{cells}</tr></thead>")
        else:
            rows = "".join(
                "<tr>" + "".join(f"<td>{inline_html(c['children'])}</td>" for c in row["children"]) + "</tr>"
                for row in section["children"]
            )
            parts.append(f"<tbody>{rows}</tbody>")
    return f"<table>{''.join(parts)}</table>"


def _render_block_html(token: Token) -> str:
    return str(token.get("raw", ""))


BLOCK_RENDERERS: dict[str, Callable[[Token], str]] = {
    "paragraph": _render_paragraph,
    "block_text": _render_block_text,
    "list": _render_list,
    "block_quote": _render_quote,
    "block_code": _render_code,
    "table": _render_table,
    "block_html": _render_block_html,
    "thematic_break": lambda token: "<hr>",
    "blank_line": lambda token: "",
}


# Code ------------------------------------------------------------------------------------------


@cache
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter  # imported lazily: most builds have little code

    # A dark style with inline colours reads the same in Anki's light and night modes.
    return HtmlFormatter(noclasses=True, style="monokai", nowrap=False, cssclass="code")


def code_html(code: str, language: str) -> str:
    """Highlight a code block with inline styles (no stylesheet needed); plain <pre> if unknown."""
    from pygments import highlight
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language.lower(), stripnl=False) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return f'<pre class="code"><code>{html.escape(code, quote=False)}</code></pre>'
    return highlight(code, lexer, _formatter())
