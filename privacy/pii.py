"""`Pii`: a wrapper for any value that could identify a person.

Formatting it (str, repr, f-strings, logging's %s) yields a mask, never the value, so a
stray log line or exception message cannot leak it. `.reveal()` is the one explicit way out.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


def mask_text(value: str, keep: int = 1) -> str:
    """Keep `keep` characters at each end of long values, star the rest."""
    if len(value) <= 2 * keep + 1:
        return "*" * len(value)
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


class Pii(Generic[T]):
    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value = value

    def reveal(self) -> T:
        return self._value

    def masked(self) -> str:
        return mask_text(str(self._value))

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"Pii({self.masked()!r})"

    def __format__(self, spec: str) -> str:
        return format(self.masked(), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pii) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
