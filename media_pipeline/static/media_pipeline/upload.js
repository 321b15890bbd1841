// The upload page: choose or drop files, send each with XHR (fetch has no upload progress),
// then follow the asset's processing status from the API until it is ready or failed.
// Text from files and the server is only ever set with textContent, never parsed as HTML.
(function () {
  "use strict";

  var form = document.querySelector("[data-uploader]");
  if (!form) return;

  var MAX_PARALLEL = 2; // two uploads at once keep the link busy without starving either
  var POLL_FIRST_MS = 700;
  var POLL_MAX_MS = 5000;

  var input = form.querySelector('input[type="file"]');
  var dropzone = form.querySelector("[data-dropzone]");
  var section = document.querySelector("[data-uploads-section]");
  var list = document.querySelector("[data-upload-list]");
  var template = document.getElementById("upload-item-template");
  var maxSize = Number(form.dataset.maxSize);
  var uploadUrl = form.dataset.uploadUrl;
  var itemUrlTemplate = form.dataset.itemUrlTemplate;
  var placeholderId = form.dataset.placeholderId;
  // The form's own token: it works whether Django keeps CSRF in a cookie or in the session.
  var csrfToken = form.querySelector('input[name="csrfmiddlewaretoken"]').value;

  var queue = [];
  var active = 0;

  // Same units as Django's filesizeformat, so the page and the limit text agree.
  function formatSize(bytes) {
    var units = ["bytes", "KB", "MB", "GB", "TB"];
    var value = bytes;
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return unit === 0 ? bytes + " bytes" : value.toFixed(1) + "\u00a0" + units[unit];
  }

  function glyphFor(type) {
    if (type.indexOf("video/") === 0) return "\u25b6";
    if (type.indexOf("audio/") === 0) return "\u266a";
    if (type.indexOf("image/") === 0) return "\u25a3";
    return "\u2022";
  }

  function createItem(file) {
    var node = template.content.firstElementChild.cloneNode(true);
    var item = {
      file: file,
      node: node,
      progress: node.querySelector("progress"),
      status: node.querySelector(".upload__status"),
      actions: node.querySelector(".upload__actions"),
      thumb: node.querySelector(".upload__thumb"),
      assetId: null,
      pollDelay: POLL_FIRST_MS,
    };
    node.querySelector(".upload__name").textContent = file.name;
    node.querySelector(".upload__size").textContent = formatSize(file.size);
    node.querySelector(".upload__glyph").textContent = glyphFor(file.type || "");
    item.progress.setAttribute("aria-label", "Upload progress of " + file.name);
    section.hidden = false;
    list.appendChild(node);
    return item;
  }

  function setState(item, state, message) {
    item.node.dataset.state = state;
    item.status.textContent = message;
  }

  function addAction(item, element) {
    item.actions.appendChild(element);
  }

  function link(text, href) {
    var a = document.createElement("a");
    a.className = "button";
    a.href = href;
    a.textContent = text;
    return a;
  }

  function retryButton(item) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = "Try again";
    button.addEventListener("click", function () {
      item.actions.textContent = "";
      item.progress.value = 0;
      enqueue(item);
    });
    return button;
  }

  function addFiles(files) {
    Array.prototype.forEach.call(files, function (file) {
      var item = createItem(file);
      if (file.size > maxSize) {
        setState(item, "rejected", "Too large to upload: this file is " + formatSize(file.size) +
          " and the limit is " + formatSize(maxSize) + ". It was not sent.");
      } else if (file.size === 0) {
        setState(item, "rejected", "This file is empty, so there is nothing to upload. It was not sent.");
      } else {
        enqueue(item);
      }
    });
  }

  function enqueue(item) {
    setState(item, "queued", "Waiting to upload\u2026");
    queue.push(item);
    pump();
  }

  function pump() {
    while (active < MAX_PARALLEL && queue.length) {
      active += 1;
      send(queue.shift());
    }
  }

  function finished() {
    active -= 1;
    pump();
  }

  function errorMessage(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error) return body.error;
    } catch (ignored) { /* not JSON: fall through to the generic text */ }
    if (xhr.status === 401) return "Your session has ended. Sign in again, then retry.";
    if (xhr.status === 403) return "The upload was refused (the page may be stale). Reload the page and try again.";
    if (xhr.status === 413) return "The server refused the file because it is too large.";
    return "The server answered " + xhr.status + ". Please try again.";
  }

  function send(item) {
    var xhr = new XMLHttpRequest();
    var data = new FormData();
    data.append("file", item.file, item.file.name);
    setState(item, "uploading", "Uploading\u2026 0%");

    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      // The body includes multipart framing; cap below 100 until the server has answered.
      var percent = Math.min(99, Math.floor((event.loaded / event.total) * 100));
      if (percent > item.progress.value) item.progress.value = percent;
      item.status.textContent = "Uploading\u2026 " + percent + "%";
    });
    xhr.addEventListener("load", function () {
      finished();
      if (xhr.status === 202 || xhr.status === 201) {
        item.progress.value = 100;
        var asset = JSON.parse(xhr.responseText);
        item.assetId = asset.id;
        item.node.dataset.assetId = asset.id;
        show(item, asset);
        schedulePoll(item);
      } else {
        setState(item, "error", "Upload failed: " + errorMessage(xhr));
        if (xhr.status !== 413 && xhr.status !== 400) addAction(item, retryButton(item));
      }
    });
    xhr.addEventListener("error", function () {
      finished();
      setState(item, "error", "The connection dropped before the upload finished. Nothing was kept.");
      addAction(item, retryButton(item));
    });
    xhr.addEventListener("abort", function () {
      finished();
      setState(item, "error", "The upload was cancelled.");
      addAction(item, retryButton(item));
    });

    xhr.open("POST", uploadUrl);
    xhr.setRequestHeader("X-CSRFToken", csrfToken);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.send(data);
  }

  // Render the asset's status; returns true once it is final.
  function show(item, asset) {
    if (asset.status === "ready") {
      setState(item, "ready", "Ready to play.");
      item.progress.value = 100;
      if (asset.poster_url) {
        var img = document.createElement("img");
        img.src = asset.poster_url;
        img.alt = "";
        item.thumb.textContent = "";
        item.thumb.appendChild(img);
      }
      item.actions.textContent = "";
      addAction(item, link("Open", asset.player_url));
      return true;
    }
    if (asset.status === "failed") {
      // The glyph was guessed from the file's name; the server has now said otherwise.
      item.node.querySelector(".upload__glyph").textContent = "!";
      setState(item, "failed", "We couldn\u2019t process this file: " +
        (asset.error || "no reason was recorded."));
      return true;
    }
    if (asset.status === "processing" && asset.progress !== null && asset.progress !== undefined) {
      // A transcode under way: how far it has got (the bar showed the upload; now the work).
      setState(item, "processing", "Uploaded. Converting it for browsers\u2026 " + asset.progress + "%");
      item.progress.value = asset.progress;
    } else if (asset.status === "processing") {
      setState(item, "processing", "Uploaded. Preparing it for streaming\u2026");
    } else {
      setState(item, "pending", "Uploaded. Waiting for a worker\u2026");
    }
    return false;
  }

  function schedulePoll(item) {
    window.setTimeout(function () { poll(item); }, item.pollDelay);
    // Back off gently: long videos take a while, and idle tabs should not hammer the server.
    item.pollDelay = Math.min(POLL_MAX_MS, Math.round(item.pollDelay * 1.3));
  }

  function poll(item) {
    var url = itemUrlTemplate.replace(placeholderId, item.assetId);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 404) {
          setState(item, "failed", "This upload no longer exists; it may have been deleted.");
          return null;
        }
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (asset) {
        if (asset && !show(item, asset)) schedulePoll(item);
      })
      .catch(function () {
        // A blip (server restart, network change): keep following, the asset is safe.
        schedulePoll(item);
      });
  }

  // --- Choosing and dropping -------------------------------------------------------------

  input.addEventListener("change", function () {
    if (input.files && input.files.length) addFiles(input.files);
    input.value = ""; // so choosing the same file again fires change again
  });

  function hasFiles(event) {
    return event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") !== -1;
  }

  var dragDepth = 0;
  dropzone.addEventListener("dragenter", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    dropzone.classList.add("dropzone--active");
  });
  dropzone.addEventListener("dragover", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  dropzone.addEventListener("dragleave", function () {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) dropzone.classList.remove("dropzone--active");
  });
  dropzone.addEventListener("drop", function (event) {
    event.preventDefault();
    dragDepth = 0;
    dropzone.classList.remove("dropzone--active");
    if (event.dataTransfer.files.length) addFiles(event.dataTransfer.files);
  });
  // A file dropped beside the zone must not make the browser navigate away to open it.
  window.addEventListener("dragover", function (event) { if (hasFiles(event)) event.preventDefault(); });
  window.addEventListener("drop", function (event) { if (hasFiles(event)) event.preventDefault(); });

  // The no-JavaScript form posts to the API; with JavaScript, uploads go through XHR instead.
  form.addEventListener("submit", function (event) { event.preventDefault(); });
})();
