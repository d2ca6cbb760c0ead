"""Bearer tokens for the gateway, each scoped to what it may do and, optionally, to a workflow-ID prefix
(no FastAPI needed here).

A token is written ``NAME:SCOPES[:PREFIX]=SECRET``:

- ``NAME`` names it in messages (letters, digits, ``_.-``);
- ``SCOPES`` is one or more of ``read``, ``send`` and ``admin`` joined by ``+``:

  ====== ============================================================================================
  read   GET routes: list, status, result, steps, pending messages, events, streams, queued workflows
  send   ``POST /workflows/{id}/messages``
  admin  everything: read, send, cancel, resume, fork, enqueue
  ====== ============================================================================================

- ``PREFIX``, when given, restricts the token to workflows whose ID starts with it (lists are filtered to them;
  a fork or an enqueue must name a new ID under it); it cannot contain ``=``;
- ``SECRET`` is what clients send as ``Authorization: Bearer SECRET`` (or ``?access_token=SECRET`` on stream
  routes, for browsers' ``EventSource``, which cannot set headers).

A value without ``:`` before its first ``=`` is a bare secret: a full-access token named ``default``. Examples::

    dashboard:read=4f9c...                      read everything
    billing:read+send:invoice-=a81e...          read and message the workflows whose ID starts with invoice-
    ops:admin=0d3b...                           everything
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from tether.errors import ConfigError

SCOPES = ("read", "send", "admin")
STATE_KEY = "tether_token"
"""Where the guard leaves the authenticated :class:`Token` in the request's ``scope["state"]``."""

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


@dataclass(frozen=True)
class Token:
    """One accepted bearer token: ``name``, ``secret``, the ``scopes`` it grants, an optional ID ``prefix``."""

    name: str
    secret: str
    scopes: frozenset[str] = frozenset({"admin"})
    prefix: str | None = None

    def allows(self, scope: str) -> bool:
        """Whether this token grants ``scope`` (``admin`` grants every scope)."""
        return "admin" in self.scopes or scope in self.scopes

    def covers(self, workflow_id: str) -> bool:
        """Whether this token may touch the workflow ``workflow_id`` (its prefix, if any, starts it)."""
        return self.prefix is None or workflow_id.startswith(self.prefix)

    def describe(self) -> str:
        """``name (scopes[, IDs starting with prefix])``, for banners and messages; never the secret."""
        scopes = "+".join(s for s in SCOPES if s in self.scopes)
        where = "" if self.prefix is None else f", IDs starting with {self.prefix!r}"
        return f"{self.name} ({scopes}{where})"

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"Token({self.describe()})"


def parse_token(spec: str) -> Token:
    """A :class:`Token` from ``NAME:SCOPES[:PREFIX]=SECRET``, or from a bare secret (full access, ``default``).

    Raises:
        ConfigError: the spec is malformed: an empty secret, an unknown scope, a bad name.
    """
    head, eq, secret = spec.partition("=")
    if not eq or ":" not in head:
        if not spec.strip():
            raise ConfigError("A token must not be empty")
        return Token("default", spec)
    name, _, rest = head.partition(":")
    scope_text, _, prefix = rest.partition(":")
    if not name or not set(name) <= _NAME_CHARS:
        raise ConfigError(f"Token name {name!r} must be letters, digits, '_', '.' or '-' "
                          "(a token is NAME:SCOPES[:PREFIX]=SECRET)")
    scopes = frozenset(scope_text.split("+"))
    unknown = sorted(scopes - set(SCOPES))
    if unknown:
        raise ConfigError(f"Token {name!r}: unknown scope {unknown[0]!r}; scopes are read, send, admin "
                          "(joined by '+')")
    if not secret:
        raise ConfigError(f"Token {name!r} has an empty secret")
    return Token(name, secret, scopes, prefix or None)


def parse_tokens(text: str) -> list[Token]:
    """Tokens from text holding several specs separated by whitespace (as in ``$TETHER_TOKENS``).

    Raises:
        ConfigError: a spec is malformed, or two tokens share a name or a secret.
    """
    return check_unique([parse_token(part) for part in text.split()])


def check_unique(tokens: Iterable[Token]) -> list[Token]:
    """``tokens`` as a list, after checking that no two share a name or a secret.

    Raises:
        ConfigError: two tokens share a name or a secret.
    """
    out = list(tokens)
    names = [t.name for t in out]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"Two tokens are named {name!r}")
    if len({t.secret for t in out}) != len(out):
        raise ConfigError("Two tokens have the same secret")
    return out


def find_token(tokens: Iterable[Token], given: str | None) -> Token | None:
    """The token whose secret is ``given`` (compared in constant time), or None."""
    if not given:
        return None
    found = None
    raw = given.encode()
    for token in tokens:
        if hmac.compare_digest(raw, token.secret.encode()):
            found = token
    return found


