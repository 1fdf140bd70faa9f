"""The exceptions of the SDK.

Every one is a `RunError`: raised out of `run` (or left to propagate), it ends the step with its
`code` and `message`, as `?` does in the Rust SDK. Catch the narrower classes to handle a
failure instead.
"""

from __future__ import annotations

from typing import ClassVar


class RunError(Exception):
    """Ends the step: `code` becomes the HTTP status unless the Directive's `onErr` continues
    the sequence, and `message` is returned to the client."""

    def __init__(self, code: int, message: str) -> None:
        if not 0 <= code <= 0xFFFF:
            raise ValueError(f"a run error code is a u16, not {code}")
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"


class CapabilityError(RunError):
    """A failed capability call (`cap-error`). The subclass tells the case; `message` is the
    host's text, unchanged."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(self.status, message)


class Denied(CapabilityError):
    """The grants do not cover the call (403)."""

    status = 403


class NotFound(CapabilityError):
    """The thing asked for does not exist, e.g. an undeclared query (404)."""

    status = 404


class Invalid(CapabilityError):
    """The arguments are not acceptable (400)."""

    status = 400


class Unavailable(CapabilityError):
    """The backend could not be reached or did not answer in time; a retry may succeed (503)."""

    status = 503


class Other(CapabilityError):
    """Any other failure, with the backend's message (500)."""

    status = 500


class GraphQLError(RunError):
    """The GraphQL server answered with errors (502, their messages joined by `; `)."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(502, "; ".join(messages))
        self.messages = messages


class BatchError(RunError):
    """A statement of `sql.batch` failed and the batch was rolled back: `index` is the failing
    statement, `error` the capability error (whose code and message this error carries)."""

    def __init__(self, index: int, error: CapabilityError) -> None:
        super().__init__(error.code, error.message)
        self.index = index
        self.error = error
