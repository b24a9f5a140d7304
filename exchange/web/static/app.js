// Case page behaviour: uploads with per-file progress, policy, submit, archive, live
// progress and the approve confirmation. Server data is written with textContent only;
// the one exception is swapRegions, which moves this same page's server-rendered (escaped)
// regions from a fresh copy parsed inert by DOMParser, never data from the JSON API.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  // ---- approve page: the button waits for the explicit confirmation ------------------------
  const approveForm = document.getElementById("approve-form");
  if (approveForm) {
    const tick = document.getElementById("approve-confirm");
    const go = document.getElementById("approve-submit");
    const sync = () => { go.disabled = !tick.checked; };
    tick.addEventListener("change", sync);
    sync();
  }

  const caseEl = document.getElementById("case");
  if (!caseEl) return;
  const caseId = caseEl.dataset.caseId;
  const api = "/api/v1/cases/" + encodeURIComponent(caseId);
  let M = {};
  try { M = JSON.parse(caseEl.dataset.messages || "{}"); } catch (e) { M = {}; }

  // "%(name)s" placeholders, as the server's catalogue writes them.
  function t(key, params) {
    const text = M[key] || key;
    return text.replace(/%\((\w+)\)s/g, (all, name) => (params && name in params ? String(params[name]) : all));
  }

  // Same rule as the server's filesize filter: 1 KB = 1024 B, one decimal.
  function fileSize(bytes) {
    const n = Number(bytes) || 0;
    if (n < 1024) return n + " B";
    const units = [["KB", 1024], ["MB", 1024 * 1024], ["GB", 1024 * 1024 * 1024]];
    for (const [unit, scale] of units) {
      if (Number((n / scale).toFixed(1)) < 1024 || unit === "GB") return (n / scale).toFixed(1) + " " + unit;
    }
    return n + " B";
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  async function call(method, url, body, type) {
    const headers = { "X-CSRFToken": csrf, "Accept": "application/json" };
    if (type) headers["Content-Type"] = type;
    const res = await fetch(url, { method, headers, body, credentials: "same-origin" });
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    if (!res.ok) throw new Error(data.error || ("request failed: " + res.status));
    return data;
  }

  function say(id, text, isError) {
    const node = document.getElementById(id);
    if (!node) return;
    node.textContent = text;
    node.className = isError ? "error" : "ok";
  }

  // A message belongs to the state it was written in: a new state clears them all.
  function clearMessages() {
    ["action-message", "policy-message"].forEach((id) => { const n = document.getElementById(id); if (n) n.textContent = ""; });
    document.querySelectorAll("main .flash").forEach((n) => n.remove());
  }

  let current = { status: caseEl.dataset.status, actions: [] };
  const can = (action) => (current.actions || []).indexOf(action) >= 0;

  // ---- uploads -------------------------------------------------------------------------------
  function uploadItem(file) {
    const item = el("li", null, "upload");
    const bar = el("progress", null, "upload-bar");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", file.name);
    const status = el("span", t("uploading"), "upload-status");
    item.append(el("span", file.name, "upload-name"), el("span", fileSize(file.size), "upload-size hint"), bar, status);
    document.getElementById("uploads").append(item);
    return { item, bar, status };
  }

  function multipart(file, onProgress) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      form.append("file", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", api + "/files");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
      xhr.onload = () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
        if (xhr.status === 201) resolve(data.id);
        else reject(new Error(data.error || ("HTTP " + xhr.status)));
      };
      xhr.onerror = () => reject(new Error(t("network_error")));
      xhr.send(form);
    });
  }

  async function upload(file) {
    const { item, bar, status } = uploadItem(file);
    const progress = (loaded, total) => {
      const pct = total ? Math.round(100 * loaded / total) : 0;
      bar.value = pct;
      status.textContent = t("uploading") + " " + pct + "%";
    };
    // Large files go in resumable parts (resumable.js), small ones in one request.
    const resumable = window.sxResumable;
    try {
      if (resumable && file.size > resumable.PART_BYTES) await resumable.upload(file, caseId, csrf, progress);
      else await multipart(file, progress);
      bar.value = 100;
      status.textContent = t("uploaded");
      item.classList.add("done");
      return true;
    } catch (e) {
      status.textContent = t("upload_failed", { reason: e.message });
      item.classList.add("failed");
      bar.setAttribute("aria-invalid", "true");
      return false;
    }
  }

  async function uploadAll(files) {
    if (!files.length) return;
    const wasReview = current.status === "review";
    if (wasReview && !window.confirm(t("confirm_upload_in_review"))) return;
    const results = await Promise.all(files.map(upload));
    if (results.some(Boolean)) {
      await refresh();
      if (wasReview) say("action-message", t("back_to_draft"));
    }
  }

  function pickFiles() {
    const input = document.getElementById("file-input");
    if (input) input.click();
  }

  document.addEventListener("change", (e) => {
    if (e.target && e.target.id === "file-input") {
      const files = Array.from(e.target.files);
      e.target.value = "";
      uploadAll(files);
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.target && e.target.id === "dropzone" && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      pickFiles();
    }
  });
  const zoneOf = (e) => (e.target && e.target.closest ? e.target.closest("#dropzone") : null);
  ["dragenter", "dragover"].forEach((type) => document.addEventListener(type, (e) => {
    const zone = zoneOf(e);
    if (zone) { e.preventDefault(); zone.classList.add("over"); }
  }));
  document.addEventListener("dragleave", (e) => { const zone = zoneOf(e); if (zone) zone.classList.remove("over"); });
  document.addEventListener("drop", (e) => {
    const zone = zoneOf(e);
    if (!zone) return;
    e.preventDefault();
    zone.classList.remove("over");
    uploadAll(Array.from(e.dataTransfer.files));
  });

  // ---- buttons (delegated: the regions holding them are swapped when the state changes) ------
  async function act(run) {
    try { const message = await run(); await refresh(); if (message) say("action-message", message); }
    catch (e) { say("action-message", e.message, true); }
  }

  document.addEventListener("click", async (e) => {
    const target = e.target && e.target.closest ? e.target.closest("button, #dropzone") : null;
    if (!target) return;
    switch (target.id) {
      case "dropzone": pickFiles(); break;
      case "submit-case": act(async () => { await call("POST", api + "/submit"); return t("submitted"); }); break;
      case "archive-case":
        if (window.confirm(t("confirm_archive"))) act(async () => { await call("POST", api + "/archive"); return t("archived"); });
        break;
      case "unarchive-case": act(async () => { await call("POST", api + "/unarchive"); return t("unarchived"); }); break;
      case "save-policy":
        try {
          const data = await call("PUT", api + "/policy", document.getElementById("policy-text").value, "application/yaml");
          document.getElementById("policy-version").textContent = data.version;
          await refresh();
          say("policy-message", t("policy_saved", { version: data.version }));
        } catch (err) { say("policy-message", err.message, true); }
        break;
      case "import-customers": {
        const file = document.getElementById("customers-file").files[0];
        if (!file) { say("policy-message", t("choose_customers"), true); break; }
        const form = new FormData();
        form.append("file", file, file.name);
        form.append("column", document.getElementById("customers-column").value);
        try {
          const data = await call("POST", api + "/policy/customers", form);
          const policy = await call("GET", api + "/policy");
          document.getElementById("policy-text").value = policy.text;
          document.getElementById("policy-version").textContent = data.version;
          await refresh();
          say("policy-message", t("customers_added", { added: data.added, version: data.version }));
        } catch (err) { say("policy-message", err.message, true); }
        break;
      }
      default: break;
    }
  });

  // ---- files ----------------------------------------------------------------------------------
  function percent(value) {
    return value === null || value === undefined ? "n/a" : Math.round(Number(value)) + "%";
  }

  // Findings grouped by type, then by term, with counts: one line per term, not per occurrence.
  function renderFindings(file) {
    const cell = el("td");
    if (file.status !== "processed") { cell.textContent = "—"; return cell; }
    const counts = file.finding_counts || {};
    const kinds = Object.keys(counts).sort();
    const summary = el("ul", null, "counts");
    kinds.forEach((k) => { const li = el("li"); li.append(el("span", k, "type"), document.createTextNode(" " + counts[k])); summary.append(li); });
    cell.append(summary);
    const review = el("a", t("review"), "review-link");
    review.href = "/cases/" + encodeURIComponent(caseId) + "/review?file=" + encodeURIComponent(file.id);
    cell.append(review);
    if (!file.findings_total) return cell;
    const details = el("details");
    details.append(el("summary", t("show_terms") + " (" + t("findings", { count: file.findings_total }) + ")"));
    const groups = el("ul", null, "findings");
    const more = el("button", t("more_findings"), "link");
    more.type = "button";
    more.hidden = true;
    const terms = new Map();
    let cursor = null;
    let loaded = false;
    function draw() {
      const byType = new Map();
      terms.forEach((term) => {
        if (!byType.has(term.type)) byType.set(term.type, []);
        byType.get(term.type).push(term);
      });
      groups.replaceChildren();
      Array.from(byType.keys()).sort().forEach((type) => {
        const li = el("li", null, "finding-group");
        const list = byType.get(type).sort((a, b) => b.count - a.count || a.text.localeCompare(b.text));
        li.append(el("strong", type), document.createTextNode(" " + list.reduce((n, x) => n + x.count, 0)));
        const ul = el("ul", null, "terms");
        list.forEach((term) => {
          const item = el("li", null, "term");
          item.append(el("mark", term.text), document.createTextNode(" " + t("times", { count: term.count })));
          const decided = Object.keys(term.decisions).sort().map((r) => r + ": " + term.decisions[r]).join(", ");
          if (decided) item.append(el("span", " · " + decided, "decision"));
          ul.append(item);
        });
        li.append(ul);
        groups.append(li);
      });
    }
    async function page() {
      const query = "?file=" + encodeURIComponent(file.id) + "&limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const data = await call("GET", api + "/findings" + query);
      data.findings.forEach((f) => {
        const key = f.entity_type + "\u0000" + f.text;
        const term = terms.get(key) || { type: f.entity_type, text: f.text, count: 0, decisions: f.decisions || {} };
        term.count += 1;
        terms.set(key, term);
      });
      cursor = data.next_cursor;
      more.hidden = !cursor;
      draw();
    }
    details.addEventListener("toggle", () => {
      if (details.open && !loaded) { loaded = true; page().catch(() => { loaded = false; }); }
    });
    more.addEventListener("click", () => { page().catch(() => {}); });
    details.append(groups, more);
    cell.append(details);
    return cell;
  }

  // What each recipient gets: its file name, OCR and confidence, review flags, withheld reason.
  function renderOutputs(file) {
    const cell = el("td");
    const outputs = file.outputs || {};
    const recipients = Object.keys(outputs).sort();
    // A file queued again shows no outputs: they belong to the previous run.
    if (!recipients.length || (file.status !== "processed" && file.status !== "failed")) { cell.textContent = "—"; return cell; }
    recipients.forEach((r) => {
      const o = outputs[r];
      const box = el("div", null, "output output-" + o.status);
      box.dataset.recipient = r;
      box.append(el("strong", t("recipient_" + r)), document.createTextNode(": " + t("state_" + o.status)));
      if (o.name && o.name !== file.name) box.append(el("div", t("shown_as", { name: o.name }), "hint output-name"));
      const ocr = o.ocr || {};
      const ocrText = ocr.used
        ? t("ocr", { images: ocr.images, mean: percent(ocr.mean_confidence), low: percent(ocr.min_confidence) })
        : t("no_ocr");
      box.append(el("div", ocrText, "hint output-ocr" + (ocr.low_confidence_images ? " review" : "")));
      if (o.needs_review) {
        const reasons = (o.review_reasons || []).join("; ");
        box.append(el("div", t("needs_review") + (reasons ? ": " + reasons : ""), "review output-review"));
      }
      if (o.withheld) box.append(el("div", t("withheld", { reason: o.withheld }), "error output-withheld"));
      (o.warnings || []).forEach((w) => box.append(el("div", w, "hint output-warning")));
      cell.append(box);
    });
    return cell;
  }

  function renderStatus(file, busy) {
    const cell = el("td", null, "file-status");
    cell.append(el("span", t("state_" + file.status), "file-state"));
    if (busy && (file.status === "queued" || file.status === "running" || file.status === "processed")) {
      const bar = el("progress", null, "file-progress");
      bar.max = 100;
      bar.setAttribute("aria-label", file.name);
      // A running file has no measurable share yet: an indeterminate bar, not a made-up number.
      if (file.status === "queued") bar.value = 0;
      if (file.status === "processed") bar.value = 100;
      cell.append(document.createTextNode(" "), bar);
      if (file.status !== "running") cell.append(el("span", " " + bar.value + "%", "file-percent"));
    }
    if (file.error) cell.append(el("div", file.error, "error"));
    return cell;
  }

  function renderFiles(files, data) {
    const body = document.querySelector("#files tbody");
    body.replaceChildren();
    const busy = data.status === "processing";
    files.forEach((f) => {
      const tr = el("tr");
      tr.dataset.fileId = f.id;
      tr.dataset.status = f.status;
      const remove = el("td");
      if (can("delete_file")) {
        const btn = el("button", t("remove"), "link remove-file");
        btn.type = "button";
        btn.setAttribute("aria-label", t("remove") + " " + f.name);
        btn.addEventListener("click", async () => {
          if (!window.confirm(t("confirm_delete", { name: f.name }))) return;
          act(async () => { await call("DELETE", api + "/files/" + encodeURIComponent(f.id)); return ""; });
        });
        remove.append(btn);
      }
      if (f.needs_review) tr.classList.add("needs-review");
      tr.append(el("td", f.name, "file-name"), el("td", fileSize(f.size), "nowrap"), renderStatus(f, busy),
        renderOutputs(f), renderFindings(f), remove);
      body.append(tr);
    });
  }

  // ---- the case's state -----------------------------------------------------------------------
  // Server-rendered regions (actions, upload zone, policy, timeline, the bureau's exchange) are
  // taken from a fresh copy of this page when their key changed; unchanged ones keep their input.
  async function swapRegions() {
    const res = await fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } });
    if (!res.ok) return;
    const fresh = new DOMParser().parseFromString(await res.text(), "text/html");
    fresh.querySelectorAll("[data-region]").forEach((region) => {
      const old = document.querySelector('[data-region="' + region.dataset.region + '"]');
      if (old && old.dataset.key !== region.dataset.key) old.replaceWith(document.importNode(region, true));
    });
  }

  let timer = null;
  let shownFiles = null;
  let shownKey = null;
  async function refresh() {
    clearTimeout(timer);
    let busy = false;
    try {
      const data = await call("GET", api);
      current = data;
      busy = data.status === "processing" || data.status === "sealing";
      const key = [data.status, (data.actions || []).join(","), data.archived, data.bureau_status, data.version].join("|");
      // The first answer may already differ from the state the page was rendered in (sealing
      // ended while the page loaded): its regions are stale then too.
      const changed = shownKey === null ? data.status !== caseEl.dataset.status : key !== shownKey;
      if (changed) {
        clearMessages();
        await swapRegions();
        shownFiles = null;
      }
      shownKey = key;
      caseEl.dataset.status = data.status;
      const status = document.getElementById("case-status");
      status.textContent = t("case_" + data.status);
      status.dataset.status = data.status;
      status.className = "status " + data.status;
      document.getElementById("case-progress-box").hidden = !busy;
      document.getElementById("case-progress").value = data.progress;
      document.getElementById("case-percent").textContent = data.progress + "%";
      document.getElementById("case-error").textContent = data.error || "";
      // Re-render only on change, so an opened list of terms stays open.
      const files = JSON.stringify([data.files, data.actions, data.status]);
      if (files !== shownFiles) { shownFiles = files; renderFiles(data.files, data); }
    } catch (e) {
      busy = false;
    }
    timer = setTimeout(refresh, busy ? 2000 : 15000);
  }
  refresh();
})();
