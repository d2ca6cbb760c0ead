"""The demo's HTML: a landing page, a stream page (values so far rendered here, then followed live with the
browser's ``EventSource``), and a page for a workflow that does not exist.

A value is shown as its JSON; a numeric ``timestamp`` field (Unix seconds, as the demo's workflows write)
is shown apart, as a UTC time of day. The server and the page's script render a value the same way.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from tether.http.encoding import dumps

_STYLE = """
  body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 70rem; }
  code, #values li { font-family: ui-monospace, monospace; }
  #values li { white-space: pre-wrap; margin: 0.15rem 0; }
  time { color: #555; margin-right: 0.75rem; }
  table { border-collapse: collapse; } td, th { text-align: left; padding: 0.2rem 0.8rem 0.2rem 0; }
"""

_STREAM_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tether stream: {title}</title>
<style>{style}</style>
</head>
<body>
<p><a href="/">Tether demo</a></p>
<h1>Stream of <code>{title}</code></h1>
<p>State: <span id="state">{state}</span></p>
<ol id="values" start="0">{items}</ol>
<script>
  const url = {url};
  const closed = {closed};
  const list = document.getElementById("values");
  const state = document.getElementById("state");
  function when(value) {{
    if (value === null || typeof value !== "object" || Array.isArray(value) || typeof value.timestamp !== "number")
      return [null, value];
    const rest = Object.assign({{}}, value);
    delete rest.timestamp;
    return [new Date(value.timestamp * 1000).toISOString().slice(11, 23) + " UTC", rest];
  }}
  function show(offset, data, unrepresentable) {{
    const li = document.createElement("li");
    li.dataset.offset = offset;
    li.dataset.value = data;
    const [time, rest] = unrepresentable ? [null, null] : when(JSON.parse(data));
    if (time !== null) {{
      const t = document.createElement("time");
      t.textContent = time;
      li.appendChild(t);
    }}
    li.appendChild(document.createTextNode(unrepresentable ? "unrepresentable " + data : JSON.stringify(rest)));
    list.appendChild(li);
  }}
  if (!closed) {{
    const source = new EventSource(url);
    source.onopen = () => {{ state.textContent = "open, following live"; }};
    source.onmessage = (e) => show(e.lastEventId, e.data, false);
    source.addEventListener("unrepresentable", (e) => show(e.lastEventId, e.data, true));
    source.addEventListener("end", (e) => {{ state.textContent = "closed " + e.data; source.close(); }});
    source.addEventListener("failure", (e) => {{ state.textContent = "failed " + e.data; source.close(); }});
    source.onerror = () => {{ if (source.readyState === EventSource.CLOSED) state.textContent = "disconnected"; }};
  }}
</script>
</body>
</html>
"""


def _time_of(value: Any) -> tuple[str | None, Any]:
    if isinstance(value, dict) and isinstance(value.get("timestamp"), (int, float)) \
            and not isinstance(value.get("timestamp"), bool):
        rest = {k: v for k, v in value.items() if k != "timestamp"}
        moment = datetime.fromtimestamp(value["timestamp"], tz=timezone.utc)
        return moment.strftime("%H:%M:%S.%f")[:12] + " UTC", rest
    return None, value


def value_item(offset: int, value: Any) -> str:
    """One stream value as the page's script renders it (``value`` is JSON-ready)."""
    data = dumps(value)
    time, rest = _time_of(value)
    shown = (f"<time>{html.escape(time)}</time>" if time is not None else "") + html.escape(dumps(rest))
    return f'<li data-offset="{offset}" data-value="{html.escape(data)}">{shown}</li>'


def stream_page(workflow_id: str, stream_url: str, values: list[Any] | None = None, *, closed: bool = False,
                next_offset: int = 0) -> str:
    """The HTML of a page showing ``values`` (the stream so far, JSON-ready) and, unless ``closed``, following
    the SSE stream at ``stream_url`` (which should start at ``next_offset``) for the rest."""
    items = "".join(value_item(i, v) for i, v in enumerate(values or []))
    state = f"closed {dumps({'next_offset': next_offset})}" if closed else "connecting"
    return _STREAM_PAGE.format(title=html.escape(workflow_id), style=_STYLE, items=items, state=html.escape(state),
                               closed=json.dumps(closed), url=json.dumps(stream_url).replace("<", "\\u003c"))


def not_found_page(workflow_id: str) -> str:
    """The page for a workflow this database does not have."""
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>No workflow '
            f'{html.escape(workflow_id)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n'
            f'<p><a href="/">Tether demo</a></p>\n<h1>No workflow <code>{html.escape(workflow_id)}</code></h1>\n'
            "<p>This demo's database has no workflow with this ID. Start a streaming workflow with "
            f"<code>curl -X POST http://HOST/start-workflow-streaming/{html.escape(quote(workflow_id, safe=''))}/5"
            "</code>, then reload this page.</p>\n</body>\n</html>\n")


ROUTES = [
    ("POST", "/start-workflow-events/{id}/{n}", "a workflow of n steps publishing progress, status, result"),
    ("GET", "/workflow-events/{id}/{key}?timeout=5", "one event, waiting for it"),
    ("GET", "/workflow-events/{id}/all", "every event"),
    ("POST", "/start-workflow-messaging/{id}/{n}", 'a workflow waiting for {"approved": true}'),
    ("POST", "/send-message/{id}", "send it a JSON message"),
    ("POST", "/start-workflow-streaming/{id}/{n}", "a workflow streaming start, progress, result, complete"),
    ("GET", "/workflow-stream/{id}?offset=0", "the stream so far; live SSE with Accept: text/event-stream"),
    ("GET", "/stream-page/{id}", "a page showing the stream so far, then following it live"),
    ("GET", "/health", "process memory"),
]


def landing_page(workflows: list[tuple[str, str, str]], step_note: str) -> str:
    """The demo's home: what to call, and the latest workflows ``(id, name, status)`` with links to them."""
    routes = "".join(f"<tr><td>{m}</td><td><code>{html.escape(p)}</code></td><td>{html.escape(w)}</td></tr>"
                     for m, p, w in ROUTES)
    rows = []
    for workflow_id, name, status in workflows:
        q = quote(workflow_id, safe="")
        links = [f'<a href="/api/ui/#/workflow/{q}">dashboard</a>', f'<a href="/api/workflows/{q}">status</a>',
                 f'<a href="/workflow-events/{q}/all">events</a>']
        if name.endswith("workflow_with_streaming"):
            links.insert(0, f'<a href="/stream-page/{q}">stream page</a>')
        rows.append(f"<tr><td><code>{html.escape(workflow_id)}</code></td><td>{html.escape(name)}</td>"
                    f"<td>{html.escape(status)}</td><td>{' · '.join(links)}</td></tr>")
    listing = ("<table><tr><th>ID</th><th>workflow</th><th>status</th><th></th></tr>" + "".join(rows) + "</table>"
               if rows else "<p>No workflows yet: start one with a POST below "
                            "(<code>curl -X POST http://HOST/start-workflow-streaming/my-stream/5</code>).</p>")
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Tether demo</title>\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n<h1>Tether demo: events, messaging, streaming</h1>\n"
            '<p><strong><a href="/api/ui/">Dashboard</a></strong>: every workflow live, with its steps, events, '
            "messages and streams; queues and schedules.</p>\n"
            '<p>API docs: <a href="/docs">the demo\'s routes</a> · <a href="/api/docs">the full gateway</a>'
            ' (<a href="/api/redoc">ReDoc</a>, <a href="/openapi.json">OpenAPI</a>); they work offline.</p>\n'
            f"<h2>Latest workflows</h2>\n{listing}\n<h2>Endpoints</h2>\n<table>{routes}</table>\n"
            f"<p>{html.escape(step_note)}</p>\n</body>\n</html>\n")
