// Queues (limits and current load) and durable schedules.
import { api, query } from "./api.js";
import { clear, fmtDuration, h, statusPill } from "./dom.js";

function rate(r) { return r ? `${r.limit} per ${fmtDuration(r.period_ms)}` : ""; }

export async function queuesPage(main) {
  const problem = h("div", { class: "result error", id: "queues-error" });
  const body = h("tbody", {});
  clear(main).append(h("h1", {}, "Queues"), problem, h("table", { id: "queues" }, h("thead", {}, h("tr", {},
    ["Queue", "Enqueued", "Running", "Delayed", "Concurrency (global / per process)", "Rate limit",
      "Per partition", "Settings from"].map((t) => h("th", {}, t)))), body));
  try {
    const got = await api("/queues");
    for (const q of got.queues) {
      const l = q.limits || {};
      const part = [l.partition_concurrency && `${l.partition_concurrency} at once`,
        l.partition_worker_concurrency && `${l.partition_worker_concurrency} per process`,
        l.partition_rate_limit && rate(l.partition_rate_limit)].filter(Boolean).join(", ");
      body.append(h("tr", { dataset: { queue: q.name } },
        h("td", {}, h("a", { class: "mono", href: "#/" + query({ queue_name: q.name }) }, q.name)),
        h("td", {}, q.enqueued), h("td", {}, q.running), h("td", {}, q.delayed),
        h("td", {}, q.limits ? `${l.global_concurrency ?? "∞"} / ${l.worker_concurrency ?? "∞"}` : "unknown here"),
        h("td", {}, rate(l.rate_limit)), h("td", {}, part),
        h("td", { class: "muted" }, q.source || "declared in another process")));
    }
    if (!got.queues.length) body.append(h("tr", {}, h("td", { colspan: "8", class: "muted" }, "No queues.")));
    main.dataset.loaded = String(Date.now());
  } catch (err) {
    problem.textContent = String(err.message || err);
  }
}

export async function schedulesPage(main) {
  const problem = h("div", { class: "result error", id: "schedules-error" });
  const body = h("tbody", {});
  clear(main).append(h("h1", {}, "Schedules"), problem, h("table", { id: "schedules" }, h("thead", {}, h("tr", {},
    ["Schedule", "Workflow", "Cron", "Time zone", "Status", "Last fired", "Queue", "Application", "Runs"].map((t) => h("th", {}, t)))),
  body));
  try {
    const got = await api("/schedules");
    for (const s of got.schedules) {
      body.append(h("tr", { dataset: { schedule: s.schedule_name } },
        h("td", { class: "mono" }, s.schedule_name), h("td", { class: "mono" }, s.workflow_name),
        h("td", { class: "mono" }, s.schedule), h("td", {}, s.cron_timezone || "UTC"),
        h("td", {}, statusPill(s.status)), h("td", {}, s.last_fired_at || ""), h("td", { class: "mono" }, s.queue_name || ""),
        h("td", { class: "mono" }, s.application_name || "any"),
        h("td", {}, h("a", { href: "#/" + query({ name: s.workflow_name }) }, "workflows"))));
    }
    if (!got.schedules.length) body.append(h("tr", {}, h("td", { colspan: "9", class: "muted" }, "No schedules.")));
    main.dataset.loaded = String(Date.now());
  } catch (err) {
    problem.textContent = String(err.message || err);
  }
}
