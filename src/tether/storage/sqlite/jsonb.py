"""PostgreSQL's JSONB containment (``@>``) for SQLite, registered on every connection as ``tether_json_contains``.

SQLite's JSON functions can extract and compare single paths but have no containment operator, so
``list_workflows(attributes=...)`` evaluates this function per candidate row instead. It follows PostgreSQL's
documented rules (https://www.postgresql.org/docs/current/datatype-json.html#JSON-CONTAINMENT), which the test
suite checks against a real PostgreSQL server on generated documents:

- scalars contain only equal scalars (numbers by value, so ``1`` contains ``1.0``; ``true`` is not ``1``);
- an object contains an object when every key of the second is in the first with a contained value;
- an array contains an array when every element of the second is contained by some element of the first
  (order and repetition do not matter);
- as a special case, an array at the top level contains a scalar that is one of its elements.
"""

from __future__ import annotations

import json
from typing import Any


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b  # str with str, None with None


def _contains(doc: Any, needle: Any) -> bool:
    if isinstance(needle, dict):
        return isinstance(doc, dict) and all(k in doc and _contains(doc[k], v) for k, v in needle.items())
    if isinstance(needle, list):
        return isinstance(doc, list) and all(any(_contains(d, n) for d in doc) for n in needle)
    if isinstance(doc, (dict, list)):
        return False
    return _same_scalar(doc, needle)


def contains(doc: Any, needle: Any) -> bool:
    """``doc @> needle`` on decoded JSON values, with the top-level array-contains-scalar rule."""
    if isinstance(doc, list) and not isinstance(needle, (dict, list)):
        return any(not isinstance(d, (dict, list)) and _same_scalar(d, needle) for d in doc)
    return _contains(doc, needle)


def sql_contains(doc: str | None, needle: str | None) -> int | None:
    """The SQL function: JSON texts in, 1/0 out, NULL when either side is NULL (as ``@>`` gives)."""
    if doc is None or needle is None:
        return None
    try:
        return int(contains(json.loads(doc), json.loads(needle)))
    except ValueError:
        return 0  # a stored value that is not JSON contains nothing
