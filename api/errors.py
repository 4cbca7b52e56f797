"""The handler for request validation errors (`ComityError`'s is in `api.app`).

Error bodies name the field and the problem, never the value (issue 19): FastAPI's default
422 body carries each error's `input` and `ctx`, which is how a phone number, a resident ID
or a whole 3.9 MB text came back to the caller and into whatever logs the caller keeps
(PIPL Art. 51: measures against leaks of personal information). Here only `loc`, `type`
and `msg` leave, and a `loc` or `msg` that would carry client data is replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")  # a field, parameter or header name
_UNKNOWN_FIELD = "(unknown field)"
_KEY = "(key)"
_SHORTEST_ECHO = 4  # a shorter value inside a message is a coincidence, not an echo


def _leaves(value: Any) -> Iterator[str]:
    """The client's scalars inside an error's `input`, as text."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _leaves(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _leaves(v)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _loc(error: dict[str, Any]) -> list[str | int]:
    """Field names and list indexes stay; a name the client made up (an unknown field, a
    dict key) is not ours to repeat."""
    parts = list(error.get("loc", ()))
    if error.get("type") == "extra_forbidden" and parts:
        parts[-1] = _UNKNOWN_FIELD
    return [p if isinstance(p, int) or (isinstance(p, str) and _NAME.match(p)) else _KEY
            for p in parts]


def _msg(error: dict[str, Any]) -> str:
    """Pydantic's own messages describe the rule; a validator's message could quote the
    value, and then the problem is named without it."""
    msg = str(error.get("msg", "invalid value"))
    if any(len(leaf) >= _SHORTEST_ECHO and leaf in msg for leaf in _leaves(error.get("input"))):
        return "invalid value"
    return msg


def safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors reduced to where (`loc`), which rule (`type`) and what (`msg`)."""
    return [{"loc": _loc(e), "type": str(e.get("type", "invalid")), "msg": _msg(e)}
            for e in errors]


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    """422 for a request that does not match the schema, without the values it carried."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(status_code=422, content={"detail": safe_errors(errors)})
