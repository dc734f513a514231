// The new-job page (templates/web/job_new.html): show the chosen kind's
// parameter fields, fill them with the kind's example, list the columns of
// the chosen import target, and preview the file's first rows before the job
// starts. A file, not inline: the Content-Security-Policy allows no inline
// script. Without it the form still works: the chosen kind's fields are
// shown by the server and only they are read.
"use strict";

(function () {
  const form = document.getElementById("new-job");
  const kindsData = document.getElementById("job-kinds");
  if (!form || !kindsData) {
    return;
  }
  const kinds = JSON.parse(kindsData.textContent);
  const kindSelect = form.querySelector("select[name=kind]");
  const previewControls = form.querySelector(".preview-controls");
  const previewButton = document.getElementById("preview-button");
  const preview = document.getElementById("preview");

  function panelOf(kind) {
    return form.querySelector(`fieldset.kind-panel[data-kind="${CSS.escape(kind)}"]`);
  }

  function fieldOf(kind, name) {
    return form.querySelector(`[name="${CSS.escape(`param:${kind}:${name}`)}"]:not([type=hidden])`);
  }

  function showColumns(kind) {
    const facts = kinds[kind];
    const box = form.querySelector(`[data-columns-for="${CSS.escape(kind)}"]`);
    if (!facts || !facts.columns_param || !box) {
      return;
    }
    const chooser = fieldOf(kind, facts.columns_param);
    const value = chooser ? chooser.value : "";
    for (const list of box.querySelectorAll(".columns-of")) {
      list.hidden = list.dataset.columnsValue !== value;
    }
  }

  function showKind() {
    const kind = kindSelect.value;
    for (const panel of form.querySelectorAll("fieldset.kind-panel")) {
      panel.hidden = panel.dataset.kind !== kind;
    }
    const facts = kinds[kind] || {};
    previewControls.hidden = !facts.offers_preview;
    // Attachments only for kinds that take them (and any already chosen).
    const attachments = form.querySelector('[data-field="attachments"]');
    if (attachments) {
      const chosen = attachments.querySelector("input[type=file]").files.length > 0;
      attachments.hidden = !facts.accepts_attachments && !chosen;
    }
    // The file only for kinds that read one (unless one is chosen or kept:
    // hiding it would send it unseen).
    const file = form.querySelector('[data-field="file"]');
    if (file) {
      const chosen = file.querySelector("input[type=file]").files.length > 0;
      file.hidden = facts.reads_input === false && !chosen && !("kept" in file.dataset);
    }
    preview.replaceChildren();
    showColumns(kind);
  }

  function fillExample(kind) {
    const example = (kinds[kind] || {}).example_params || {};
    for (const [name, value] of Object.entries(example)) {
      const field = fieldOf(kind, name);
      if (!field) {
        continue;
      }
      if (field.type === "checkbox") {
        field.checked = Boolean(value);
      } else if (field.classList.contains("json")) {
        field.value = JSON.stringify(value, null, 2);
      } else {
        field.value = typeof value === "string" ? value : JSON.stringify(value);
      }
      field.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  function cell(tag, text, className) {
    const element = document.createElement(tag);
    element.textContent = text;
    if (className) {
      element.className = className;
    }
    return element;
  }

  function showPreview(body) {
    const rows = body.rows || [];
    const summary = cell(
      "p",
      `The first ${rows.length} row(s): ${body.invalid_rows} would fail, ` +
        `${rows.length - body.invalid_rows} would go through.`,
      body.invalid_rows ? "preview-summary has-errors" : "preview-summary",
    );
    const names = [];
    for (const row of rows) {
      for (const name of Object.keys(row.values || {})) {
        if (!names.includes(name)) {
          names.push(name);
        }
      }
    }
    const table = document.createElement("table");
    table.className = "preview-table";
    const head = table.createTHead().insertRow();
    for (const name of ["Line", ...names, "Errors"]) {
      head.appendChild(cell("th", name));
    }
    const tbody = table.createTBody();
    for (const row of rows) {
      const line = tbody.insertRow();
      line.className = row.valid ? "valid" : "invalid";
      line.dataset.line = row.line;
      line.appendChild(cell("td", String(row.line)));
      for (const name of names) {
        const value = (row.values || {})[name];
        line.appendChild(cell("td", value === undefined || value === null ? "" : String(value)));
      }
      const errors = row.errors.map((error) => `${error.message} (${error.code})`).join("; ");
      line.appendChild(cell("td", errors || "ok", "preview-errors"));
    }
    preview.replaceChildren(summary, table);
  }

  async function runPreview() {
    preview.replaceChildren(cell("p", "Reading the first rows…", "muted"));
    previewButton.disabled = true;
    try {
      const response = await fetch(form.dataset.previewUrl, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const body = await response.json();
      if (response.ok) {
        showPreview(body);
      } else {
        preview.replaceChildren(cell("p", body.message || `Error ${response.status}`, "errorlist"));
      }
    } catch (error) {
      preview.replaceChildren(cell("p", `The preview failed: ${error}`, "errorlist"));
    } finally {
      previewButton.disabled = false;
    }
  }

  kindSelect.addEventListener("change", showKind);
  form.addEventListener("change", (event) => {
    const name = event.target.name || "";
    if (name.startsWith(`param:${kindSelect.value}:`)) {
      showColumns(kindSelect.value);
    }
  });
  for (const button of form.querySelectorAll("button[data-example]")) {
    button.addEventListener("click", () => fillExample(button.dataset.example));
  }
  previewButton.addEventListener("click", runPreview);
  showKind();
})();
