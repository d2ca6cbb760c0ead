// Small DOM helpers: every value from the server goes in as text, never as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const STATUSES = ["PENDING", "ENQUEUED", "DELAYED", "SUCCESS", "ERROR", "CANCELLED",
  "MAX_RECOVERY_ATTEMPTS_EXCEEDED"];
export const ENDED = new Set(["SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]);

export function statusPill(status) {
  return h("span", { class: `status status-${status}`, dataset: { status } }, status);
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 23) + " UTC";
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60000), s = Math.round((ms % 60000) / 1000);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function workflowLink(id) {
  return h("a", { href: "#/workflow/" + encodeURIComponent(id), class: "mono" }, id);
}

// A stored value as the gateway gives it: JSON, or a marker for a value that has no JSON form or cannot be
// decoded in the server's process (a pickle of a class it cannot import); markers are never values.
export function isMarker(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v) && typeof v.$tether_error === "string";
}

export function valueView(v) {
  if (isMarker(v)) {
    const what = v.$tether_error === "undecodable"
      ? "Stored as a Python pickle that this server cannot decode (it is never unpickled from a request)"
      : v.$tether_error === "not_json" ? `A Python value with no JSON form (${v.type || "?"})` : v.$tether_error;
    return h("div", { class: "marker", dataset: { marker: v.$tether_error } }, what,
      v.detail ? h("div", { class: "muted mono" }, String(v.detail).slice(0, 500)) : null);
  }
  return h("pre", { class: "json" }, JSON.stringify(v, null, 2));
}

export function errorView(e) {
  if (e === null || e === undefined) return null;
  if (isMarker(e)) return valueView(e);
  return h("div", { class: "mono", style: null }, h("strong", {}, e.type || "Error"), ": ", e.message || "");
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
