// The player page: copy the share link, and reload once an asset still being processed is
// ready or failed, so its owner never has to guess when to refresh.
(function () {
  "use strict";

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    var status = button.closest(".field").querySelector("[data-copy-status]");
    button.addEventListener("click", function () {
      function copied() { status.textContent = "Link copied."; }
      function fallback() {
        // Clipboard API refused (insecure context, permissions): select it for Ctrl/Cmd+C.
        field.focus();
        field.select();
        status.textContent = "Press Ctrl+C (or \u2318C) to copy the selected link.";
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(copied, fallback);
      } else {
        fallback();
      }
    });
    // One click selects the whole link, which is what anyone clicking it wants.
    field.addEventListener("focus", function () { field.select(); });
  });

  var player = document.querySelector("[data-player]");
  if (!player || !player.dataset.itemUrl) return;
  var status = player.dataset.status;
  if (status !== "pending" && status !== "processing") return;

  var delay = 1000;
  function poll() {
    fetch(player.dataset.itemUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (asset) {
        if (asset && (asset.status === "ready" || asset.status === "failed")) {
          window.location.reload();
          return;
        }
        if (asset && asset.status === "processing") {
          var text = player.querySelector("[data-pending-text]");
          if (text) text.textContent = "Preparing this file for streaming\u2026";
        }
        delay = Math.min(5000, delay * 1.3);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, delay);
})();
