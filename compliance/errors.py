"""One error base for the whole service; the API maps `status_code` to HTTP."""

from __future__ import annotations


class ComityError(Exception):
    """An error whose message is safe to show (never raw personal data)."""

    status_code: int = 400
    details: dict[str, object] = {}  # noqa: RUF012 - read-only default, replaced per instance

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code

    def __str__(self) -> str:
        return self.message


class NotFoundError(ComityError):
    status_code = 404


class ConflictError(ComityError):
    """The request contradicts what is recorded: a reused idempotency key, a request already
    decided, a run already completed."""

    status_code = 409


class InputError(ComityError):
    """Bad input, located: file, line and column where known."""

    status_code = 422

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | str | None = None,
    ) -> None:
        where = ":".join(str(p) for p in (file, line, column) if p is not None)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.line, self.column = file, line, column
