// 试听 on the admin's prompt page: the <audio> element fetches the text as it stands (not yet saved)
// from the admin-only preview route; a text the IVR cannot speak shows the server's reason instead.
(function () {
  "use strict";
  const button = document.getElementById("prompt-preview");
  const text = document.getElementById("prompt-text");
  const audio = document.getElementById("prompt-audio");
  const error = document.getElementById("preview-error");
  if (!button || !text || !audio || !error) return;

  function url() {
    return button.dataset.url + "?text=" + encodeURIComponent(text.value);
  }

  button.addEventListener("click", function () {
    error.hidden = true;
    button.disabled = true;
    button.textContent = "正在合成…";
    audio.hidden = false;
    audio.preload = "auto";
    audio.src = url();
    audio.load();
    audio.play().catch(function () { /* autoplay refused: the controls are there */ });
  });

  function done() {
    button.disabled = false;
    button.textContent = "试听";
  }

  audio.addEventListener("loadeddata", done);
  audio.addEventListener("error", function () {
    done();
    audio.hidden = true;
    fetch(url(), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? "" : response.text(); })
      .then(function (message) {
        error.textContent = message || "试听失败，请稍后重试。";
        error.hidden = false;
      })
      .catch(function () {
        error.textContent = "试听失败，请稍后重试。";
        error.hidden = false;
      });
  });
})();
