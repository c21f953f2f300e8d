"""Domain and service exceptions; the web and API layers turn each into a message in one place."""
from __future__ import annotations


class HotlineError(Exception):
    """Base class: `message` is Chinese and shown to the user as is."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or {}


class ValidationFailed(HotlineError):
    """Input that cannot be accepted; `errors` maps field -> message."""

    code = "invalid"
    status = 422


class NotFound(HotlineError):
    """The thing does not exist, or the user may not know it exists."""

    code = "not_found"
    status = 404


class NotPermitted(HotlineError):
    """The user's role or unit may not do this."""

    code = "forbidden"
    status = 403


class InvalidTransition(HotlineError):
    """The action is not allowed from the ticket's current state."""

    code = "invalid_transition"
    status = 409


class Conflict(HotlineError):
    """Someone else changed the thing first."""

    code = "conflict"
    status = 409


class CalendarGap(HotlineError):
    """A year without an entered holiday schedule (used as a warning, not raised on hot paths)."""

    code = "calendar_gap"
    status = 409


class ImportFailed(ValidationFailed):
    """A file import with bad rows; `rows` lists (row number, reason); nothing was changed."""

    code = "import_failed"

    def __init__(self, message: str, rows: list[tuple[int, str]]):
        super().__init__(message)
        self.rows = rows
