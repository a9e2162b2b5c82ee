// The aws-anki preview page: filter, search, flip, night mode. aws_anki/preview.py fills in the night classes.
(function () {
  "use strict";
  var NIGHT = __NIGHT_CLASSES__;
  var body = document.body;
  var items = Array.prototype.slice.call(document.querySelectorAll(".pv-item"));
  var search = document.getElementById("pv-search");
  var service = document.getElementById("pv-service");
  var kind = document.getElementById("pv-kind");
  var status = document.getElementById("pv-status");
  var empty = document.getElementById("pv-empty");
  var answers = document.getElementById("pv-answers");
  var night = document.getElementById("pv-night");
  var chips = Array.prototype.slice.call(document.querySelectorAll(".pv-chip"));
  var texts = null;
  var timer = 0;

  function searchText(item) {
    var faces = item.querySelectorAll(".pv-face");
    var text = item.getAttribute("data-service") + " " + item.querySelector(".pv-src").textContent;
    for (var i = 0; i < faces.length; i++) { text += " " + faces[i].textContent; }
    return text.toLowerCase().replace(/\s+/g, " ");
  }

  function apply() {
    var wantService = service.value, wantKind = kind.value;
    var terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    if (terms.length && texts === null) { texts = items.map(searchText); }
    var shown = 0;
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      var ok = (!wantService || item.getAttribute("data-service") === wantService) &&
               (!wantKind || item.getAttribute("data-kind") === wantKind);
      for (var t = 0; ok && t < terms.length; t++) { ok = texts[i].indexOf(terms[t]) !== -1; }
      if (item.hidden === ok) { item.hidden = !ok; }
      if (ok) { shown++; }
    }
    status.textContent = "Showing " + shown.toLocaleString("en") + " of " + items.length.toLocaleString("en") + " cards";
    empty.hidden = shown !== 0;
    chips.forEach(function (chip) {
      chip.setAttribute("aria-pressed", String(chip.getAttribute("data-service") === wantService));
    });
  }

  function flip(item, showBack) {
    var faces = item.querySelectorAll(".pv-face");
    faces[0].hidden = showBack;
    faces[1].hidden = !showBack;
    var button = item.querySelector(".pv-flip");
    button.setAttribute("aria-pressed", String(showBack));
    button.textContent = showBack ? "Show question" : "Show answer";
  }

  function setNight(on) {
    NIGHT.forEach(function (name) { body.classList.toggle(name, on); });
    var cards = document.querySelectorAll(".card");
    for (var i = 0; i < cards.length; i++) {
      NIGHT.forEach(function (name) { cards[i].classList.toggle(name, on); });
    }
    night.setAttribute("aria-pressed", String(on));
    try { localStorage.setItem("aws-anki-preview-night", on ? "1" : "0"); } catch (e) { /* storage off */ }
  }

  search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(apply, 120); });
  service.addEventListener("change", apply);
  kind.addEventListener("change", apply);
  chips.forEach(function (chip) {
    chip.addEventListener("click", function () {
      var name = chip.getAttribute("data-service");
      service.value = service.value === name ? "" : name;
      apply();
    });
  });
  document.getElementById("pv-list").addEventListener("click", function (event) {
    var button = event.target.closest(".pv-flip");
    if (button) { flip(button.closest(".pv-item"), button.getAttribute("aria-pressed") !== "true"); return; }
    // A tap on the card turns it over, as in AnkiMobile (not when following a link or selecting text).
    var face = event.target.closest(".pv-face");
    if (face && !event.target.closest("a") && String(window.getSelection()) === "") {
      flip(face.closest(".pv-item"), face.classList.contains("pv-front"));
    }
  });
  answers.addEventListener("click", function () {
    var on = answers.getAttribute("aria-pressed") !== "true";
    answers.setAttribute("aria-pressed", String(on));
    answers.textContent = on ? "Show questions" : "Show answers";
    items.forEach(function (item) { flip(item, on); });
  });
  night.addEventListener("click", function () { setNight(night.getAttribute("aria-pressed") !== "true"); });

  var stored = null;
  try { stored = localStorage.getItem("aws-anki-preview-night"); } catch (e) { /* storage off */ }
  if (stored === "1" || (stored === null && window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches)) {
    setNight(true);
  }
  if (search.value || service.value || kind.value) { apply(); }
})();
