// The library: confirm deletes in a dialog (the link opens a confirmation page without
// JavaScript), and keep the status of assets still being processed up to date.
(function () {
  "use strict";

  var dialog = document.getElementById("delete-dialog");
  var POLL_MS = 3000;

  if (dialog && typeof dialog.showModal === "function") {
    var form = dialog.querySelector("[data-delete-form]");
    var nameSlot = dialog.querySelector("[data-delete-name]");
    var opener = null;

    document.addEventListener("click", function (event) {
      var trigger = event.target.closest("[data-delete]");
      if (!trigger) return;
      event.preventDefault();
      opener = trigger;
      form.action = trigger.getAttribute("href");
      nameSlot.textContent = trigger.dataset.filename;
      dialog.showModal();
      // Start on Cancel: Enter or Space on a dialog that just opened must not delete anything.
      dialog.querySelector("[data-cancel]").focus();
    });
    dialog.querySelector("[data-cancel]").addEventListener("click", function () {
      dialog.close();
    });
    dialog.addEventListener("close", function () {
      if (opener) opener.focus();
    });
  }

  var library = document.querySelector("[data-library]");
  if (!library) return;
  var template = library.dataset.itemUrlTemplate;
  var placeholder = library.dataset.placeholderId;
  var LABELS = { uploading: "Uploading", pending: "Waiting", processing: "Processing", ready: "Ready", failed: "Failed" };

  function refresh(row) {
    var url = template.replace(placeholder, row.dataset.assetId);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (asset) {
        if (!asset) return;
        if (asset.status === "ready") {
          // Poster, size and duration are all new: the simplest truthful update is a reload.
          window.location.reload();
          return;
        }
        var badge = row.querySelector("[data-status-badge]");
        badge.textContent = LABELS[asset.status] || asset.status;
        badge.className = "badge badge--" + asset.status;
        row.dataset.status = asset.status;
        if (asset.status === "failed") {
          var error = row.querySelector("[data-error]");
          error.textContent = asset.error || "No reason was recorded.";
          error.hidden = false;
        } else {
          window.setTimeout(function () { refresh(row); }, POLL_MS);
        }
      })
      .catch(function () { window.setTimeout(function () { refresh(row); }, POLL_MS); });
  }

  library.querySelectorAll('[data-status="uploading"], [data-status="pending"], [data-status="processing"]').forEach(function (row) {
    window.setTimeout(function () { refresh(row); }, POLL_MS);
  });
})();
