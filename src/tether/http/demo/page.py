"""A small page that follows a workflow's stream with the browser's ``EventSource``."""

from __future__ import annotations

import html
import json

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tether stream: {title}</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 2rem; }}
  #values li {{ font-family: ui-monospace, monospace; white-space: pre-wrap; }}
</style>
</head>
<body>
<h1>Stream of <code>{title}</code></h1>
<p>State: <span id="state">connecting</span></p>
<ol id="values" start="0"></ol>
<script>
  const url = {url};
  const list = document.getElementById("values");
  const state = document.getElementById("state");
  const source = new EventSource(url);
  function show(offset, text) {{
    const li = document.createElement("li");
    li.dataset.offset = offset;
    li.textContent = text;
    list.appendChild(li);
  }}
  source.onopen = () => {{ state.textContent = "open"; }};
  source.onmessage = (e) => show(e.lastEventId, e.data);
  source.addEventListener("unrepresentable", (e) => show(e.lastEventId, "unrepresentable " + e.data));
  source.addEventListener("end", (e) => {{ state.textContent = "closed " + e.data; source.close(); }});
  source.addEventListener("failure", (e) => {{ state.textContent = "failed " + e.data; source.close(); }});
  source.onerror = () => {{ if (source.readyState === EventSource.CLOSED) state.textContent = "disconnected"; }};
</script>
</body>
</html>
"""


def stream_page(workflow_id: str, stream_url: str) -> str:
    """The HTML of a page that renders each value of the stream at ``stream_url`` as a list item."""
    return _PAGE.format(title=html.escape(workflow_id),
                        url=json.dumps(stream_url).replace("<", "\\u003c"))
