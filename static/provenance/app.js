// chainsweb dashboard: copy buttons. Loaded as a file (CSP: script-src 'self'), no inline code.
// Any element with data-copy="text" copies that text; the button says "Copied" for a moment and
// a polite live region announces it to screen readers.
(function () {
  "use strict";

  function announce(message) {
    var region = document.getElementById("live-region");
    if (region) {
      region.textContent = "";
      window.setTimeout(function () { region.textContent = message; }, 30);
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    event.preventDefault();
    var label = button.querySelector(".copy-text");
    copy(button.getAttribute("data-copy")).then(function () {
      button.classList.add("copied");
      if (label) { label.textContent = "Copied"; }
      announce("Copied to the clipboard");
      window.setTimeout(function () {
        button.classList.remove("copied");
        if (label) { label.textContent = "Copy"; }
      }, 1600);
    }, function () {
      announce("Could not copy; select the text instead");
    });
  });
})();
