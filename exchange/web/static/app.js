// Case page behaviour: uploads with per-file progress, policy, submit, approve,
// and live status. Builds DOM with textContent only: server data is never HTML.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const caseEl = document.getElementById("case");
  if (!caseEl) return;
  const caseId = caseEl.dataset.caseId;
  const api = "/api/v1/cases/" + encodeURIComponent(caseId);

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
    node.textContent = text;
    node.className = isError ? "error" : "ok";
  }

  // ---- uploads -------------------------------------------------------------
  const list = document.getElementById("uploads");
  function upload(file) {
    const item = el("li", null, "upload");
    const bar = el("progress");
    bar.max = 100; bar.value = 0;
    const status = el("span", "uploading…", "upload-status");
    item.append(el("span", file.name, "upload-name"), bar, status);
    list.append(item);
    const form = new FormData();
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", api + "/files");
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
      if (xhr.status === 201) {
        bar.value = 100; status.textContent = "uploaded"; item.classList.add("done");
        refresh();
      } else {
        status.textContent = data.error || ("failed (" + xhr.status + ")");
        item.classList.add("failed");
      }
    };
    xhr.onerror = () => { status.textContent = "network error"; item.classList.add("failed"); };
    xhr.send(form);
  }
  const input = document.getElementById("file-input");
  input.addEventListener("change", () => { Array.from(input.files).forEach(upload); input.value = ""; });
  const drop = document.getElementById("dropzone");
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => Array.from(e.dataTransfer.files).forEach(upload));

  // ---- policy, submit, approve ---------------------------------------------
  document.getElementById("save-policy").addEventListener("click", async () => {
    try {
      const data = await call("PUT", api + "/policy", document.getElementById("policy-text").value, "application/yaml");
      document.getElementById("policy-version").textContent = data.version;
      say("policy-message", "Saved as version " + data.version + ".");
      refresh();
    } catch (e) { say("policy-message", e.message, true); }
  });
  document.getElementById("import-customers").addEventListener("click", async () => {
    const file = document.getElementById("customers-file").files[0];
    if (!file) { say("policy-message", "Choose a CSV or XLSX file first.", true); return; }
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("column", document.getElementById("customers-column").value);
    try {
      const data = await call("POST", api + "/policy/customers", form);
      const policy = await call("GET", api + "/policy");
      document.getElementById("policy-text").value = policy.text;
      document.getElementById("policy-version").textContent = data.version;
      say("policy-message", data.added + " customer(s) added; saved as version " + data.version + ".");
    } catch (e) { say("policy-message", e.message, true); }
  });
  document.getElementById("submit-case").addEventListener("click", async () => {
    try { await call("POST", api + "/submit"); say("action-message", "Submitted; processing runs in the background."); refresh(); }
    catch (e) { say("action-message", e.message, true); }
  });
  document.getElementById("approve-case").addEventListener("click", async () => {
    try { await call("POST", api + "/approve"); say("action-message", "Approved; bundles are being sealed."); refresh(); }
    catch (e) { say("action-message", e.message, true); }
  });

  // ---- live status ------------------------------------------------------------
  // Findings are paged from their own endpoint, on demand: a case may hold hundreds of thousands.
  function renderFindings(file) {
    const cell = el("td");
    const total = file.findings_total || 0;
    if (file.status !== "processed" && file.status !== "failed") { cell.textContent = "—"; return cell; }
    const details = el("details");
    const kinds = Object.keys(file.finding_counts || {}).sort()
      .map((k) => k + " " + file.finding_counts[k]).join(", ");
    details.append(el("summary", total + " finding" + (total === 1 ? "" : "s") + (kinds ? " (" + kinds + ")" : "")));
    const ul = el("ul", null, "findings");
    const more = el("button", "Show more findings");
    more.type = "button";
    let cursor = null;
    let loaded = false;
    async function page() {
      const query = "?file=" + encodeURIComponent(file.id) + "&limit=200" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const data = await call("GET", api + "/findings" + query);
      data.findings.forEach((f) => {
        const li = el("li");
        li.append(el("strong", f.entity_type), document.createTextNode(" “"), el("mark", f.text),
          document.createTextNode("” score " + Number(f.score).toFixed(2) + (f.page ? " · page " + f.page : "")));
        if (f.explanation) li.append(el("div", f.explanation, "hint"));
        if (f.suggestion) li.append(el("div", "suggestion: an undeclared name found by NER; review it", "hint"));
        const decisions = f.decisions || {};
        const reasons = f.reasons || {};
        Object.keys(decisions).forEach((r) => {
          li.append(el("div", r + ": " + decisions[r] + (reasons[r] ? " — " + reasons[r] : ""), "decision decision-" + decisions[r]));
        });
        ul.append(li);
      });
      cursor = data.next_cursor;
      more.hidden = !cursor;
    }
    details.addEventListener("toggle", () => {
      if (details.open && !loaded && total) { loaded = true; page().catch(() => { loaded = false; }); }
    });
    more.hidden = true;
    more.addEventListener("click", () => { page().catch(() => {}); });
    details.append(ul, more);
    cell.append(details);
    return cell;
  }

  function percent(value) {
    return value === null || value === undefined ? "n/a" : Math.round(Number(value)) + "%";
  }

  // What each recipient gets: its file name, OCR and confidence, review flags, withheld reason.
  function renderOutputs(file) {
    const cell = el("td");
    const outputs = file.outputs || {};
    const recipients = Object.keys(outputs).sort();
    if (!recipients.length) { cell.textContent = "—"; return cell; }
    recipients.forEach((r) => {
      const o = outputs[r];
      const box = el("div", null, "output output-" + o.status);
      box.dataset.recipient = r;
      box.append(el("strong", r), document.createTextNode(": " + o.status));
      if (o.name && o.name !== file.name) box.append(el("div", "shown as “" + o.name + "”", "hint output-name"));
      const ocr = o.ocr || {};
      const ocrText = ocr.used
        ? "OCR: " + ocr.images + " image" + (ocr.images === 1 ? "" : "s") + ", confidence mean " + percent(ocr.mean_confidence) +
          ", lowest " + percent(ocr.min_confidence) + (ocr.low_confidence_images ? ", " + ocr.low_confidence_images + " low" : "")
        : "no OCR";
      box.append(el("div", ocrText, "hint output-ocr" + (ocr.low_confidence_images ? " review" : "")));
      if (o.needs_review) {
        const reasons = (o.review_reasons || []).join("; ");
        box.append(el("div", "needs review" + (reasons ? ": " + reasons : ""), "review output-review"));
      }
      if (o.withheld) box.append(el("div", "withheld: " + o.withheld, "error output-withheld"));
      (o.warnings || []).forEach((w) => box.append(el("div", w, "hint output-warning")));
      cell.append(box);
    });
    return cell;
  }

  function renderFiles(files) {
    const body = document.querySelector("#files tbody");
    body.replaceChildren();
    files.forEach((f) => {
      const tr = el("tr");
      tr.dataset.fileId = f.id;
      const status = el("td", f.status + (f.error ? ": " + f.error : ""), f.error ? "error" : "");
      const remove = el("td");
      const btn = el("button", "Remove", "link");
      btn.type = "button";
      btn.addEventListener("click", async () => {
        try { await call("DELETE", api + "/files/" + encodeURIComponent(f.id)); refresh(); }
        catch (e) { say("action-message", e.message, true); }
      });
      remove.append(btn);
      if (f.needs_review) tr.classList.add("needs-review");
      tr.append(el("td", f.name), el("td", f.size + " bytes"), status, renderOutputs(f), renderFindings(f), remove);
      body.append(tr);
    });
  }

  let timer = null;
  let shownFiles = null;
  async function refresh() {
    try {
      const data = await call("GET", api);
      const status = document.getElementById("case-status");
      status.textContent = data.status;
      status.className = "status " + data.status;
      document.getElementById("case-progress").value = data.progress;
      document.getElementById("case-error").textContent = data.error || "";
      document.getElementById("approve-case").hidden = data.status !== "review";
      // Re-render only on change, so an opened list of findings stays open.
      const files = JSON.stringify(data.files);
      if (files !== shownFiles) { shownFiles = files; renderFiles(data.files); }
      const busy = data.status === "processing" || data.status === "sealing";
      clearTimeout(timer);
      timer = setTimeout(refresh, busy ? 1000 : 5000);
    } catch (e) {
      clearTimeout(timer);
      timer = setTimeout(refresh, 5000);
    }
  }
  refresh();
})();
