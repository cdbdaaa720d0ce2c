// Search as you type without searching half-typed IME input: while a Chinese input method composes
// (pinyin letters not yet turned into characters) no search is sent; the characters chosen at
// compositionend are. htmx listens for "kb-typed" (see public/_searchbox.html).
(function () {
  "use strict";
  function wire(box) {
    var composing = false;
    function typed() { box.dispatchEvent(new Event("kb-typed")); }
    box.addEventListener("compositionstart", function () { composing = true; });
    box.addEventListener("compositionend", function () { composing = false; typed(); });
    box.addEventListener("input", function (event) {
      if (!composing && !event.isComposing) { typed(); }
    });
  }
  function init() {
    var box = document.getElementById("kb-q");
    if (box && !box.dataset.kbWired) { box.dataset.kbWired = "1"; wire(box); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
