"""Hostile and broken input: nothing executable survives into any field (nor into the card real
Anki renders), broken files are skipped with a warning naming them while the rest is built, the
.apkg is written atomically, and `--strict` turns warnings into a failing exit status."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from click.testing import CliRunner

import aws_anki
from aws_anki.cli import cli
from aws_anki.errors import AwsAnkiError
from aws_anki.options import RunOptions

FIXTURES = Path(__file__).parent / "fixtures" / "hostile"

FORBIDDEN_TAGS = {"script", "iframe", "style", "object", "embed", "svg", "math", "form", "input", "base", "meta",
                  "link", "frame", "frameset", "applet", "template", "noscript", "textarea", "button"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "background", "poster", "srcset"}
UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")


class _Scanner(HTMLParser):
    """Collects what a field's HTML would make a browser do: tags, attributes, text outside code."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.code_depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        if tag in ("code", "pre"):
            self.code_depth += 1
        for name, value in attrs:
            value = value or ""  # entities are already decoded here (&#106;avascript: -> javascript:)
            squeezed = re.sub(r"[\x00-\x20]+", "", value).lower()
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            if name in URL_ATTRIBUTES and squeezed.startswith(UNSAFE_SCHEMES):
                self.problems.append(f"{tag} {name}={value!r}")
            if name == "style" and re.search(r"url\(|expression|javascript:|\\|@import", squeezed):
                self.problems.append(f"{tag} style={value!r}")
            if "javascript:" in squeezed:
                self.problems.append(f"{tag} {name}={value!r}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("code", "pre"):
            self.code_depth -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "pre"):
            self.code_depth = max(0, self.code_depth - 1)

    def handle_data(self, data: str) -> None:
        if not self.code_depth:
            self.text.append(data)


def dangers(field_html: str) -> list[str]:
    """Everything executable or unsafe in a field (empty when the field is safe)."""
    scanner = _Scanner()
    scanner.feed(field_html)
    scanner.close()
    problems = list(scanner.problems)
    raw = field_html.lower()
    for pattern in (r"<\s*/?\s*(?:script|iframe|style|object|embed|svg|form)\b", r"<[^>]*\son\w+\s*="):
        problems += re.findall(pattern, raw)
    text = html.unescape("".join(scanner.text)).lower()  # what the learner reads outside code
    problems += [f"text: {m}" for m in re.findall(r"javascript:|vbscript:|<script|<iframe|<style", text)]
    return problems


@pytest.fixture(scope="module")
def hostile() -> aws_anki.BuildResult:
    return aws_anki.build_deck([FIXTURES / "notes"], run=RunOptions(use_cache=False))


def test_the_scanner_catches_what_it_should() -> None:
    for bad in ('<script>x</script>', '<img src="a" onerror="x">', '<a href="&#106;avascript:x">a</a>',
                '<a href="java&#x09;script:x">a</a>', '<iframe></iframe>', '<svg onload=x>', '<style>x</style>',
                '<a href="data:text/html,x">a</a>', '<span style="background:url(x)">a</span>', "javascript:alert(1)"):
        assert dangers(bad), bad
    assert not dangers('<code>&lt;script&gt;alert(1)&lt;/script&gt; onerror=x javascript:x</code><a href="https://x">x</a>')


def test_no_hostile_markup_survives_into_any_field(hostile: aws_anki.BuildResult) -> None:
    assert len(hostile.notes) >= 25  # every hostile line still made its card
    for note in hostile.notes:
        for name, field in zip(note.field_names, note.fields):
            assert not dangers(field), (note.source, name, field, dangers(field))


def test_hostile_markup_keeps_the_harmless_text(hostile: aws_anki.BuildResult) -> None:
    backs = {n.fields[0]: n.fields[1] for n in hostile.notes if n.note_type == "basic"}
    assert backs["Script tag"] == "blocks  cross-site scripting"
    assert backs["Script link"] == "matches <a>click me</a> in query strings"
    assert backs["Markdown script link"] == "rejects a script link links"
    assert backs["Script image"] == "rejects a script image sources"
    assert backs["Style attribute"] == 'drops <span style="color:red">styled</span> URLs'
    assert backs["Data image"] == "ignores  sources"  # an image that cannot be packaged leaves nothing
    assert backs["Image handler"] == "inspects  request bodies"
    payload = next(n for n in hostile.notes if n.fields[0] == "Example payload")
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in payload.field("Back")  # shown, not run
    assert "onerror" in payload.field("Extra") and "&lt;" in payload.field("Extra")
    block = next(n for n in hostile.notes if n.fields[0] == "Block handlers")
    assert "logo" not in block.field("Extra") and "block link" in block.field("Extra")


def test_no_hostile_markup_in_cards_rendered_by_real_anki(hostile: aws_anki.BuildResult, tmp_path: Path) -> None:
    pytest.importorskip("anki")
    from anki_harness import import_apkg, open_collection, rendered_cards

    out = tmp_path / "hostile.apkg"
    hostile.write(out, use_state=False)
    with open_collection(tmp_path / "anki") as col:
        import_apkg(col, out)
        cards = rendered_cards(col)
    assert len(cards) == hostile.report.cards
    for card in cards:
        for side in (card.question_html, card.answer_html):
            body = re.sub(r"^<style>.*?</style>", "", side, flags=re.S)  # the note type's own CSS
            assert not dangers(body), (card.question_text, dangers(body))


# Handlers on what the allowlist keeps ----------------------------------------------------------

HANDLERS = ('onerror="alert(1)" onload="alert(2)" onclick="alert(3)" ONMOUSEOVER="alert(4)" '
            "onfocus=alert(5) ontoggle=alert(6) onanimationstart=alert(7)")
# Every element ALLOWED_TAGS keeps, nested where HTML wants it, each carrying every handler and the
# attributes the allowlist keeps for it: the handlers must go while the element (and an image that
# exists) stays, so the attribute allowlist itself is what is tested.
_NESTED = {
    "li": "<ul {h}><li {h}>item</li></ul><ol start=\"2\" {h}><li {h}>item</li></ol>",
    "dt": "<dl {h}><dt {h}>term</dt><dd {h}>meaning</dd></dl>",
    "summary": "<details {h}><summary {h}>more</summary>hidden</details>",
    "td": ("<table {h}><thead {h}><tr {h}><th colspan=\"1\" style=\"color:red\" {h}>head</th></tr></thead>"
           "<tbody {h}><tr {h}><td rowspan=\"1\" {h}>cell</td></tr></tbody></table>"),
    "a": '<a href="https://example.com/" title="t" {h}>link</a>',
    "img": '<img src="pixel.png" alt="pixel" title="t" width="10" height="10" {h}>',
    "span": '<span class="c" style="color:red" {h}>span</span>',
    "div": '<div class="c" style="color:red" {h}>div</div>',
    "pre": '<pre class="c" style="color:red" {h}><code class="c" {h}>code</code></pre>',
    "br": "a<br {h}>b",
    "hr": "<hr {h}>",
}
_COVERED_BY_NESTING = {"ul", "ol", "dl", "dd", "details", "table", "thead", "tbody", "tr", "th", "code"}


def _allowlist_vault(root: Path) -> Path:
    from aws_anki.render import ALLOWED_TAGS

    (root / "security").mkdir(parents=True)
    shutil.copyfile(FIXTURES.parent / "rich" / "notes" / "order.png", root / "security" / "pixel.png")
    lines = ["# AWS WAF", ""]
    for index, tag in enumerate(sorted(ALLOWED_TAGS - _COVERED_BY_NESTING)):
        element = _NESTED.get(tag, f"<{tag} {{h}}>{tag} text</{tag}>").replace("{h}", HANDLERS)
        # inline in a definition, and as a raw HTML block attached to the fact before it
        lines += [f"- **Element {tag}**: shows {element} and the picture <img src=\"pixel.png\" alt=\"pixel\" {HANDLERS}>", "",
                  f"- **Block {tag} {index}**: the block below belongs here", "", f"<div {HANDLERS}>", element,
                  f'<img src="pixel.png" alt="pixel" {HANDLERS}>', "</div>", ""]
    (root / "security" / "elements.md").write_text("\n".join(lines), encoding="utf-8")
    return root


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(tag, name) for name, _ in attrs]


def _elements(fields: list[str]) -> _Elements:
    parser = _Elements()
    for field in fields:
        parser.feed(field)
    parser.close()
    return parser


def test_handlers_go_from_every_allowed_element_and_from_images_that_exist(tmp_path: Path) -> None:
    pytest.importorskip("anki")
    from anki_harness import import_apkg, open_collection

    from aws_anki.render import ALLOWED_ATTRIBUTES, ALLOWED_TAGS

    result = aws_anki.build_deck([_allowlist_vault(tmp_path / "notes")], run=RunOptions(use_cache=False))
    (packaged,) = result.media_files  # the image exists, so it is packaged and kept on cards
    out = tmp_path / "elements.apkg"
    result.write(out, use_state=False)
    with open_collection(tmp_path / "anki") as col:
        import_apkg(col, out)
        fields = [field for nid in col.find_notes("") for field in col.get_note(nid).fields]
    seen = _elements(fields)
    assert ALLOWED_TAGS <= seen.tags, sorted(ALLOWED_TAGS - seen.tags)  # every element kept reached the deck
    assert sum(f.count(f'<img src="{packaged}"') for f in fields) >= 2 * len(ALLOWED_TAGS - _COVERED_BY_NESTING)
    handlers = [(tag, name) for tag, name in seen.attributes if name.lower().startswith("on")]
    assert handlers == []
    assert {(tag, name) for tag, name in seen.attributes} <= {(t, n) for t, names in ALLOWED_ATTRIBUTES.items() for n in names}
    assert all(not dangers(field) for field in fields), [dangers(f) for f in fields if dangers(f)]


# Broken files ------------------------------------------------------------------------------------


def _long_line(words: tuple[str, ...] = ("the", "**bucket**", "`code`", "[link](https://example.com)", "$5", "*em*",
                                         "~~old~~", "{{x}}", "is", "and")) -> str:
    """A 1 MB single line, by default a bullet full of markup (bold spans are cloze candidates)."""
    line: list[str] = []
    size = 0
    index = 0
    while size < 1_000_000:
        word = words[index % len(words)] if index % 7 else f"word{index}"
        line.append(word)
        size += len(word) + 1
        index += 1
    return "# Long line\n\n- " + " ".join(line) + "\n"


def _pasted_blob() -> str:
    """A 1 MB single line as pasted data usually is: no markup at all."""
    return _long_line(("eyJhbGciOiJIUzI1NiJ9", "c3RvcmFnZQ", "YnVja2V0", "0123456789abcdef"))


def _deep_list(levels: int = 300) -> str:
    return "# Deep list\n\n" + "".join("  " * i + f"- level {i} holds **item {i}**\n" for i in range(levels))


@pytest.fixture
def broken(tmp_path: Path, make_unreadable: Callable[[Path], None]) -> Iterator[Path]:
    """The committed broken files plus the ones git cannot hold: huge, unreadable, looping."""
    root = tmp_path / "broken"
    shutil.copytree(FIXTURES / "broken", root)
    (root / "long-line.md").write_text(_pasted_blob())
    (root / "deep-list.md").write_text(_deep_list())
    unreadable = root / "unreadable.md"
    unreadable.write_text("# Secret\n\n- **Hidden**: yes\n")
    make_unreadable(unreadable)
    (root / "loop-a.md").symlink_to(root / "loop-b.md")
    (root / "loop-b.md").symlink_to(root / "loop-a.md")
    (root / "folder-loop").mkdir()
    (root / "folder-loop" / "again").symlink_to(root)
    yield root


def test_broken_files_warn_by_name_and_the_rest_is_built(broken: Path) -> None:
    alone = aws_anki.build_deck([FIXTURES / "broken" / "good.md"], run=RunOptions(use_cache=False))
    result = aws_anki.build_deck([broken], run=RunOptions(use_cache=False))
    good = {(n.fields[0], n.fields[1]) for n in result.notes if n.source.path == "good.md"}
    assert good == {(n.fields[0], n.fields[1]) for n in alone.notes} and len(good) == 3
    warned = {w.path: w.code for w in result.report.warnings}
    assert warned["empty.md"] == "empty"
    assert warned["front-matter-only.md"] == "empty"
    assert warned["binary.md"] == "binary"
    assert warned["long-line.md"] == "long-line"
    assert warned["deep-list.md"] == "nested-too-deep"
    assert warned["loop-a.md"] == warned["loop-b.md"] == "unreadable"
    assert warned["folder-loop/again"] == "symlink-loop"
    assert warned["unreadable.md"] == "unreadable"
    by_file = {w.path: str(w) for w in result.report.warnings}
    assert by_file["deep-list.md"].startswith("deep-list.md:23: ")  # the 21st level: the first one flattened
    assert by_file["long-line.md"].startswith("long-line.md:3: line is 1,000,")
    assert all(str(w).startswith(w.path) for w in result.report.warnings)


def _build_alone(path: Path, tmp_path: Path) -> int:
    """Notes a fresh process builds from `path` (how fast is for benchmarks/, not asserted here)."""
    script = "import sys, aws_anki\nprint(aws_anki.build_deck([sys.argv[1]], run=aws_anki.RunOptions(use_cache=False)).report.notes)\n"
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          env={**os.environ, "AWS_ANKI_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.parametrize(("name", "make"), [("long-line.md", _long_line), ("pasted-blob.md", _pasted_blob), ("deep-list.md", _deep_list)])
def test_huge_inputs_build(tmp_path: Path, name: str, make: Callable[[], str]) -> None:
    path = tmp_path / "notes" / name
    path.parent.mkdir()
    path.write_text(make())
    print(f"{name}: {_build_alone(path, tmp_path)} notes")


# Atomic writes -----------------------------------------------------------------------------------


@pytest.fixture
def written(tmp_path: Path) -> tuple[aws_anki.BuildResult, Path, bytes, bytes]:
    """A deck with media written once; the previous file and state a failed rewrite must keep."""
    notes = tmp_path / "notes"
    shutil.copytree(Path(__file__).parent / "fixtures" / "rich" / "notes" / "networking", notes / "networking")
    result = aws_anki.build_deck([notes], run=RunOptions(use_cache=False))
    assert result.media_files
    out = tmp_path / "out" / "deck.apkg"
    result.write(out)
    state = out.with_name(out.name + ".lock.json")
    return result, out, out.read_bytes(), state.read_bytes() if state.exists() else b""


def _fail_on_call(number: int, error: BaseException, original: Callable[..., Any]) -> Callable[..., Any]:
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == number:
            raise error
        return original(*args, **kwargs)

    return failing


@pytest.mark.parametrize(
    ("target", "attribute", "call", "error"),
    [
        (zipfile.ZipFile, "write", 2, OSError(28, "No space left on device")),  # the media, after the collection
        (zipfile.ZipFile, "write", 2, KeyboardInterrupt()),
        (zipfile.ZipFile, "writestr", 1, KeyboardInterrupt()),
        (os, "replace", 1, OSError(18, "Invalid cross-device link")),
        (os, "replace", 1, KeyboardInterrupt()),
    ],
)
def test_failed_write_keeps_the_previous_deck(
    written: tuple[aws_anki.BuildResult, Path, bytes, bytes],
    monkeypatch: pytest.MonkeyPatch,
    target: Any,
    attribute: str,
    call: int,
    error: BaseException,
) -> None:
    result, out, before, state_before = written
    monkeypatch.setattr(target, attribute, _fail_on_call(call, error, getattr(target, attribute)))
    expected = KeyboardInterrupt if isinstance(error, KeyboardInterrupt) else AwsAnkiError
    with pytest.raises(expected):
        result.write(out, now=2_000_000_000)
    monkeypatch.undo()
    assert out.read_bytes() == before
    state = out.with_name(out.name + ".lock.json")
    assert (state.read_bytes() if state.exists() else b"") == state_before
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(p.name for p in [out, state] if p.exists())


# --strict ----------------------------------------------------------------------------------------


def test_strict_fails_on_hostile_and_missing_image_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ANKI_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "deck.apkg"
    loose = CliRunner().invoke(cli, ["build", str(FIXTURES / "notes"), "-o", str(out), "-q"])
    assert loose.exit_code == 0, loose.output
    strict = CliRunner().invoke(cli, ["build", str(FIXTURES / "notes"), "-o", str(out), "-q", "--strict"])
    assert strict.exit_code == 1
    assert "security/xss.md:7: image 'x' not found" in strict.output

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "iam.md").write_text("# AWS IAM\n\n- **Password file**: never in a deck\n![](../../etc/passwd)\n")
    strict = CliRunner().invoke(cli, ["build", str(notes), "-o", str(tmp_path / "iam.apkg"), "--strict", "--json"])
    assert strict.exit_code == 1
    report = json.loads(strict.output)
    assert any(w.startswith("iam.md:3: ") and "[outside-root]" in w for w in report["warnings"])
