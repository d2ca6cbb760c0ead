"""The dashboard: web pages at ``/ui`` of every gateway (``tether serve``, ``tether demo``'s ``/api``, any app
that mounts :func:`tether.http.create_gateway`).

The pages are static files shipped in the package (``static/``: HTML, CSS and JavaScript modules, no build
step, nothing loaded from another host). They are served without a token; the data they show comes from the
gateway's JSON routes, to which the page sends the token the user types in (kept in the tab's
``sessionStorage``), so the gateway's scopes apply as they do to any client: a read token shows everything,
only an admin token can cancel, resume or fork.

Routes added here (besides the pages)::

    GET /changes                          SSE: changed workflows, for the list (read)
    GET /workflows/{id}/changes           SSE: what changed in one workflow (read)
    GET /workflows/{id}/streams           the streams a workflow wrote: key, values, closed (read)
    GET /queues                           queues: settings and current load (read, no ID prefix)
"""

from tether.http.dashboard.routes import add_dashboard
from tether.http.dashboard.watch import ChangeWatcher

__all__ = ["ChangeWatcher", "add_dashboard"]
