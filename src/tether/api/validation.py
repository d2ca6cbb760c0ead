"""Checking a workflow's arguments when it runs from stored inputs (recovery, a queue, an enqueue from
another language): ``@DBOS.workflow(validate_args=...)`` and the pydantic-based validator.

A ``validate_args`` hook takes ``(args, kwargs)`` and returns them, possibly converted (a JSON list back into
a tuple, a dict into a model); whatever it raises ends the workflow in ERROR with that error.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

ValidateArgs = Callable[[tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]


def pydantic_args_validator(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Pass as ``validate_args``: the decorator replaces it with :func:`make_pydantic_args_validator` of the
    decorated function. Not meant to be called.

    Raises:
        NotImplementedError: always, when called directly.
    """
    raise NotImplementedError("pydantic_args_validator is a marker for @DBOS.workflow(validate_args=...); "
                              "use make_pydantic_args_validator(func) to get a callable validator")


def make_pydantic_args_validator(func: Callable[..., Any], *, skip_first: bool | None = None) -> ValidateArgs:
    """A ``validate_args`` hook that validates (and converts) each argument against ``func``'s type hints with
    pydantic. A method's ``self``/``cls`` is skipped (``skip_first``; by default when the first parameter is
    named ``self`` or ``cls``).

    Raises:
        ImportError: pydantic (2 or later) is not installed (``pip install tether[validation]``).
    """
    try:
        from pydantic import TypeAdapter
    except ImportError as exc:  # an optional dependency
        raise ImportError("pydantic_args_validator needs pydantic: pip install 'tether[validation]'") from exc

    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    if skip_first is None:
        skip_first = bool(params) and params[0].name in ("self", "cls")
    if skip_first:
        params = params[1:]
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable forward references: validate what can be resolved
        hints = {}
    adapters = {p.name: TypeAdapter(hints[p.name]) for p in params if p.name in hints}
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_args = next((p for p in params if p.kind is p.VAR_POSITIONAL), None)
    var_kwargs = next((p for p in params if p.kind is p.VAR_KEYWORD), None)

    def check(name: str, value: Any, hint_of: str | None = None) -> Any:
        adapter = adapters.get(hint_of or name)
        return adapter.validate_python(value) if adapter is not None else value

    def validate(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        out_args = []
        for i, value in enumerate(args):
            if i < len(positional):
                out_args.append(check(positional[i].name, value))
            else:
                out_args.append(check("", value, var_args.name) if var_args else value)
        named = {p.name for p in params}
        out_kwargs = {k: (check(k, v) if k in named else check("", v, var_kwargs.name) if var_kwargs else v)
                      for k, v in kwargs.items()}
        return tuple(out_args), out_kwargs

    return validate


def resolve(validate_args: ValidateArgs | None, func: Callable[..., Any]) -> ValidateArgs | None:
    """The hook to store for ``func``: the pydantic marker becomes a validator built for ``func``."""
    if validate_args is pydantic_args_validator:
        return make_pydantic_args_validator(func)
    return validate_args
