// One workflow: status, inputs and outputs, steps as a timeline, children and parent, events, pending
// messages and streams, kept current by /workflows/{id}/changes; cancel, resume and fork (admin token).
import { api, follow, query } from "./api.js";
import { ENDED, clear, errorView, fmtDuration, fmtTime, h, statusPill, valueView, workflowLink } from "./dom.js";

const STEP_REFRESH_MS = 3000; // steps write no notification: re-read them this often while the workflow runs

function section(id, title) {
  const body = h("div", { id });
  return [h("h2", {}, title), h("div", { class: "card" }, body), body];
}

function overview(w) {
  const ended = ENDED.has(w.status);
  const rows = [
    ["Name", w.name], ["Class", w.class_name], ["Queue", w.queue_name], ["Created", fmtTime(w.created_at)],
    ["Dequeued", fmtTime(w.dequeued_at)], ["Updated", fmtTime(w.updated_at)],
    ["Completed", fmtTime(w.completed_at)],
    ["Duration", ended && w.created_at ? fmtDuration((w.completed_at || w.updated_at) - w.created_at) : ""],
    ["Executor", w.executor_id], ["App version", w.app_version], ["Recovery attempts", w.recovery_attempts],
    ["Priority", w.priority || ""], ["Deduplication ID", w.deduplication_id], ["Schedule", w.schedule_name],
    ["Timeout", w.workflow_timeout_ms ? fmtDuration(w.workflow_timeout_ms) : ""],
    ["User", w.authenticated_user],
    ["Roles", (w.authenticated_roles || []).join(", ")], ["Assumed role", w.assumed_role],
  ];
  const dl = h("dl", { class: "grid" });
  for (const [k, v] of rows) if (v !== null && v !== undefined && v !== "") dl.append(h("dt", {}, k), h("dd", {}, String(v)));
  if (w.parent_workflow_id) dl.append(h("dt", {}, "Parent"), h("dd", { id: "parent" }, workflowLink(w.parent_workflow_id)));
  if (w.forked_from) dl.append(h("dt", {}, "Forked from"), h("dd", {}, workflowLink(w.forked_from)));
  if (w.attributes) dl.append(h("dt", {}, "Attributes"), h("dd", {}, valueView(w.attributes)));
  return dl;
}

function timeline(steps, w) {
  if (!steps.length) return h("p", { class: "muted" }, "No steps recorded yet.");
  const starts = steps.map((s) => s.started_at_epoch_ms).filter((t) => t != null);
  const t0 = Math.min(w.created_at || Infinity, ...starts);
  const now = Date.now();
  const t1 = Math.max(t0 + 1, ...steps.map((s) => s.completed_at_epoch_ms || (s.started_at_epoch_ms != null ? now : t0)));
  const body = h("tbody", {});
  for (const s of steps) {
    const open = s.started_at_epoch_ms != null && s.completed_at_epoch_ms == null;
    const span = h("div", { class: "span " + (s.error ? "err" : open ? "open" : "ok") });
    if (s.started_at_epoch_ms != null) {
      const end = s.completed_at_epoch_ms || now;
      span.style.left = `${(100 * (s.started_at_epoch_ms - t0)) / (t1 - t0)}%`;
      span.style.width = `${Math.max(0.3, (100 * (end - s.started_at_epoch_ms)) / (t1 - t0))}%`;
    }
    const took = s.started_at_epoch_ms != null && s.completed_at_epoch_ms != null
      ? fmtDuration(s.completed_at_epoch_ms - s.started_at_epoch_ms) : open ? "running" : "";
    const outcome = s.error ? errorView(s.error)
      : s.child_workflow_id ? h("span", {}, "child ", workflowLink(s.child_workflow_id))
        : s.output === null || s.output === undefined ? h("span", { class: "muted" }, "") : valueView(s.output);
    body.append(h("tr", { dataset: { functionId: s.function_id } },
      h("td", { class: "mono" }, s.function_id), h("td", { class: "mono" }, s.function_name),
      h("td", { class: "bar" }, h("div", { class: "track" }, span)), h("td", {}, took),
      h("td", {}, s.error ? "failed" : open ? "" : "ok"), h("td", {}, outcome)));
  }
  return h("table", { class: "timeline", id: "steps-table" }, h("thead", {}, h("tr", {},
    ["#", "Step", "Timeline", "Took", "Outcome", "Output / error"].map((t) => h("th", {}, t)))), body);
}

export function detailPage(main, workflowId, onCleanup) {
  const enc = encodeURIComponent(workflowId);
  const title = h("h1", {}, "Workflow ", h("span", { class: "mono" }, workflowId), " ",
    h("span", { id: "status" }));
  const live = h("span", { id: "live", dataset: { state: "connecting" } }, "connecting…");
  const result = h("span", { id: "action-result", class: "result" });
  const forkStep = h("input", { id: "fork-step", type: "number", min: "1", value: "1", size: "4" });
  const act = (what, path, body) => async () => {
    result.className = "result";
    result.textContent = `${what}…`;
    try {
      const got = await api(path, { method: "POST", body });
      result.className = "result ok";
      result.textContent = `${what}: ${got.workflow_id} is ${got.status}`;
      if (what === "Fork") result.append(" ", workflowLink(got.workflow_id));
      refresh(["status"]);
    } catch (err) {
      result.className = "result error";
      result.textContent = `${what} refused: ${err.message || err}`;
    }
  };
  const buttons = h("div", { class: "buttons card" },
    h("button", { id: "cancel", class: "danger", onclick: act("Cancel", `/workflows/${enc}/cancel`) }, "Cancel"),
    h("button", { id: "resume", onclick: act("Resume", `/workflows/${enc}/resume`) }, "Resume"),
    h("label", {}, "from step ", forkStep),
    h("button", { id: "fork", onclick: () => act("Fork", `/workflows/${enc}/fork`,
      { start_step: Number(forkStep.value) || 1 })() }, "Fork"),
    h("span", { class: "muted" }, "(needs an admin token)"), result, live);
  const problem = h("div", { id: "detail-error", class: "result error" });
  const [oh, oc, overviewBox] = section("overview", "Overview");
  const [ih, ic, inputBox] = section("input", "Input");
  const [uh, uc, outputBox] = section("output", "Output");
  const [sh, sc, stepsBox] = section("steps", "Steps");
  const [ch, cc, childrenBox] = section("children", "Children");
  const [eh, ec, eventsBox] = section("events", "Events");
  const [mh, mc, messagesBox] = section("messages", "Pending messages");
  const [th, tc, streamsBox] = section("streams", "Streams");
  clear(main).append(title, buttons, problem, oh, oc,
    h("div", { class: "cols" }, h("div", {}, ih, ic), h("div", {}, uh, uc)), sh, sc, ch, cc,
    h("div", { class: "cols" }, h("div", {}, eh, ec), h("div", {}, mh, mc)), th, tc);

  let current = null;
  const followers = new Map();
  async function loadStatus() {
    const w = await api(`/workflows/${enc}`);
    current = w;
    clear(title.querySelector("#status")).append(statusPill(w.status));
    clear(overviewBox).append(overview(w));
    clear(inputBox).append(valueView(w.input));
    clear(outputBox).append(w.error ? errorView(w.error) : ENDED.has(w.status) ? valueView(w.output)
      : h("span", { class: "muted" }, "not ended yet"));
    main.querySelector("#cancel").disabled = ENDED.has(w.status);
  }
  async function loadSteps() {
    const got = await api(`/workflows/${enc}/steps`);
    clear(stepsBox).append(timeline(got.steps, current || {}));
  }
  async function loadChildren() {
    const got = await api("/workflows" + query({ parent_workflow_id: workflowId, limit: 100, load_input: false,
      load_output: false, sort_desc: false }));
    clear(childrenBox).append(got.workflows.length ? h("table", {}, h("tbody", {}, got.workflows.map((c) =>
      h("tr", {}, h("td", {}, workflowLink(c.workflow_id)), h("td", { class: "mono" }, c.name),
        h("td", {}, statusPill(c.status)))))) : h("p", { class: "muted" }, "No children."));
  }
  async function loadEvents() {
    const got = await api(`/workflows/${enc}/events`);
    const keys = Object.keys(got.events).sort();
    clear(eventsBox).append(keys.length ? h("dl", { class: "grid" }, keys.map((k) => [
      h("dt", { class: "mono" }, k), h("dd", { dataset: { eventKey: k } }, valueView(got.events[k]))]))
      : h("p", { class: "muted" }, "No events."));
  }
  async function loadMessages() {
    let got;
    try {
      got = await api(`/workflows/${enc}/messages` + query({ load_values: true, limit: 100 }));
    } catch (err) {
      if (err.status === 404 && !(err.body && err.body.error === "workflow_not_found")) {
        clear(messagesBox).append(h("p", { class: "muted" }, "This gateway does not list messages."));
        return;
      }
      throw err;
    }
    const list = got.messages.map((m) => h("tr", {},
      h("td", { class: "mono" }, m.topic === null ? "(no topic)" : m.topic),
      h("td", {}, fmtTime(m.sent_at_epoch_ms)), h("td", {}, "value" in m ? valueView(m.value) : "")));
    clear(messagesBox).append(h("p", { class: "muted" }, `${got.pending} pending`));
    if (list.length) messagesBox.append(h("table", { id: "messages-table" }, h("tbody", {}, list)));
  }
  async function loadStreams() {
    const got = await api(`/workflows/${enc}/streams`);
    if (!got.streams.length && !followers.size) {
      clear(streamsBox).append(h("p", { class: "muted", id: "no-streams" }, "No streams."));
      return;
    }
    const none = streamsBox.querySelector("#no-streams");
    if (none) none.remove();
    for (const s of got.streams) if (!followers.has(s.key)) followStream(s.key);
  }
  function followStream(key) {
    const state = h("span", { class: "live", dataset: { state: "connecting" } }, "connecting…");
    const list = h("ol", { class: "stream", start: "0", dataset: { streamKey: key } });
    streamsBox.append(h("h3", { class: "mono" }, key, " ", state), list);
    const add = (offset, text, marker) => list.append(h("li", { dataset: { offset } }, marker ? "(no JSON form) " + text : text));
    const feed = follow(`/workflows/${enc}/streams/${encodeURIComponent(key)}`, {
      open() { state.dataset.state = "live"; state.textContent = "● following"; },
      message(e) { add(e.id, e.data, false); },
      unrepresentable(e) { add(e.id, e.data, true); },
      end() { state.dataset.state = "closed"; state.textContent = "closed"; return "stop"; },
      failure(e) { state.dataset.state = "failed"; state.textContent = "failed " + e.data; return "stop"; },
      error(err) { state.dataset.state = "down"; state.textContent = "not live: " + (err.message || err); },
    });
    followers.set(key, feed);
  }

  const loaders = { status: [loadStatus, loadSteps, loadChildren], events: [loadEvents, loadSteps],
    msg: [loadMessages], streams: [loadStreams] };
  let busy = Promise.resolve();
  function refresh(kinds) {
    const todo = new Set();
    for (const kind of kinds) {
      const group = kind === "status" || kind === "resync" ? ["status", "events", "msg", "streams"]
        : kind.startsWith("event:") ? ["events"] : kind.startsWith("stream:") ? ["streams"] : kind === "msg" ? ["msg"] : [];
      for (const g of group) for (const fn of loaders[g]) todo.add(fn);
    }
    busy = busy.catch(() => {}).then(() => Promise.all([...todo].map((fn) => fn()))).then(() => {
      problem.textContent = "";
      main.dataset.loaded = String(Date.now());
    }, (err) => { problem.textContent = String(err.message || err); });
    return busy;
  }

  refresh(["status"]);
  const feed = follow(`/workflows/${enc}/changes`, {
    ready() { live.dataset.state = "live"; live.textContent = "● live"; },
    changed(e) { refresh(JSON.parse(e.data).kinds); },
    resync() { refresh(["status"]); },
    error(err) { live.dataset.state = "down"; live.textContent = "not live: " + (err.message || err); },
  });
  const timer = setInterval(() => { if (current && !ENDED.has(current.status)) busy = busy.catch(() => {}).then(loadSteps).catch(() => {}); },
    STEP_REFRESH_MS);
  onCleanup(() => { feed.close(); clearInterval(timer); for (const f of followers.values()) f.close(); });
}
