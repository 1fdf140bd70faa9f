"""The status and headers of the HTTP response (shared by every step of the request; the last
write wins). Outside an HTTP request the calls succeed and have no effect."""

from __future__ import annotations

from . import _component


def set_status(code: int) -> None:
    """Sets the status of a successful response (100..=599, else `Invalid`)."""
    _component.call(_component.resp.set_status, code)


def set_header(name: str, value: str) -> None:
    """Sets a response header, replacing any earlier value. `Invalid` for a name or value not
    valid in HTTP; `Denied` for the headers the host owns (`content-length`,
    `transfer-encoding`, `connection`, `x-request-id`)."""
    _component.call(_component.resp.set_header, name, value)
