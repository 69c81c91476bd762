// The Import page: collect dropped or chosen files (folders walked, a CD read through its
// DICOMDIR on the server), upload a few at a time with a progress bar each, then show the
// batch's summary. Plain JavaScript, no build step.
(function () {
  "use strict";

  const root = document.querySelector("[data-import]");
  if (!root) return;
  const PARALLEL = 3;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const dropZone = root.querySelector("[data-drop-zone]");
  const progress = root.querySelector("[data-import-progress]");
  const list = root.querySelector("[data-file-list]");
  const overall = root.querySelector("[data-overall]");
  const summary = root.querySelector("[data-summary]");
  let busy = false;

  const basename = (name) => name.split("/").pop();
  const dirname = (name) => (name.includes("/") ? name.slice(0, name.lastIndexOf("/") + 1) : "");

  // --- Collecting files -----------------------------------------------------------------

  function fileOf(entry) {
    return new Promise((resolve, reject) => entry.file(resolve, reject));
  }

  function readAll(reader) {
    // readEntries answers in pieces (about 100 at a time in Chromium) until it answers none.
    return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
  }

  async function walk(entry, prefix, out) {
    if (entry.isFile) {
      out.push({ file: await fileOf(entry), name: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (let batch = await readAll(reader); batch.length; batch = await readAll(reader)) {
        for (const child of batch) await walk(child, prefix + entry.name + "/", out);
      }
    }
  }

  async function fromDrop(dataTransfer) {
    // Entries must be taken while the drop event runs; the walk happens afterwards.
    const entries = Array.from(dataTransfer.items || [])
      .filter((item) => item.kind === "file")
      .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
    if (!entries.length || entries.some((e) => !e)) {
      return Array.from(dataTransfer.files).map((file) => ({ file, name: file.name }));
    }
    const out = [];
    for (const entry of entries) await walk(entry, "", out);
    return out;
  }

  function fromInput(input) {
    return Array.from(input.files).map((file) => ({
      file,
      name: file.webkitRelativePath || file.name,
    }));
  }

  // --- Talking to the server ------------------------------------------------------------

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      body: body || new FormData(),
      headers: { "X-CSRFToken": csrf },
      credentials: "same-origin",
    });
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = {};
    }
    if (!response.ok) throw new Error(data.error || "the portal answered " + response.status);
    return data;
  }

  function upload(url, item, row) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) row.bar.value = event.loaded / event.total;
      };
      xhr.upload.onload = () => {
        row.bar.value = 1;
        row.status.textContent = "Filing…";
      };
      xhr.onload = () => {
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (e) {
          data = null;
        }
        if (xhr.status === 200 && data && data.items) resolve({ items: data.items });
        else if (xhr.status === 403) resolve({ error: "not allowed (signed out, or no import permission)" });
        else resolve({ error: (data && data.error) || "the portal answered " + xhr.status });
      };
      xhr.onerror = () => resolve({ error: "the connection was lost; try this file again" });
      const form = new FormData();
      form.append("name", item.name);
      form.append("file", item.file, basename(item.name));
      xhr.send(form);
    });
  }

  // --- Showing progress -----------------------------------------------------------------

  function rowFor(item) {
    const li = document.createElement("li");
    li.className = "import-file";
    li.dataset.fileRow = "";
    li.dataset.name = item.name;
    const name = document.createElement("span");
    name.className = "import-name";
    name.textContent = item.name;
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + item.name);
    const status = document.createElement("span");
    status.className = "import-status";
    status.textContent = "Waiting";
    li.append(name, bar, status);
    list.append(li);
    return { li, bar, status };
  }

  function showResult(row, result) {
    if (result.error) {
      row.li.dataset.outcome = "refused";
      row.status.textContent = "Not uploaded: " + result.error;
      return;
    }
    const items = result.items;
    if (items.length === 1) {
      const item = items[0];
      row.li.dataset.outcome = item.outcome;
      row.status.textContent = item.label + (item.reason ? ": " + item.reason : "");
      return;
    }
    // An archive: its counts, and each refused file with its reason.
    const order = ["imported", "duplicate", "replaced", "refused", "ignored"];
    const counts = {};
    const labels = {};
    items.forEach((item) => {
      counts[item.outcome] = (counts[item.outcome] || 0) + 1;
      labels[item.outcome] = item.label.toLowerCase();
    });
    row.li.dataset.outcome = items.some((i) => i.outcome === "refused") ? "mixed" : "imported";
    row.status.textContent = order
      .filter((outcome) => counts[outcome])
      .map((outcome) => counts[outcome] + " " + labels[outcome])
      .join(", ");
    const refused = items.filter((i) => i.outcome === "refused");
    if (refused.length) {
      const sub = document.createElement("ul");
      sub.className = "import-refused";
      refused.forEach((item) => {
        const li = document.createElement("li");
        li.textContent = item.name + ": " + item.reason;
        sub.append(li);
      });
      row.li.append(sub);
    }
  }

  function showSummary(data, localFailures) {
    const counts = summary.querySelector("[data-counts]");
    counts.replaceChildren();
    const lines = [
      ["imported", data.imported, "imported (new)"],
      ["duplicate", data.duplicates, "skipped: already held, same content"],
      ["replaced", data.replaced, "replaced an earlier version"],
      ["refused", data.refused + localFailures, "refused or not uploaded"],
      ["ignored", data.ignored, "ignored (viewer programs, the CD's index)"],
    ];
    for (const [kind, n, words] of lines) {
      if (kind === "ignored" && !n) continue;
      const li = document.createElement("li");
      li.className = "import-count-" + kind;
      const strong = document.createElement("strong");
      strong.textContent = String(n);
      li.append(strong, " " + words);
      counts.append(li);
    }
    summary.querySelector("[data-summary-link]").href = data.summary;
    summary.hidden = false;
  }

  // --- One import -----------------------------------------------------------------------

  async function planCds(batch, items) {
    // A CD: upload only the files its DICOMDIR lists; the server records the rest as ignored.
    let queue = items;
    const indexes = items.filter((i) => basename(i.name).toUpperCase() === "DICOMDIR");
    for (const index of indexes) {
      const folder = dirname(index.name).toLowerCase();
      const beside = queue.filter((i) => i.name.toLowerCase().startsWith(folder));
      const form = new FormData();
      form.append("name", index.name);
      form.append("names", JSON.stringify(beside.map((i) => i.name)));
      form.append("file", index.file, "DICOMDIR");
      overall.textContent = "Reading the CD's index…";
      try {
        const plan = await post(batch.cd, form);
        const wanted = new Set(plan.upload);
        const besideSet = new Set(beside);
        queue = queue.filter((i) => !besideSet.has(i) || wanted.has(i.name));
      } catch (error) {
        // Unreadable index: every file goes up and is judged on its own.
        overall.textContent = "The CD's index could not be read (" + error.message + ")";
      }
    }
    return queue;
  }

  async function run(items) {
    if (busy || !items.length) return;
    busy = true;
    summary.hidden = true;
    list.replaceChildren();
    progress.hidden = false;
    overall.textContent = "Starting…";
    let batch;
    try {
      batch = await post(root.dataset.startUrl);
    } catch (error) {
      overall.textContent = "The import could not start: " + error.message;
      busy = false;
      return;
    }
    const queue = await planCds(batch, items);
    const rows = queue.map((item) => ({ item, row: rowFor(item) }));
    let done = 0;
    let failures = 0;
    const report = () => (overall.textContent = done + " of " + rows.length + " files uploaded");
    report();
    let next = 0;
    async function worker() {
      while (next < rows.length) {
        const { item, row } = rows[next++];
        row.status.textContent = "Uploading";
        const result = await upload(batch.files, item, row);
        if (result.error) failures += 1;
        showResult(row, result);
        done += 1;
        report();
      }
    }
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    try {
      showSummary(await post(batch.finish), failures);
      overall.textContent = "Done: " + rows.length + " files";
    } catch (error) {
      overall.textContent = "The import could not be finished: " + error.message;
    }
    busy = false;
  }

  // --- Wiring ---------------------------------------------------------------------------

  dropZone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropZone.classList.add("is-over");
  });
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("is-over"));
  dropZone.addEventListener("drop", async (event) => {
    event.preventDefault();
    dropZone.classList.remove("is-over");
    run(await fromDrop(event.dataTransfer));
  });
  for (const input of root.querySelectorAll("[data-choose-files], [data-choose-folder]")) {
    input.addEventListener("change", () => {
      const items = fromInput(input);
      input.value = "";
      run(items);
    });
  }
  root.querySelector("[data-again]").addEventListener("click", () => {
    summary.hidden = true;
    progress.hidden = true;
  });
})();
