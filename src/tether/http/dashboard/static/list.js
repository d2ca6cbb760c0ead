// The workflow list: DBOS's filters, pages, and rows that appear and change live (one SSE feed, /changes).
import { api, follow, query } from "./api.js";
import { ENDED, STATUSES, clear, fmtDuration, fmtTime, h, statusPill, workflowLink } from "./dom.js";

const PAGE_SIZES = [25, 50, 100, 200];

function readFilters(params) {
  const list = (k) => params.getAll(k).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  return {
    status: list("status"), name: list("name"), queue_name: list("queue_name"),
    workflow_id_prefix: params.get("workflow_id_prefix") || "", start_time: params.get("start_time") || "",
    end_time: params.get("end_time") || "", attributes: params.get("attributes") || "",
    limit: Number(params.get("limit")) || 50, offset: Math.max(0, Number(params.get("offset")) || 0),
  };
}

function toHash(f) {
  return "#/" + query({ ...f, limit: f.limit === 50 ? "" : f.limit, offset: f.offset || "" });
}

function localInput(iso) { // RFC 3339 (UTC) -> the value of a datetime-local input, in UTC
  return iso ? iso.replace(/Z$/, "").slice(0, 19) : "";
}

function matches(f, row) { // whether a row pushed live belongs on this page's first page
  if (f.status.length && !f.status.includes(row.status)) return false;
  if (f.name.length && !f.name.includes(row.name)) return false;
  if (f.queue_name.length && !f.queue_name.includes(row.queue_name)) return false;
  if (f.workflow_id_prefix && !row.workflow_id.startsWith(f.workflow_id_prefix)) return false;
  if (f.start_time && row.created_at < Date.parse(f.start_time)) return false;
  if (f.end_time && row.created_at > Date.parse(f.end_time)) return false;
  if (f.attributes) {
    let want;
    try { want = JSON.parse(f.attributes); } catch (e) { return false; }
    const have = row.attributes || {};
    for (const [k, v] of Object.entries(want)) if (JSON.stringify(have[k]) !== JSON.stringify(v)) return false;
  }
  return true;
}

function row(w, fresh) {
  const took = ENDED.has(w.status) && w.updated_at && w.created_at ? fmtDuration(w.updated_at - w.created_at) : "";
  return h("tr", { dataset: { workflowId: w.workflow_id, status: w.status }, class: fresh ? "fresh" : null },
    h("td", {}, workflowLink(w.workflow_id)),
    h("td", { class: "mono" }, w.name || ""),
    h("td", {}, statusPill(w.status)),
    h("td", { class: "mono" }, w.queue_name || ""),
    h("td", {}, fmtTime(w.created_at)),
    h("td", {}, took),
    h("td", { class: "mono muted" }, w.parent_workflow_id ? "child" : w.forked_from ? "fork" : ""));
}

export function listPage(main, params, onCleanup) {
  const f = readFilters(params);
  const form = h("form", { class: "filters card", id: "filters" },
    h("label", {}, "Status", h("select", { name: "status", multiple: true },
      STATUSES.map((s) => h("option", { value: s, selected: f.status.includes(s) }, s)))),
    h("label", {}, "Name (comma-separated)", h("input", { name: "name", value: f.name.join(",") })),
    h("label", {}, "Queue", h("input", { name: "queue_name", value: f.queue_name.join(",") })),
    h("label", {}, "ID prefix", h("input", { name: "workflow_id_prefix", value: f.workflow_id_prefix })),
    h("label", {}, "Created from (UTC)", h("input", { name: "start_time", type: "datetime-local", step: "1",
      value: localInput(f.start_time) })),
    h("label", {}, "Created until (UTC)", h("input", { name: "end_time", type: "datetime-local", step: "1",
      value: localInput(f.end_time) })),
    h("label", {}, "Attributes (JSON object)", h("input", { name: "attributes", value: f.attributes,
      placeholder: '{"tenant": "acme"}' })),
    h("label", {}, "Per page", h("select", { name: "limit" },
      PAGE_SIZES.map((n) => h("option", { value: n, selected: n === f.limit }, n)))),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Apply"),
      h("button", { type: "button", onclick: () => { location.hash = "#/"; } }, "Clear")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const utc = (v) => (v ? new Date(v + "Z").toISOString() : "");
    location.hash = toHash({
      status: data.getAll("status"), name: data.get("name"), queue_name: data.get("queue_name"),
      workflow_id_prefix: data.get("workflow_id_prefix"), start_time: utc(data.get("start_time")),
      end_time: utc(data.get("end_time")), attributes: data.get("attributes"), limit: Number(data.get("limit")),
      offset: 0,
    });
  });
  const live = h("span", { id: "live", dataset: { state: "connecting" } }, "connecting…");
  const info = h("span", { class: "muted", id: "page-info" });
  const prev = h("button", { id: "prev", disabled: f.offset === 0,
    onclick: () => { location.hash = toHash({ ...f, offset: Math.max(0, f.offset - f.limit) }); } }, "← Newer");
  const next = h("button", { id: "next", disabled: true,
    onclick: () => { location.hash = toHash({ ...f, offset: f.offset + f.limit }); } }, "Older →");
  const body = h("tbody", { id: "workflow-rows" });
  const table = h("table", { id: "workflows" }, h("thead", {}, h("tr", {},
    ["ID", "Name", "Status", "Queue", "Created", "Took", ""].map((t) => h("th", {}, t)))), body);
  const problem = h("div", { id: "list-error", class: "result error" });
  clear(main).append(h("h1", {}, "Workflows"), form, h("div", { class: "pager" }, prev, next, info, live),
    problem, table);

  const shown = new Map();
  async function load() {
    problem.textContent = "";
    try {
      const got = await api("/workflows" + query({ status: f.status, name: f.name, queue_name: f.queue_name,
        workflow_id_prefix: f.workflow_id_prefix, start_time: f.start_time, end_time: f.end_time,
        attributes: f.attributes, limit: f.limit + 1, offset: f.offset, load_input: false, load_output: false }));
      const rows = got.workflows.slice(0, f.limit);
      next.disabled = got.workflows.length <= f.limit;
      clear(body);
      shown.clear();
      for (const w of rows) { const tr = row(w, false); shown.set(w.workflow_id, tr); body.append(tr); }
      info.textContent = rows.length
        ? `${f.offset + 1}–${f.offset + rows.length}${next.disabled ? "" : "+"}` : "no workflows match";
      main.dataset.loaded = String(Date.now());
    } catch (err) {
      problem.textContent = String(err.message || err);
    }
  }

  function apply(rows) {
    for (const w of rows) {
      const old = shown.get(w.workflow_id);
      if (old) {
        const tr = row(w, true);
        old.replaceWith(tr);
        shown.set(w.workflow_id, tr);
      } else if (f.offset === 0 && matches(f, w)) {
        const tr = row(w, true);
        body.prepend(tr);
        shown.set(w.workflow_id, tr);
        while (body.children.length > f.limit) {
          const last = body.lastElementChild;
          shown.delete(last.dataset.workflowId);
          last.remove();
          next.disabled = false;
        }
      }
    }
  }

  load();
  const feed = follow("/changes", {
    open() { live.dataset.state = "connecting"; },
    ready() { live.dataset.state = "live"; live.textContent = "● live"; },
    workflows(e) { apply(JSON.parse(e.data).workflows); },
    resync() { load(); },
    error(err) { live.dataset.state = "down"; live.textContent = "not live: " + (err.message || err); },
  });
  onCleanup(() => feed.close());
}
