// Review page: findings grouped by term with counts per type, marks on the original page,
// manual boxes (drawn with the mouse or typed as fractions), text selections, and the
// applicant's keep/redact decisions, all through the JSON API. Builds DOM with textContent
// only (server data is never HTML) and positions overlays through the CSSOM (no inline style).
(function () {
  "use strict";
  const root = document.getElementById("review");
  if (!root || !root.dataset.fileId) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const caseId = root.dataset.caseId;
  const fileId = root.dataset.fileId;
  const page = Number(root.dataset.page) || 1;
  const view = root.dataset.view;
  const boxable = root.dataset.boxable === "true";
  const api = "/api/v1/cases/" + encodeURIComponent(caseId);
  const fileApi = api + "/files/" + encodeURIComponent(fileId);
  const strings = document.getElementById("review-strings").dataset;
  const RECIPIENTS = ["bureau", "supplier"];

  function t(key, values) {
    let text = strings[key] || key;
    Object.keys(values || {}).forEach((k) => { text = text.split("{" + k + "}").join(String(values[k])); });
    return text;
  }
  function who(recipient) { return strings["who" + recipient.charAt(0).toUpperCase() + recipient.slice(1)] || recipient; }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  async function call(method, url, body) {
    const headers = { "X-CSRFToken": csrf, "Accept": "application/json" };
    let payload;
    if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    const res = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
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

  // The detector's comparison form, roughly: case, accents and spacing do not make another term.
  function fold(text) {
    return String(text).normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replace(/\s+/g, " ").trim();
  }

  function place(node, box) {
    node.style.left = (box[0] * 100) + "%";
    node.style.top = (box[1] * 100) + "%";
    node.style.width = ((box[2] - box[0]) * 100) + "%";
    node.style.height = ((box[3] - box[1]) * 100) + "%";
  }

  // ---- rendering state ----------------------------------------------------------
  let marks = [];
  let asked = false;
  async function loadSummary() {
    const summary = await call("GET", fileApi + "/pages");
    if (summary.status === "rendering" && !asked) {
      // Pages are rendered when first asked for (or at once where the deployment renders eagerly);
      // asking when they are already queued costs one skipped job.
      asked = true;
      call("POST", fileApi + "/pages").catch(() => {});
    }
    if (summary.status === "rendering" || summary.status === "waiting") {
      if (!pollUntil) pollUntil = Date.now() + 15 * 60 * 1000;
      if (Date.now() < pollUntil) setTimeout(poll, 3000);
      return;
    }
    if (summary.status === "ready" && root.dataset.status !== "ready") {
      // The server renders the images, pager and captions; come back to it now they exist.
      window.location.reload();
      return;
    }
    marks = (summary.marks && summary.marks[String(page)]) || [];
    drawMarks();
  }
  let pollUntil = 0;
  function poll() { loadSummary().catch(() => setTimeout(poll, 5000)); }

  // ---- findings ---------------------------------------------------------------------
  let findings = [];
  async function loadFindings() {
    const all = [];
    let cursor = null;
    for (let i = 0; i < 20; i += 1) {
      const query = "?file=" + encodeURIComponent(fileId) + "&limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const data = await call("GET", api + "/findings" + query);
      all.push(...data.findings);
      cursor = data.next_cursor;
      if (!cursor) break;
    }
    findings = all;
    renderFindings();
    drawMarks();
  }

  function groups() {
    const byTerm = new Map();
    findings.forEach((f) => {
      const key = fold(f.text) + "\u0000" + f.entity_type;
      if (!byTerm.has(key)) byTerm.set(key, { key, text: f.text, type: f.entity_type, items: [], pages: new Set(), suggestion: false });
      const g = byTerm.get(key);
      g.items.push(f);
      if (f.page) g.pages.add(f.page);
      g.suggestion = g.suggestion || Boolean(f.suggestion);
    });
    return Array.from(byTerm.values()).sort((a, b) => b.items.length - a.items.length || a.text.localeCompare(b.text));
  }

  function decisionOf(group, recipient) {
    const seen = new Set(group.items.map((f) => (f.decisions || {})[recipient]).filter(Boolean));
    return seen.size === 1 ? Array.from(seen)[0] : (seen.size ? "mixed" : "");
  }

  function renderCounts() {
    const body = document.querySelector("#counts tbody");
    body.textContent = "";
    const types = new Map();
    findings.forEach((f) => {
      if (!types.has(f.entity_type)) types.set(f.entity_type, { found: 0, bureau: 0, supplier: 0 });
      const row = types.get(f.entity_type);
      row.found += 1;
      RECIPIENTS.forEach((r) => { if ((f.decisions || {})[r] === "redact") row[r] += 1; });
    });
    Array.from(types.keys()).sort().forEach((type) => {
      const row = types.get(type);
      const tr = el("tr");
      tr.dataset.type = type;
      tr.append(el("th", type), el("td", row.found, "count-found"));
      RECIPIENTS.forEach((r) => tr.append(el("td", row[r], "count-" + r)));
      tr.firstChild.scope = "row";
      body.append(tr);
    });
  }

  function button(label, action, cls) {
    const b = el("button", label, cls);
    b.type = "button";
    b.addEventListener("click", async () => {
      b.disabled = true;
      try { await action(); } catch (e) { say("findings-message", e.message, true); }
      b.disabled = false;
    });
    return b;
  }

  async function decide(group, recipient, decision) {
    const scope = document.getElementById("scope-term").checked ? "term" : "file";
    await call("PATCH", api + "/findings/" + encodeURIComponent(group.items[0].id), { recipient, decision, scope });
    say("findings-message", t("saved"));
    await loadFindings();
  }

  async function declare(group, as) {
    const data = await call("POST", api + "/findings/" + encodeURIComponent(group.items[0].id) + "/declare", { as });
    say("findings-message", t("declared", { v: data.version === undefined ? "?" : data.version }));
    await loadFindings();
  }

  function renderFindings() {
    renderCounts();
    const list = document.getElementById("finding-groups");
    list.textContent = "";
    const all = groups();
    if (!all.length) { list.append(el("li", t("noFindings"), "hint")); return; }
    all.forEach((group) => {
      const li = el("li", null, "finding-group");
      li.dataset.term = group.text;
      li.dataset.type = group.type;
      const head = el("div", null, "group-head");
      head.append(el("strong", group.text, "term"), el("span", group.type, "type"));
      const pages = Array.from(group.pages).sort((a, b) => a - b).join(", ") || "—";
      head.append(el("span", t("occurrences", { n: group.items.length, pages }), "hint"));
      li.append(head);
      const states = el("div", null, "group-decisions");
      RECIPIENTS.forEach((r) => {
        const d = decisionOf(group, r);
        const span = el("span", who(r) + ": " + (d === "keep" ? t("keep") : d === "redact" ? t("redact") : d || "—"), "decision decision-" + (d || "none"));
        span.dataset.recipient = r;
        states.append(span);
      });
      li.append(states);
      const actions = el("div", null, "group-actions");
      actions.append(
        button(t("keepFor", { who: who(view) }), () => decide(group, view, "keep"), "keep-one"),
        button(t("redactFor", { who: who(view) }), () => decide(group, view, "redact"), "redact-one"),
        button(t("keepBoth"), () => decide(group, "*", "keep"), "keep-both secondary"),
        button(t("redactBoth"), () => decide(group, "*", "redact"), "redact-both secondary"),
      );
      if (group.suggestion) {
        li.append(el("p", t("suggestion"), "hint"));
        actions.append(
          button(t("declareCustomer"), () => declare(group, "customer"), "declare secondary"),
          button(t("declareSecret"), () => declare(group, "trade_secret"), "declare secondary"),
        );
      }
      li.append(actions);
      list.append(li);
    });
  }

  // ---- overlays on the original ------------------------------------------------------
  const frame = document.getElementById("original-frame");
  const image = document.getElementById("original-img");

  function drawMarks() {
    if (!frame) return;
    frame.querySelectorAll(".mark").forEach((n) => n.remove());
    const decided = new Map();
    groups().forEach((g) => decided.set(fold(g.text), decisionOf(g, view)));
    marks.forEach((m) => {
      const d = decided.get(fold(m.text)) || "redact";
      const node = el("div", null, "mark mark-" + (d === "keep" ? "keep" : "redact"));
      node.title = m.entity_type + ": " + m.text;
      node.dataset.type = m.entity_type;
      place(node, m.box);
      frame.append(node);
    });
  }

  let boxes = [];
  async function loadBoxes() {
    if (!boxable) return;
    const data = await call("GET", fileApi + "/boxes");
    boxes = Array.isArray(data) ? data : (data.boxes || []);
    renderBoxes();
  }

  function renderBoxes() {
    const list = document.getElementById("box-list");
    if (!list) return;
    list.textContent = "";
    if (frame) frame.querySelectorAll(".manual-box").forEach((n) => n.remove());
    if (!boxes.length) list.append(el("li", t("noBoxes"), "hint"));
    boxes.forEach((b) => {
      const li = el("li", null, "box-item");
      const text = t("boxLabel", {
        page: b.page,
        box: b.box.map((v) => Number(v).toFixed(3)).join(", "),
        who: (b.recipients || []).map(who).join(", "),
      });
      li.append(el("span", text));
      li.append(button(t("delete"), async () => {
        await call("DELETE", fileApi + "/boxes/" + encodeURIComponent(b.id));
        say("tools-message", t("saved"));
        await loadBoxes();
      }, "secondary delete-box"));
      list.append(li);
      if (frame && b.page === page) {
        const node = el("div", null, "manual-box");
        node.title = text;
        place(node, b.box);
        frame.append(node);
      }
    });
  }

  function chosen(name) {
    return Array.from(document.querySelectorAll('input[name="' + name + '"]:checked')).map((n) => n.value);
  }

  async function addBox(box) {
    const recipients = chosen("box-recipient");
    if (!recipients.length) { say("tools-message", t("chooseRecipient"), true); return; }
    await call("POST", fileApi + "/boxes", { page, box, recipients });
    say("tools-message", t("saved"));
    await loadBoxes();
  }

  const boxForm = document.getElementById("box-form");
  if (boxForm) {
    boxForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const box = ["left", "top", "right", "bottom"].map((k) => Number(document.getElementById("box-" + k).value));
      try { await addBox(box); } catch (e) { say("tools-message", e.message, true); }
    });
  }

  // Drawing: press on the original, drag, release. The box is kept in fractions of the image.
  if (boxable && frame && image) {
    let start = null;
    let ghost = null;
    const at = (event) => {
      const r = image.getBoundingClientRect();
      return [
        Math.min(1, Math.max(0, (event.clientX - r.left) / r.width)),
        Math.min(1, Math.max(0, (event.clientY - r.top) / r.height)),
      ];
    };
    const boxOf = (a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
    frame.classList.add("drawable");
    frame.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      event.preventDefault();
      start = at(event);
      ghost = el("div", null, "manual-box drawing");
      place(ghost, [start[0], start[1], start[0], start[1]]);
      frame.append(ghost);
      frame.setPointerCapture(event.pointerId);
    });
    frame.addEventListener("pointermove", (event) => {
      if (start && ghost) place(ghost, boxOf(start, at(event)));
    });
    frame.addEventListener("pointerup", async (event) => {
      if (!start) return;
      const box = boxOf(start, at(event));
      start = null;
      if (ghost) { ghost.remove(); ghost = null; }
      if (box[2] - box[0] < 0.005 || box[3] - box[1] < 0.005) return;  // a click, not a box
      ["left", "top", "right", "bottom"].forEach((k, i) => { document.getElementById("box-" + k).value = box[i].toFixed(4); });
      try { await addBox(box.map((v) => Math.round(v * 10000) / 10000)); } catch (e) { say("tools-message", e.message, true); }
    });
  }

  const selectionForm = document.getElementById("selection-form");
  if (selectionForm) {
    selectionForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const recipients = chosen("selection-recipient");
      if (!recipients.length) { say("tools-message", t("chooseRecipient"), true); return; }
      const input = document.getElementById("selection-text");
      try {
        await call("POST", fileApi + "/selections", { text: input.value, recipients });
        input.value = "";
        say("tools-message", t("saved"));
        await loadFindings();
      } catch (e) { say("tools-message", e.message, true); }
    });
  }

  loadSummary().catch(() => {});
  loadFindings().catch((e) => say("findings-message", e.message, true));
  loadBoxes().catch((e) => say("tools-message", e.message, true));
})();
