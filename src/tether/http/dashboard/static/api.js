// Talking to the gateway: JSON requests and Server-Sent Events, both with the token in a header.
// The gateway's routes live next to /ui, wherever the gateway is mounted.
export const BASE = location.pathname.replace(/\/ui(\/.*)?$/, "");
const TOKEN_KEY = "tether.dashboard.token";

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, body, text) {
    const detail = body && typeof body === "object" && body.detail ? body.detail : (text || "").slice(0, 300);
    super(`${status}${body && body.error ? " " + body.error : ""}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    this.status = status;
    this.body = body;
  }
}

function headers(extra) {
  const h = Object.assign({}, extra);
  const t = token();
  if (t) h.Authorization = "Bearer " + t;
  return h;
}

// One JSON request. Throws ApiError for an answer other than 2xx.
export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: headers({ Accept: "application/json" }) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const answer = await fetch(BASE + path, init);
  const text = await answer.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!answer.ok) {
    const err = new ApiError(answer.status, data, text);
    if (answer.status === 401 || answer.status === 403) window.dispatchEvent(new CustomEvent("tether:refused", { detail: err }));
    throw err;
  }
  window.dispatchEvent(new CustomEvent("tether:answered"));
  return data;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

// Follow an SSE route with fetch (EventSource cannot send the token in a header). handlers maps event names
// ("message" for unnamed events) to functions of {data, id}; handlers.open and handlers.error are called on
// (re)connection and on failure. A closed connection is reopened with Last-Event-ID, like EventSource does,
// unless the server answered 204, 4xx, or a handler returned "stop". Returns {close()}.
export function follow(path, handlers) {
  let stopped = false;
  let lastId = null;
  let retryMs = 1000;
  let controller = null;

  async function once() {
    controller = new AbortController();
    const h = headers({ Accept: "text/event-stream" });
    if (lastId !== null) h["Last-Event-ID"] = lastId;
    const answer = await fetch(BASE + path, { headers: h, signal: controller.signal, cache: "no-store" });
    if (answer.status === 204) { stopped = true; return; }
    if (!answer.ok) {
      const text = await answer.text();
      let body = null;
      try { body = JSON.parse(text); } catch (e) { body = null; }
      const err = new ApiError(answer.status, body, text);
      if (answer.status < 500) stopped = true;
      throw err;
    }
    if (handlers.open) handlers.open();
    const reader = answer.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message", data = [], id = null, any = false;
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? "" : line.slice(colon + 1);
          if (val.startsWith(" ")) val = val.slice(1);
          if (field === "event") { event = val; any = true; }
          else if (field === "data") { data.push(val); any = true; }
          else if (field === "id") { id = val; lastId = val; }
          else if (field === "retry" && /^\d+$/.test(val)) retryMs = Number(val);
        }
        if (!any) continue;
        const fn = handlers[event];
        if (fn && fn({ data: data.join("\n"), id }) === "stop") { stopped = true; controller.abort(); return; }
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped && err && err.name === "AbortError") return;
        if (handlers.error) handlers.error(err);
      }
      if (stopped) return;
      await new Promise((r) => setTimeout(r, retryMs));
    }
  })();
  return { close() { stopped = true; if (controller) controller.abort(); } };
}
