// The upload page: choose or drop files, send each as a resumable tus upload (tus-js-client,
// vendored in static/media_pipeline/vendor/), then follow the asset's processing status from the
// API until it is ready or failed. A dropped connection is retried from the last byte the server
// confirmed; a file chosen again after the tab was closed resumes where it stopped (tus-js-client
// keeps each upload's URL in localStorage under the file's fingerprint, and forgets it once done).
// Text from files and the server is only ever set with textContent, never parsed as HTML.
(function () {
  "use strict";

  var form = document.querySelector("[data-uploader]");
  if (!form) return;

  var MAX_PARALLEL = 2; // two uploads at once keep the link busy without starving either
  // Network errors and 5xx/409/423 answers are retried after these waits, then reported.
  var RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000];
  var POLL_FIRST_MS = 700;
  var POLL_MAX_MS = 5000;

  var input = form.querySelector('input[type="file"]');
  var dropzone = form.querySelector("[data-dropzone]");
  var section = document.querySelector("[data-uploads-section]");
  var list = document.querySelector("[data-upload-list]");
  var template = document.getElementById("upload-item-template");
  var maxSize = Number(form.dataset.maxSize);
  var tusUrl = form.dataset.tusUrl;
  // One PATCH per chunk (MEDIA_UPLOAD_CHUNK_SIZE): below the body limit of proxies in front,
  // and a dropped chunk costs at most this much again.
  var chunkSize = Number(form.dataset.chunkSize);
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

  function errorMessage(error) {
    var response = error && error.originalResponse;
    if (!response) return "The connection dropped and did not come back. Try again to resume.";
    try {
      var body = JSON.parse(response.getBody());
      if (body && body.error) return body.error;
    } catch (ignored) { /* not JSON: fall through to the generic text */ }
    var status = response.getStatus();
    if (status === 401) return "Your session has ended. Sign in again, then retry.";
    if (status === 403) return "The upload was refused (the page may be stale). Reload the page and try again.";
    if (status === 413) return "The server refused the file because it is too large.";
    return "The server answered " + status + ". Please try again.";
  }

  function percent(done, total) {
    return total ? Math.floor((done / total) * 100) : 0;
  }

  function pauseButton(item) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.dataset.pause = "";
    button.textContent = "Pause";
    button.addEventListener("click", function () {
      if (item.paused) {
        item.paused = false;
        button.textContent = "Pause";
        setState(item, "uploading", "Resuming\u2026 " + item.progress.value + "%");
        item.upload.start();  // asks the server for its offset, then goes on from there
      } else {
        item.paused = true;
        button.textContent = "Resume";
        item.upload.abort();  // keeps the upload on the server; nothing is lost
        setState(item, "paused", "Paused at " + item.progress.value + "%. Resume when you like.");
      }
    });
    return button;
  }

  function send(item) {
    setState(item, "uploading", "Uploading\u2026 0%");
    var upload = new tus.Upload(item.file, {
      endpoint: tusUrl,
      chunkSize: chunkSize,
      retryDelays: RETRY_DELAYS,
      metadata: { filename: item.file.name, filetype: item.file.type || "application/octet-stream" },
      headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      // The bar shows what the server has confirmed, so it never moves backwards on a retry.
      onChunkComplete: function (chunkSize, accepted, total) {
        var value = Math.min(99, percent(accepted, total));
        item.progress.value = value;
        item.node.dataset.confirmed = String(accepted);
        if (!item.paused) item.status.textContent = "Uploading\u2026 " + value + "%";
      },
      onSuccess: function () {
        finished();
        item.actions.textContent = "";
        item.progress.value = 100;
        item.assetId = upload.url.replace(/\/+$/, "").split("/").pop();
        item.node.dataset.assetId = item.assetId;
        setState(item, "pending", "Uploaded. Waiting for a worker\u2026");
        schedulePoll(item);
      },
      onError: function (error) {
        finished();
        item.actions.textContent = "";
        setState(item, "error", "Upload failed: " + errorMessage(error));
        var status = error.originalResponse ? error.originalResponse.getStatus() : 0;
        if (status !== 413 && status !== 400) addAction(item, retryButton(item));
      },
    });
    item.upload = upload;
    item.paused = false;
    addAction(item, pauseButton(item));
    // The same file chosen again (after a closed tab, a crash): go on from where it stopped.
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0]);
        setState(item, "uploading", "Resuming an earlier upload of this file\u2026");
      }
      upload.start();
    });
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
