// Policy editor: tabs, pattern rows, the live pattern test, the customer-column picker.
// The page works without this script (both editors shown, fixed pattern rows);
// DOM is built with textContent only: server data and user input are never HTML.
(function () {
  "use strict";
  const root = document.getElementById("policy-editor");
  if (!root) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const msg = root.dataset;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (all, key) => (key in values ? String(values[key]) : all));
  }

  async function post(url, body, json) {
    const headers = { "X-CSRFToken": csrf, "Accept": "application/json" };
    if (json) headers["Content-Type"] = "application/json";
    const res = await fetch(url, {
      method: "POST", headers, credentials: "same-origin",
      body: json ? JSON.stringify(body) : body,
    });
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    if (!res.ok) throw new Error(data.error || ("HTTP " + res.status));
    return data;
  }

  // ---- tabs: the form and the advanced text editor --------------------------------
  const tabList = document.getElementById("policy-tabs");
  const tabs = Array.from(tabList.querySelectorAll(".tab"));
  const panels = tabs.map((tab) => document.getElementById(tab.getAttribute("href").slice(1)));
  tabList.setAttribute("role", "tablist");
  tabList.setAttribute("aria-label", tabList.dataset.label);
  function select(index, focus) {
    tabs.forEach((tab, i) => {
      const on = i === index;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      panels[i].hidden = !on;
    });
    if (focus) tabs[index].focus();
  }
  tabs.forEach((tab, i) => {
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", panels[i].id);
    panels[i].setAttribute("role", "tabpanel");
    panels[i].setAttribute("aria-labelledby", tab.id);
    tab.addEventListener("click", (e) => {
      e.preventDefault();
      select(i, false);
      history.replaceState(null, "", "#" + panels[i].id);
    });
    tab.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        select((i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length, true);
      }
    });
  });
  const wantYaml = msg.tab === "yaml" || location.hash === "#yaml-panel";
  select(wantYaml ? 1 : 0, false);
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  const form = document.getElementById("policy-form");
  const editable = !form.querySelector("fieldset.plain").disabled;

  // ---- strictest view: a recipient's ticks and settings do not apply -------------------
  function applyStrict(box) {
    const name = box.name.replace(/-strict$/, "");
    form.querySelectorAll('input[type=checkbox][data-recipient="' + name + '"]').forEach((c) => { c.disabled = box.checked || !editable; });
    const fieldset = box.closest("fieldset.recipient");
    fieldset.querySelectorAll(".setting").forEach((c) => { c.disabled = box.checked || !editable; });
  }
  form.querySelectorAll("input.strict").forEach((box) => {
    applyStrict(box);
    box.addEventListener("change", () => applyStrict(box));
  });

  // ---- pattern rows and their entity types ---------------------------------------------
  const rows = document.getElementById("patterns");
  const table = document.querySelector("#types tbody");
  // The table's recipient columns and the settings fieldsets come in the same order.
  const headers = Array.from(document.querySelectorAll("#types thead th.tick"));
  const recipients = Array.from(form.querySelectorAll("fieldset.recipient")).map((f, i) => ({
    name: f.dataset.recipient, label: headers[i] ? headers[i].textContent : f.dataset.recipient,
  }));
  const validName = /^[A-Z][A-Z0-9_]{1,39}$/;
  const shown = new Set(Array.from(table.querySelectorAll("tr")).map((tr) => tr.dataset.type));
  let rowCount = rows.querySelectorAll(".pattern-row").length;

  // A new pattern is ticked for every recipient, as the server does for a name it has not shown.
  function addTypeRow(name) {
    const tr = document.createElement("tr");
    tr.dataset.type = name;
    tr.dataset.added = "1";
    const th = document.createElement("th");
    th.scope = "row";
    const code = document.createElement("code");
    code.textContent = name;
    th.append(code);
    const help = document.createElement("td");
    help.className = "hint";
    help.textContent = "";
    tr.append(th, help);
    recipients.forEach((r) => {
      const td = document.createElement("td");
      td.className = "tick";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = r.name + "-redact";
      box.value = name;
      box.id = r.name + "-redact-" + name;
      box.dataset.recipient = r.name;
      box.checked = true;
      const strict = form.querySelector('input.strict[name="' + r.name + '-strict"]');
      box.disabled = Boolean(strict && strict.checked);
      const label = document.createElement("label");
      label.htmlFor = box.id;
      label.className = "visually-hidden";
      label.textContent = name + " · " + r.label;
      td.append(box, label);
      tr.append(td);
    });
    const known = document.createElement("input");
    known.type = "hidden";
    known.name = "known_patterns";
    known.value = name;
    tr.lastChild.append(known);
    // After the declared types, before the built-in recognisers' types.
    const builtIn = table.querySelector('tr[data-type="PERSON"]');
    table.insertBefore(tr, builtIn);
    shown.add(name);
  }

  function syncTypes() {
    const names = new Set(Array.from(rows.querySelectorAll(".pattern-name")).map((i) => i.value.trim()).filter((n) => validName.test(n)));
    names.forEach((n) => { if (!shown.has(n)) addTypeRow(n); });
    table.querySelectorAll('tr[data-added="1"]').forEach((tr) => {
      if (!names.has(tr.dataset.type)) { shown.delete(tr.dataset.type); tr.remove(); }
    });
  }

  function wireRow(row) {
    row.querySelector(".pattern-name").addEventListener("change", syncTypes);
    row.querySelectorAll("input").forEach((input) => {
      input.addEventListener("focus", () => activate(row));
    });
    row.querySelector(".pattern-regex").addEventListener("input", () => { activate(row); schedule(); });
  }

  const add = document.getElementById("add-pattern");
  if (add && editable) {
    add.hidden = false;
    add.addEventListener("click", () => {
      const copy = document.getElementById("pattern-row-template").content.firstElementChild.cloneNode(true);
      const index = rowCount++;
      copy.id = "field-pattern-" + index;
      copy.querySelectorAll("input").forEach((input, k) => {
        input.id = (k === 0 ? "pattern-name-" : "pattern-regex-") + index;
        input.previousElementSibling.htmlFor = input.id;
      });
      rows.append(copy);
      wireRow(copy);
      copy.querySelector("input").focus();
    });
  }

  // ---- live pattern test: what detection itself would find (server-side RE2) -------------
  const tester = document.getElementById("pattern-test");
  const sample = document.getElementById("pattern-sample");
  const status = document.getElementById("pattern-test-status");
  const result = document.getElementById("pattern-test-result");
  let active = null;
  let timer = null;
  let sequence = 0;
  tester.hidden = false;

  function activate(row) {
    if (active === row) return;
    if (active) active.classList.remove("testing");
    active = row;
    row.classList.add("testing");
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(runTest, 250);
  }

  function show(text, spans) {
    // Offsets are code points (the server's Python strings); Array.from splits the same way.
    const chars = Array.from(text);
    result.textContent = "";
    let at = 0;
    spans.forEach(([start, end]) => {
      if (start > at) result.append(document.createTextNode(chars.slice(at, start).join("")));
      const mark = document.createElement("mark");
      mark.textContent = chars.slice(start, end).join("");
      result.append(mark);
      at = end;
    });
    if (at < chars.length) result.append(document.createTextNode(chars.slice(at).join("")));
  }

  async function runTest() {
    const regex = active ? active.querySelector(".pattern-regex").value : "";
    const name = active ? active.querySelector(".pattern-name").value.trim() : "";
    const text = sample.value;
    const mine = ++sequence;
    if (!regex) {
      status.textContent = msg.msgEmpty;
      status.className = "";
      show(text, []);
      return;
    }
    try {
      const data = await post(root.dataset.patternTestUrl, { pattern: regex, text }, true);
      if (mine !== sequence) return; // an answer to an older keystroke
      const parts = [fill(msg.msgTesting, { name: name || msg.msgUnnamed })];
      parts.push(data.matches.length ? fill(msg.msgCount, { count: data.matches.length }) : msg.msgNone);
      if (data.truncated) parts.push(fill(msg.msgTruncated, { count: data.matches.length }));
      status.textContent = parts.join(" ");
      status.className = "ok";
      show(text, data.matches);
    } catch (e) {
      if (mine !== sequence) return;
      status.textContent = fill(msg.msgFailed, { reason: e.message });
      status.className = "error";
      show(text, []);
    }
  }

  sample.addEventListener("input", schedule);
  rows.querySelectorAll(".pattern-row").forEach(wireRow);
  const first = rows.querySelector(".pattern-row");
  if (first) activate(first);

  // ---- customer list: pick the column by its header ----------------------------------------
  const file = document.getElementById("f-customers-file");
  const columnText = document.getElementById("column-text");
  const columnInput = document.getElementById("f-customers-column");
  const choice = document.getElementById("column-choice");
  const selectEl = document.getElementById("f-column-select");
  const sampleLine = document.getElementById("column-sample");
  const columnStatus = document.getElementById("column-status");
  let columns = [];

  function describe() {
    const chosen = columns.find((c) => c.key === selectEl.value);
    columnInput.value = selectEl.value;
    sampleLine.textContent = chosen && chosen.sample.length ? fill(msg.msgColumnSample, { sample: chosen.sample.join(" · ") }) : "";
  }

  file.addEventListener("change", async () => {
    choice.hidden = true;
    columnText.hidden = false;
    columnStatus.textContent = "";
    const chosen = file.files[0];
    if (!chosen) return;
    columnStatus.textContent = msg.msgColumnsReading;
    const body = new FormData();
    body.append("file", chosen, chosen.name);
    try {
      const data = await post(root.dataset.columnsUrl, body, false);
      columns = data.columns;
      selectEl.textContent = "";
      columns.forEach((c) => {
        const option = document.createElement("option");
        option.value = c.key;
        option.textContent = c.header ? fill(msg.msgColumnOption, { header: c.header, letter: c.letter }) : fill(msg.msgColumnUntitled, { letter: c.letter });
        selectEl.append(option);
      });
      selectEl.value = data.suggested || (columns[0] ? columns[0].key : "");
      describe();
      columnStatus.textContent = "";
      choice.hidden = false;
      columnText.hidden = true;
    } catch (e) {
      columnStatus.textContent = e.message;
    }
  });
  selectEl.addEventListener("change", describe);
})();
