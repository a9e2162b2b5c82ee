"""The card preview page in a real headless Chromium (Debian's chromium + chromedriver, Selenium).

One browser for the whole module. Skipped when selenium, chromium or chromedriver are missing
(`.ci/run` installs them). Screenshots go to the test's temp folder, and also to $AWS_ANKI_SCREENSHOTS when that names a folder.
"""
from __future__ import annotations

import base64
import os
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

import aws_anki
from aws_anki.preview import write_preview
from aws_anki.options import DeckOptions

pytest.importorskip("selenium")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
)
DESKTOP = (1280, 900)
PHONE = (390, 844)

# Long unbreakable things a phone must cope with: a wide table, a long link, a long code line.
WIDE_BACK = (
    "<table><thead><tr>" + "".join(f"<th>Column heading {i}</th>" for i in range(8)) + "</tr></thead>"
    "<tbody><tr>" + "".join(f"<td>value-{i}-without-spaces-{'x' * 12}</td>" for i in range(8)) + "</tr></tbody></table>"
    '<p><a href="https://docs.aws.amazon.com/AmazonS3/latest/userguide/' + "a" * 90 + '.html">https://docs.aws.amazon.com/'
    "AmazonS3/latest/userguide/" + "a" * 90 + ".html</a></p>"
    "<pre><code>aws s3api put-bucket-policy --bucket " + "example-" * 20 + " --policy file://policy.json</code></pre>"
)


def _binary(name: str) -> str | None:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    return found


CHROMIUM = _binary("chromium")
CHROMEDRIVER = _binary("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromedriver are not installed")


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> aws_anki.BuildResult:
    """The fixture vault, with reverse cards and one note made deliberately wide."""
    vault = tmp_path_factory.mktemp("vault") / "vault"
    shutil.copytree(FIXTURES / "vault", vault)
    result = aws_anki.build_deck([vault], DeckOptions(reverse="all"))
    index, basic = next((i, n) for i, n in enumerate(result.notes) if n.note_type == "basic" and n.cards == 1)
    extra = '<img src="flow-0123456789.svg" alt="flow">'  # an image, whatever the extractor attaches
    wide = replace(basic, fields=(basic.fields[0], WIDE_BACK, basic.fields[2], extra, *basic.fields[4:]))
    notes = (*result.notes[:index], wide, *result.notes[index + 1 :])
    media = {**result.media_files, "flow-0123456789.svg": vault / "attachments" / "lambda-flow.svg"}
    return replace(result, notes=notes, media_files=media, report=replace(result.report, cards=sum(n.cards for n in notes)))


@pytest.fixture(scope="module")
def url(build: aws_anki.BuildResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_preview(build, tmp_path_factory.mktemp("page") / "preview.html").as_uri()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in CHROME_ARGS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(autouse=True)
def no_console_errors(driver: WebDriver) -> Iterator[None]:
    """Every test ends with no SEVERE browser console entries (script errors, blocked loads)."""
    driver.get_log("browser")  # type: ignore[attr-defined]  # drop what earlier tests left
    yield
    logs = driver.get_log("browser")  # type: ignore[attr-defined]
    severe = [entry["message"] for entry in logs if entry["level"] == "SEVERE"]
    assert not severe, severe


def _viewport(driver: WebDriver, size: tuple[int, int], *, mobile: bool = False) -> None:
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def _open(driver: WebDriver, url: str, size: tuple[int, int] = DESKTOP, *, mobile: bool = False) -> None:
    """Load the page fresh at a viewport size, in light mode (the night choice is remembered)."""
    _viewport(driver, size, mobile=mobile)
    driver.get(url)
    if driver.find_element(By.ID, "pv-night").get_attribute("aria-pressed") == "true":
        driver.find_element(By.ID, "pv-night").click()


def _shown(driver: WebDriver) -> list[dict[str, str]]:
    """The cards on show (one round trip): their service, kind and text."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.pv-item')).filter(i => !i.hidden && i.offsetParent)"
        ".map(i => ({service: i.dataset.service, kind: i.dataset.kind, text: i.textContent.toLowerCase()}));"
    )


def _lay_out_everything(driver: WebDriver) -> None:
    """Turn off the page's `content-visibility: auto`, so off-screen cards are laid out and painted."""
    driver.execute_script(
        "const s = document.createElement('style'); s.textContent = '.pv-item { content-visibility: visible !important; }';"
        "document.head.appendChild(s);"
    )


def _status(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "pv-status").text


def _wait_status(driver: WebDriver, text: str) -> None:
    WebDriverWait(driver, 3, poll_frequency=0.05).until(lambda d: _status(d) == text)


def test_page_loads_without_console_errors(driver: WebDriver, url: str, build: aws_anki.BuildResult) -> None:
    _open(driver, url)
    assert driver.execute_script("return document.readyState") == "complete"
    assert len(driver.find_elements(By.CSS_SELECTOR, ".pv-item")) == build.report.cards
    assert _status(driver) == f"Showing {build.report.cards} of {build.report.cards} cards"
    # Images are embedded and actually decode.
    driver.find_element(By.ID, "pv-answers").click()
    sizes = driver.execute_script(
        "return Array.from(document.querySelectorAll('.pv-back img')).map(i => { i.scrollIntoView(); return [i.complete, i.naturalWidth]; });"
    )
    assert sizes and all(complete and width > 0 for complete, width in sizes)


def test_cloze_front_hides_the_answer_and_the_back_shows_it(driver: WebDriver, url: str) -> None:
    _open(driver, url)
    item = next(i for i in driver.find_elements(By.CSS_SELECTOR, ".pv-item") if "bills duration" in i.text)
    front = item.find_element(By.CSS_SELECTOR, ".pv-front")
    back = item.find_element(By.CSS_SELECTOR, ".pv-back")
    assert front.is_displayed() and not back.is_displayed()
    assert "[...]" in front.text and "1 ms increments" not in front.text
    assert "1 ms increments" not in item.text  # nothing of the answer is visible anywhere
    button = item.find_element(By.CSS_SELECTOR, ".pv-flip")
    button.click()
    assert back.is_displayed() and not front.is_displayed()
    assert "1 ms increments" in back.text and "[...]" not in back.text
    assert back.find_element(By.CSS_SELECTOR, ".cloze").text == "1 ms increments"
    assert button.text == "Show question"
    back.click()  # a tap on the card turns it over too, as in AnkiMobile
    assert front.is_displayed() and not back.is_displayed()
    assert button.text == "Show answer"

    # The global toggle flips every card, and back.
    driver.find_element(By.ID, "pv-answers").click()
    counts = "return [document.querySelectorAll('.pv-back:not([hidden])').length, document.querySelectorAll('.pv-front:not([hidden])').length];"
    total = len(driver.find_elements(By.CSS_SELECTOR, ".pv-item"))
    assert driver.execute_script(counts) == [total, 0]
    driver.find_element(By.ID, "pv-answers").click()
    assert driver.execute_script(counts) == [0, total]


def test_service_filter_changes_what_is_shown(driver: WebDriver, url: str, build: aws_anki.BuildResult) -> None:
    _open(driver, url)
    cards: Counter[str] = Counter()
    for note in build.notes:
        cards[note.service or "(unresolved)"] += note.cards
    assert len(cards) >= 2
    total = build.report.cards
    for service, expected in cards.items():
        Select(driver.find_element(By.ID, "pv-service")).select_by_value(service)
        shown = _shown(driver)
        assert len(shown) == expected < total
        assert {item["service"] for item in shown} == {service}
        assert _status(driver) == f"Showing {expected} of {total} cards"
    # A chip in "Cards per service" filters too, and a second click clears it.
    Select(driver.find_element(By.ID, "pv-service")).select_by_value("")
    driver.find_element(By.CSS_SELECTOR, ".pv-counts summary").click()
    chip = driver.find_element(By.CSS_SELECTOR, ".pv-chip")
    chip.click()
    assert Select(driver.find_element(By.ID, "pv-service")).first_selected_option.get_attribute("value") == chip.get_attribute("data-service")
    assert chip.get_attribute("aria-pressed") == "true"
    assert len(_shown(driver)) == cards[str(chip.get_attribute("data-service"))]
    chip.click()
    assert len(_shown(driver)) == total
    # And the kind filter.
    Select(driver.find_element(By.ID, "pv-kind")).select_by_value("cloze")
    assert {item["kind"] for item in _shown(driver)} == {"cloze"}


def test_search_changes_what_is_shown(driver: WebDriver, url: str, build: aws_anki.BuildResult) -> None:
    _open(driver, url)
    total = build.report.cards
    search = driver.find_element(By.ID, "pv-search")
    search.send_keys("placement  GROUP")  # case and spacing do not matter; every word must match
    WebDriverWait(driver, 3, poll_frequency=0.05).until(lambda d: _status(d) != f"Showing {total} of {total} cards")
    shown = _shown(driver)
    assert 0 < len(shown) < total
    for item in shown:
        assert "placement" in item["text"] and "group" in item["text"]
    search.send_keys(" zzzznothing")
    _wait_status(driver, f"Showing 0 of {total} cards")
    assert driver.find_element(By.ID, "pv-empty").is_displayed()
    search.clear()
    search.send_keys(" ")
    _wait_status(driver, f"Showing {total} of {total} cards")
    assert not driver.find_element(By.ID, "pv-empty").is_displayed()


_COLOURS_JS = """
const out = {};
for (const [name, selector] of Object.entries(arguments[0])) {
  const el = document.querySelector(selector);
  const style = getComputedStyle(el);
  out[name] = [style.color, style.backgroundColor];
}
return out;
"""

# For each visible text element: its colour and the first opaque background behind it.
_CONTRAST_JS = """
function rgb(value) { const m = value.match(/[\\d.]+/g).map(Number); return m.length > 3 ? m : [...m, 1]; }
function background(el) {
  for (; el; el = el.parentElement) {
    const c = rgb(getComputedStyle(el).backgroundColor);
    if (c[3] > 0.5) return c;
  }
  return [255, 255, 255, 1];
}
const found = [];
for (const el of document.querySelectorAll(arguments[0])) {
  if (!el.offsetParent || !el.textContent.trim()) continue;
  found.push([el.className || el.tagName, rgb(getComputedStyle(el).color), background(el)]);
}
return found;
"""

_TEXT_SELECTORS = (
    ".pv-title, .pv-summary, .pv-status, .pv-btn, .pv-input, .pv-svc, .pv-pill, .pv-src, "
    ".card .context, .card .prompt, .card .answer, .card .extra, .card .source, .card .cloze, "
    ".card .ask, .card dt, .card dd, .card code, .card a, .card td, .card th"
)


def _luminance(colour: list[float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in colour[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast(foreground: list[float], background: list[float]) -> float:
    high, low = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _low_contrast(driver: WebDriver) -> list[tuple[str, float]]:
    rows = driver.execute_script(_CONTRAST_JS, _TEXT_SELECTORS)
    assert len(rows) > 20
    return [(name, round(_contrast(fg, bg), 2)) for name, fg, bg in rows if _contrast(fg, bg) < 4.5]


def test_night_toggle_uses_the_decks_night_colours(driver: WebDriver, url: str) -> None:
    _open(driver, url)
    driver.find_element(By.ID, "pv-answers").click()  # backs: cloze spans, extras, sources
    probes = {"card": ".pv-back.card", "context": ".pv-back .context", "cloze": ".pv-back .cloze", "page": "body"}
    light = driver.execute_script(_COLOURS_JS, probes)
    assert not _low_contrast(driver)
    night = driver.find_element(By.ID, "pv-night")
    night.click()
    assert night.get_attribute("aria-pressed") == "true"
    dark = driver.execute_script(_COLOURS_JS, probes)
    for name in probes:
        assert dark[name] != light[name], name
    # Anki's own classes, on the page and on every card, so the deck CSS's night rules apply.
    classes = driver.execute_script(
        "return [document.body.className, new Set(Array.from(document.querySelectorAll('.card'), c => c.classList.contains('nightMode') && c.classList.contains('night_mode'))).size === 1 && document.querySelector('.card').classList.contains('night_mode')];"
    )
    assert "nightMode" in classes[0] and "night_mode" in classes[0] and classes[1]
    assert dark["card"][1] == "rgb(30, 30, 30)"  # style.css: .card.nightMode { background-color: #1e1e1e }
    assert not _low_contrast(driver)
    # The choice survives a reload; turning it off restores the light colours.
    driver.refresh()
    assert "nightMode" in driver.execute_script("return document.body.className")
    driver.find_element(By.ID, "pv-night").click()
    driver.find_element(By.ID, "pv-answers").click()
    assert driver.execute_script(_COLOURS_JS, probes) == light


_OVERFLOW_JS = """
const width = document.documentElement.clientWidth;
const problems = [];
if (document.documentElement.scrollWidth > width) problems.push('page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + width);
for (const el of document.querySelectorAll('.pv-item, .pv-item > .card, .pv-head *')) {
  if (!el.offsetParent) continue;
  const box = el.getBoundingClientRect();
  const name = el.className || el.tagName;
  if (box.left < -0.5 || box.right > width + 0.5) problems.push(name + ' spans ' + box.left + '..' + box.right);
  if (el.classList.contains('card') && el.scrollWidth > el.clientWidth) problems.push(name + ' content is ' + el.scrollWidth + ' wide in ' + el.clientWidth);
}
return problems;
"""


def test_nothing_overflows_at_phone_width(driver: WebDriver, url: str) -> None:
    _open(driver, url, PHONE, mobile=True)
    assert driver.execute_script("return window.innerWidth") == PHONE[0]
    assert driver.execute_script(_OVERFLOW_JS) == []
    driver.find_element(By.ID, "pv-answers").click()  # backs hold the code, tables and long links
    assert driver.execute_script(_OVERFLOW_JS) == []
    _lay_out_everything(driver)  # measure the off-screen cards too
    assert driver.execute_script(_OVERFLOW_JS) == []
    # The long code line scrolls inside its own box; the wide table fits (its cells wrap).
    boxes = driver.execute_script(
        "return Array.from(document.querySelectorAll('.pv-back table, .pv-back pre')).filter(e => e.offsetParent)"
        ".map(e => [e.tagName, e.scrollWidth > e.clientWidth, getComputedStyle(e).overflowX]);"
    )
    assert ["PRE", True, "auto"] in boxes and any(box[0] == "TABLE" for box in boxes)
    # The check does catch overflow: a card made wider than the phone is reported.
    driver.execute_script(
        "const d = document.createElement('div'); d.style.width = '600px'; d.textContent = 'x';"
        "document.querySelector('.pv-back.card .aws-card').appendChild(d);"
    )
    assert driver.execute_script(_OVERFLOW_JS)


def _screenshot(driver: WebDriver, path: Path, width: int, *, max_height: int = 4000) -> None:
    height = min(int(driver.execute_script("return document.documentElement.scrollHeight")), max_height)
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def test_screenshots(driver: WebDriver, url: str, tmp_path: Path) -> None:
    """Desktop and phone, light and night: every other card shows its answer."""
    shots = []
    for label, size, mobile in (("desktop", DESKTOP, False), ("phone", PHONE, True)):
        _open(driver, url, size, mobile=mobile)
        _lay_out_everything(driver)  # a full-page capture does not paint skipped content
        driver.execute_script("document.querySelector('.pv-counts').open = true;")
        driver.execute_script(
            "document.querySelectorAll('.pv-item').forEach((item, i) => { if (i % 2) item.querySelector('.pv-flip').click(); });"
        )
        for mode in ("light", "night"):
            if mode == "night":
                driver.find_element(By.ID, "pv-night").click()
            path = tmp_path / f"preview-{label}-{mode}.png"
            _screenshot(driver, path, size[0])
            assert path.stat().st_size > 10_000
            shots.append(path)
        assert shots[-1].read_bytes() != shots[-2].read_bytes()  # night mode changed what is shown
    keep = os.environ.get("AWS_ANKI_SCREENSHOTS")  # to look at them after the run: asked for, never by default
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copy2(path, Path(keep) / path.name)
