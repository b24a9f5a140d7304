// Resumable uploads in the browser: a small tus 1.0 client for /api/v1/cases/<id>/uploads.
//
// Large files go in parts; when the connection drops (or the page is reloaded and the same
// file chosen again) the upload asks the server for its offset and continues from there.
// The upload URL is remembered in sessionStorage under the case, name, size and modification
// time of the file, never the file's content.
(function () {
  "use strict";

  const PART_BYTES = 8 * 1024 * 1024;
  const RETRY_DELAYS_MS = [1000, 3000, 10000];

  function storageKey(caseId, file) {
    return ["sx-upload", caseId, file.name, file.size, file.lastModified].join(":");
  }

  function request(method, url, headers, body, onProgress) {
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      if (onProgress && xhr.upload) {
        xhr.upload.addEventListener("progress", function (event) { onProgress(event.loaded); });
      }
      xhr.addEventListener("load", function () { resolve(xhr); });
      xhr.addEventListener("error", function () { reject(new Error("network")); });
      xhr.addEventListener("abort", function () { reject(new Error("network")); });
      xhr.send(body === undefined ? null : body);
    });
  }

  function reason(xhr) {
    try {
      return JSON.parse(xhr.responseText).error || ("HTTP " + xhr.status);
    } catch (e) {
      return "HTTP " + xhr.status;
    }
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // Upload `file` into case `caseId`; resolves to the new file's id, rejects with a one-line reason.
  async function upload(file, caseId, csrf, onProgress) {
    const base = { "Tus-Resumable": "1.0.0", "X-CSRFToken": csrf, "Accept": "application/json" };
    const key = storageKey(caseId, file);
    let url = window.sessionStorage.getItem(key);
    let offset = 0;
    if (url) {
      const head = await request("GET", url, base);
      if (head.status === 200) {
        const state = JSON.parse(head.responseText);
        if (state.complete) { window.sessionStorage.removeItem(key); return state.file_id; }
        offset = state.offset;
      } else {
        url = null;
      }
    }
    if (!url) {
      const created = await request("POST", "/api/v1/cases/" + encodeURIComponent(caseId) + "/uploads",
        Object.assign({}, base, {
          "Upload-Length": String(file.size),
          "Upload-Metadata": "filename " + btoa(unescape(encodeURIComponent(file.name))),
        }));
      if (created.status !== 201) { throw new Error(reason(created)); }
      url = created.getResponseHeader("Location");
      window.sessionStorage.setItem(key, url);
    }
    let failures = 0;
    while (offset < file.size) {
      const part = file.slice(offset, Math.min(file.size, offset + PART_BYTES));
      let answer;
      try {
        answer = await request("PATCH", url, Object.assign({}, base, {
          "Upload-Offset": String(offset),
          "Content-Type": "application/offset+octet-stream",
        }), part, function (loaded) { onProgress(Math.min(file.size, offset + loaded), file.size); });
      } catch (e) {
        answer = null;
      }
      if (answer && answer.status === 204) {
        failures = 0;
        offset = Number(answer.getResponseHeader("Upload-Offset"));
        onProgress(offset, file.size);
        const fileId = answer.getResponseHeader("X-File-Id");
        if (fileId) { window.sessionStorage.removeItem(key); return fileId; }
        continue;
      }
      if (answer && answer.status !== 409 && answer.status < 500 && answer.status !== 0) {
        window.sessionStorage.removeItem(key);
        throw new Error(reason(answer));
      }
      // A dropped connection, a server hiccup or an offset conflict: ask where we stand and go on.
      if (failures >= RETRY_DELAYS_MS.length) { throw new Error("the connection keeps failing; choose the file again to resume"); }
      await sleep(RETRY_DELAYS_MS[failures]);
      failures += 1;
      const head = await request("GET", url, base).catch(function () { return null; });
      if (head && head.status === 200) { offset = JSON.parse(head.responseText).offset; }
    }
    throw new Error("the upload ended without a file");
  }

  window.sxResumable = { upload: upload, PART_BYTES: PART_BYTES };
}());
