"""How ``tether serve`` and ``tether demo`` decide who may use them: tokens, loopback, Host and Origin lists.

- Tokens come from ``--token`` (repeatable), else ``$TETHER_TOKEN`` and ``$TETHER_TOKENS``; each is a bare secret
  (full access) or ``NAME:SCOPES[:PREFIX]=SECRET`` (see :mod:`tether.http.auth`).
- Without a token, a server on loopback starts with a warning; on any other address it refuses (exit 2) unless
  ``--insecure`` is given.
- The Host allow-list is ``--allow-host`` when given; else any host when tokens are set, else the loopback names
  and the ``--host`` address (any host for a wildcard address with ``--insecure``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from tether.http.guard import DEFAULT_MAX_BODY_BYTES, LOOPBACK_HOSTS, is_loopback
from tether.http.tokens import Token, check_unique, parse_token, parse_tokens

WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class RefusedError(Exception):
    """The server must not start as asked (a usage error: exit 2)."""


def add_serving_options(p: argparse.ArgumentParser) -> None:
    """The options ``serve`` and ``demo`` share."""
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--token", action="append", default=None, metavar="TOKEN",
                   help="accept this bearer token (repeatable): a bare secret has full access; "
                        "NAME:SCOPES[:PREFIX]=SECRET grants read, send or admin (joined by +), only for workflow "
                        "IDs starting with PREFIX if given (default: $TETHER_TOKEN and $TETHER_TOKENS)")
    p.add_argument("--insecure", action="store_true",
                   help="serve without any token on an address other than loopback (anyone who can reach it "
                        "can cancel, fork and message workflows)")
    p.add_argument("--allow-host", action="append", default=None, metavar="NAME",
                   help="serve requests whose Host header names NAME (repeatable; * for any); default: any "
                        "with tokens, else loopback names and --host")
    p.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                   help="let pages from this origin (https://app.example.com) make changing requests "
                        "(repeatable)")
    p.add_argument("--max-body-bytes", type=_positive, default=DEFAULT_MAX_BODY_BYTES, metavar="N",
                   help=f"refuse request bodies over N bytes (default {DEFAULT_MAX_BODY_BYTES})")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def tokens_from(args: argparse.Namespace) -> list[Token]:
    """The tokens asked for on the command line, else in the environment.

    Raises:
        ConfigError: a malformed token, or two with one name or secret.
    """
    if args.token:
        return check_unique(parse_token(spec) for spec in args.token)
    found = [parse_token(os.environ["TETHER_TOKEN"])] if os.environ.get("TETHER_TOKEN") else []
    return check_unique(found + parse_tokens(os.environ.get("TETHER_TOKENS", "")))


def allowed_hosts(args: argparse.Namespace, tokens: list[Token]) -> list[str]:
    """The Host names the server answers (see the module docstring)."""
    if args.allow_host:
        return list(args.allow_host)
    if tokens:
        return ["*"]
    host = args.host.strip("[]")
    if host in WILDCARD_HOSTS:
        return ["*"]
    return [*LOOPBACK_HOSTS, host]


def security_options(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The ``create_gateway`` / ``create_demo_app`` keyword arguments for ``args``.

    Raises:
        RefusedError: no token on an address other than loopback, and no ``--insecure``.
        ConfigError: a malformed token.
    """
    tokens = tokens_from(args)
    if not tokens and not is_loopback(args.host) and not args.insecure:
        raise RefusedError(
            f"tether {command} on {args.host} without a token would let anyone who can reach it cancel, fork "
            "and message workflows. Give --token (or $TETHER_TOKEN), or add --insecure if that is what you "
            "want.")
    return {"tokens": tokens, "allowed_hosts": allowed_hosts(args, tokens),
            "allowed_origins": list(args.allow_origin), "max_body_bytes": args.max_body_bytes}


def banner(command: str, args: argparse.Namespace, options: dict[str, Any]) -> tuple[str, list[str]]:
    """The line saying what is served where, and the notes (tokens) or warnings to show with it."""
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}"
    from tether.cli.commands import shown_url

    line = f"tether {command} on {url} (database {shown_url(args.db)}); dashboard at {url}/ui"
    tokens: list[Token] = options["tokens"]
    notes = []
    if tokens:
        notes.append("tokens: " + ", ".join(t.describe() for t in tokens))
    elif is_loopback(args.host):
        notes.append("warning: no token: any program on this machine can read, message, cancel and fork "
                     "workflows here (give --token to require one)")
    else:
        notes.append(f"warning: --insecure: anyone who can reach {url} can read, message, cancel and fork "
                     "workflows here")
    return line, notes
