"""Token-to-HTML rendering for card fields: escaped text, sanitised HTML, highlighted code, math, cloze sentinels."""
from __future__ import annotations

import html
import re
from functools import cache
from typing import Any, Callable, Mapping, Sequence

import nh3
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from .cloze import CLOZE_CLOSE, cloze_open
from .media import IMAGE_EXTENSIONS

Token = Mapping[str, Any]

_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_URL_SCHEME = re.compile(r"^\s*[a-z][a-z0-9+.\-]*:", re.I)
_IMAGE_SIZE = re.compile(r"^(\d{1,4})(?:x(\d{1,4}))?$")

# Inline styles come only from Pygments (and tables); keep the harmless properties, and only values
# made of colours, keywords and lengths: no `url(...)`, `expression(...)`, escapes or quotes.
_STYLE_PROPERTIES = {"color", "background", "background-color", "font-weight", "font-style", "text-decoration",
                     "line-height", "text-align", "border", "padding", "margin"}
_STYLE_VALUE = re.compile(r"^[#\w\s.,%+\-]*$")
# Removed with their content, not just unwrapped: their text is code or markup, never prose.
_DROPPED_WITH_CONTENT = {"script", "style", "iframe", "noscript", "template", "object", "svg", "math", "textarea",
                         "select", "xmp", "noembed", "noframes"}
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


# Anki's own markup, which the reviewer acts on wherever it stands in a field: `[sound:x]` plays a
# file, `[anki:tts]` speaks, `[latex]`, `[$]` and `[$$]` run LaTeX when the deck is studied.
_ANKI_MARKUP = re.compile(r"\[(?=sound:|/?anki:|/?latex\]|/?\$\$?\])", re.I)


def escape_anki_markup(field_html: str) -> str:
    """Break Anki's media and LaTeX markup with an entity, so a card shows it as text."""
    return _ANKI_MARKUP.sub("&#91;", field_html) if "[" in field_html else field_html


def sanitize(field_html: str) -> str:
    """Keep only allowlisted tags and attributes: no scripts, handlers, frames or unsafe URLs."""
    if _SANITIZER_CHANGES.search(field_html) is None:
        return field_html  # plain text the sanitiser would give back unchanged: a third of all fields
    return _cleaner()(field_html)


# What makes the sanitiser's output differ from plain text: markup and entities, and what the HTML
# parser rewrites (NUL, CR, a byte-order mark, no-break spaces as `&nbsp;`; lone surrogates fail).
_SANITIZER_CHANGES = re.compile("[<>&\0\r\xa0\ufeff\ud800-\udfff]")


@cache
def _cleaner() -> Callable[[str], str]:
    """The sanitiser with our allowlists. nh3's reusable Cleaner (0.3+) converts them once; passing
    them to `nh3.clean` converts them on every call, a quarter of the time of making notes."""
    settings: dict[str, Any] = {
        "tags": ALLOWED_TAGS,
        "clean_content_tags": _DROPPED_WITH_CONTENT,
        "attributes": ALLOWED_ATTRIBUTES,
        "attribute_filter": _filter_attribute,
        "url_schemes": {"http", "https", "mailto"},
        "link_rel": None,
        "strip_comments": True,
        "filter_style_properties": _STYLE_PROPERTIES,
    }
    if hasattr(nh3, "Cleaner"):
        return nh3.Cleaner(**settings).clean  # type: ignore[no-any-return]
    return lambda field_html: nh3.clean(field_html, **settings)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute != "style":
        return value
    kept = []
    for declaration in value.split(";"):
        name, colon, setting = declaration.partition(":")
        name, setting = name.strip().lower(), setting.strip()
        if colon and name in _STYLE_PROPERTIES and _STYLE_VALUE.match(setting):
            kept.append(f"{name}:{setting}")
    return ";".join(kept) or None


def safe_url(url: str) -> str | None:
    """The URL if it is a web or mail link, else None (no `javascript:`, `data:` ...)."""
    lowered = url.strip().lower()
    return url.strip() if lowered.startswith(_SAFE_SCHEMES) else None


def is_remote(url: str) -> bool:
    """Whether an image URL points to the web rather than a local file."""
    return url.strip().lower().startswith(("http://", "https://", "//", "data:"))


def has_scheme(url: str) -> bool:
    """Whether a URL names a scheme (`https:`, `javascript:`, `data:` ...) rather than a file path."""
    return bool(_URL_SCHEME.match(url)) and not re.match(r"^\s*[a-z]:[\\/]", url, re.I)


def rewrite_images(field_html: str, resolve: Callable[[str], "str | None"]) -> str:
    """Point every `<img>` of sanitised HTML at its packaged file (`resolve` gives the name, or None).

    A web image becomes a link (cards must not load from the network); an image the sanitiser took
    the source from (`javascript:`, `data:`) or that `resolve` cannot find leaves nothing (its name
    in place of a picture is noise on a card; the build warns about a missing file): never a broken
    image."""

    def replace(match: re.Match[str]) -> str:
        attributes = dict(_HTML_ATTRIBUTE.findall(match.group(1)))
        source = html.unescape(attributes.get("src", "")).strip()
        alt = html.unescape(attributes.get("alt", "")).strip()
        if not source:
            return ""
        if is_remote(source):
            url = safe_url("https:" + source if source.startswith("//") else source)
            return f'<a href="{html.escape(url)}">{html.escape(alt)}</a>' if url and not _GENERIC_ALT.match(alt) else ""
        name = resolve(source)
        if name is None:
            return ""
        attributes["src"] = html.escape(name)
        return "<img " + " ".join(f'{key}="{value}"' for key, value in attributes.items()) + ">"

    return _HTML_IMAGE.sub(replace, field_html)


# In sanitised HTML every attribute value is double-quoted and `>` inside one is `&gt;`.
_HTML_IMAGE = re.compile(r"<img\b([^>]*)>", re.I)
_HTML_ATTRIBUTE = re.compile(r'([\w:-]+)="([^"]*)"')


# Inline tokens ---------------------------------------------------------------------------------

InlineRenderer = Callable[[Token, "InlineOptions"], str]


class InlineOptions:
    """What an inline render call needs besides the tokens: which spans become deletions."""

    __slots__ = ("deletions",)

    def __init__(self, deletions: Mapping[int, int] | None = None) -> None:
        self.deletions = deletions or {}


def inline_html(children: Sequence[Token], *, deletions: Mapping[int, int] | None = None) -> str:
    """Render inline tokens; `deletions` maps id(token) to the cloze number that hides it."""
    return _inline(children, InlineOptions(deletions))


def _inline(children: Sequence[Token], options: InlineOptions) -> str:
    out: list[str] = []
    deletions = options.deletions
    for child in children:
        kind = child["type"]
        if kind == "text":  # most tokens: `_render_text` without the call
            rendered = child["raw"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        elif kind in _WRAP_TAGS:  # bold and the like: `_wrap` without the call
            tag = _WRAP_TAGS[kind]
            rendered = f"<{tag}>{_inline(child['children'], options)}</{tag}>"
        else:
            rendered = INLINE_RENDERERS.get(kind, _render_unknown)(child, options)
        if deletions:
            number = deletions.get(id(child))
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
    raw_url = token["attrs"].get("url", "")
    url = safe_url(raw_url)
    if url:
        return f'<a href="{html.escape(url)}">{label}</a>'
    # An unsafe autolink (`<javascript:...>`) has the URL itself as its label: drop both.
    return "" if has_scheme(raw_url) and _plain(token["children"]).strip() == raw_url.strip() else label


# A picture on the web becomes a link named by its alt text; one whose alt text says nothing
# ("image", or none) is left out: a link called "image" on a card is noise, and no picture.
_GENERIC_ALT = re.compile(r"^\s*(?:image|img|picture|pic|photo|screenshot|screen shot|diagram|untitled|pasted image.*|image\.\w+|)\s*$", re.I)


def _render_image(token: Token, options: InlineOptions) -> str:
    url = token["attrs"].get("url", "")
    alt = html.escape(_plain(token.get("children", ())))
    if is_remote(url):
        safe = safe_url(url)
        return f'<a href="{html.escape(safe)}">{alt}</a>' if safe and not _GENERIC_ALT.match(html.unescape(alt)) else ""
    if has_scheme(url):  # `javascript:`, `file:`... : not an image of the notes
        return alt
    return f'<img src="{html.escape(url)}" alt="{alt}">'


def _render_embed(token: Token, options: InlineOptions) -> str:
    """`![[x.png|300]]` (width), `![[x.png|300x200]]`, `![[x.png|alt text]]`; other embeds as their name."""
    target = token["attrs"]["target"]
    name = target.split("#", 1)[0].strip()
    if "." + name.rsplit(".", 1)[-1].lower() not in IMAGE_EXTENSIONS:
        # A note, heading or PDF embed: its content is not in this card, its name is.
        return html.escape(target.split("/")[-1])
    alt, size = "", ""
    for option in token["attrs"].get("options", "").split("|"):
        option = option.strip()
        dimensions = _IMAGE_SIZE.match(option)
        if dimensions:
            size = f' width="{dimensions.group(1)}"' + (f' height="{dimensions.group(2)}"' if dimensions.group(2) else "")
        elif option:
            alt = option
    return f'<img src="{html.escape(name)}" alt="{html.escape(alt or name.split("/")[-1])}"{size}>'


def _render_math(token: Token, options: InlineOptions) -> str:
    return "\\(" + html.escape(token["raw"], quote=False) + "\\)"


def _render_html(token: Token, options: InlineOptions) -> str:
    # Sanitised as a whole field later; fragments alone would be mangled (open and close tags).
    return str(token["raw"])


def _plain(children: Sequence[Token]) -> str:
    return "".join(c.get("raw", "") if "raw" in c else _plain(c.get("children", ())) for c in children)


_WRAP_TAGS = {"strong": "b", "emphasis": "i", "mark": "mark", "strikethrough": "s"}
INLINE_RENDERERS: dict[str, InlineRenderer] = {
    "text": _render_text,
    **{kind: _wrap(tag) for kind, tag in _WRAP_TAGS.items()},
    "codespan": _render_codespan,
    "link": _render_link,
    "image": _render_image,
    "embed": _render_embed,
    "inline_html": _render_html,
    "inline_math": _render_math,
    "softbreak": lambda token, options: " ",
    "linebreak": lambda token, options: "<br>",
}


# Block tokens ----------------------------------------------------------------------------------


def list_html(items: Sequence[str]) -> str:
    """A bulleted list of items that are HTML already ("" for no items)."""
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>" if items else ""


def continued_html(parts: Sequence[str]) -> str:
    """What did not fit an answer, shown after it on the back as its continuation ("" for nothing)."""
    return f"<p>… {' '.join(parts)}</p>" if parts else ""


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
    language = info.split()[0] if info.strip() else ""
    if language.lower() == "math":  # `$$…$$` lines, and GitHub's ```math blocks
        return math_html(token.get("raw", ""))
    return code_html(token.get("raw", ""), language)


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


# Code blocks carry their colours inline, on a dark background of their own, so they read the same
# in Anki's light and night modes and need no stylesheet. Every Monokai token colour has a WCAG
# contrast of at least 4.5:1 on its background (checked by tests/test_rich_content.py).
CODE_BACKGROUND = "#272822"
CODE_FOREGROUND = "#f8f8f2"


@cache
def _formatter() -> Any:
    return HtmlFormatter(noclasses=True, style="monokai", nowrap=False, cssclass="code", prestyles=f"color:{CODE_FOREGROUND}")


@cache
def _lexer(language: str) -> Any:
    """The Pygments lexer for a language name, or None. Looking one up scans Pygments' whole lexer
    table (a third of the time of a build with much code), so each name is looked up once."""
    try:
        return get_lexer_by_name(language, stripnl=False)
    except ClassNotFound:
        return None


def code_html(code: str, language: str) -> str:
    """Highlight a code block with inline styles (no stylesheet needed); plain <pre> if unknown."""
    lexer = _lexer(language.lower()) if language else None
    if lexer is None:
        style = f"background:{CODE_BACKGROUND};color:{CODE_FOREGROUND}"
        return f'<pre class="code" style="{style}"><code>{html.escape(code, quote=False)}</code></pre>'
    return highlight(code, lexer, _formatter())


def math_html(tex: str) -> str:
    """Display math for Anki's MathJax: `\\[…\\]`."""
    return '<div class="math">\\[' + html.escape(tex.strip(), quote=False) + "\\]</div>"
